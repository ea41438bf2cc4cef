"""Quicker construction of the frozen, slotted dataclasses that a large plan makes by the
hundred thousand (addresses, locations, live resources, changes).

A frozen dataclass's generated `__init__` sets each field through `object.__setattr__`,
looked up and called once per field: about 0.8 µs for seven fields, against 0.17 µs for the
same class unfrozen. `quick_init` gives such a class an `__init__` with the same signature,
defaults and default factories that stores each field through its slot's own descriptor,
fetched once when the class is made (0.46 µs). The class stays frozen: assigning a field
still raises `FrozenInstanceError`, and equality, hashing, ordering and `repr` are the
dataclass's own.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, TypeVar

T = TypeVar("T", bound=type)

_NO_VALUE = object()


def quick_init(cls: T) -> T:
    """`cls` (a frozen dataclass with `__slots__`) with the quicker `__init__`, its parameters
    in the order and of the kinds of the dataclass's own. A class with `__post_init__`,
    `InitVar`s or fields left out of `__init__` is refused: the generated one would do more
    than store the fields."""
    if not getattr(getattr(cls, "__dataclass_params__", None), "frozen", False):
        raise TypeError(f"{cls.__name__} is not a frozen dataclass")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    # The generated __init__'s own parameters: keyword-only ones come last whatever the order
    # of the fields, and an InitVar is a parameter that is no field.
    params = list(inspect.signature(cls).parameters.values())
    if (
        hasattr(cls, "__post_init__")
        or any(not f.init for f in fields.values())
        or sorted(p.name for p in params) != sorted(fields)
    ):
        raise TypeError(f"{cls.__name__}'s __init__ does more than store its fields")
    names: dict[str, Any] = {"_NO_VALUE": _NO_VALUE}
    signature: list[str] = []
    lines: list[str] = []
    for param in params:
        f = fields[param.name]
        if param.kind is inspect.Parameter.KEYWORD_ONLY and "*" not in signature:
            signature.append("*")
        if f.default is not dataclasses.MISSING:
            names[f"_default_{f.name}"] = f.default
            signature.append(f"{f.name}=_default_{f.name}")
        elif f.default_factory is not dataclasses.MISSING:
            names[f"_factory_{f.name}"] = f.default_factory
            signature.append(f"{f.name}=_NO_VALUE")
            lines.append(f"    if {f.name} is _NO_VALUE: {f.name} = _factory_{f.name}()")
        else:
            signature.append(f.name)
        slot = cls.__dict__.get(f.name)
        if slot is None or not hasattr(slot, "__set__"):
            raise TypeError(f"{cls.__name__}.{f.name} is not a slot")
        names[f"_set_{f.name}"] = slot.__set__
        lines.append(f"    _set_{f.name}(self, {f.name})")
    source = f"def __init__(self, {', '.join(signature)}):\n" + "\n".join(lines or ["    pass"]) + "\n"
    exec(source, names)  # text made from the class's own field names
    init = names["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    cls.__init__ = init  # type: ignore[misc]
    return cls
