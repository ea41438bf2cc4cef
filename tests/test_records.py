"""`records.quick_init`: the same construction as the dataclass's own `__init__`, still frozen."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from reconciler.errors import Location
from reconciler.model import Address, LiveResource, Resource, ResourceKind
from reconciler.records import quick_init


def _sample() -> type[Any]:
    """A new class with a field of each kind `quick_init` handles: plain, defaulted, made by a
    factory, keyword-only."""

    @dataclasses.dataclass(frozen=True, slots=True)
    class Sample:
        a: int
        b: str = "b"
        c: list[int] = dataclasses.field(default_factory=list)
        d: int = dataclasses.field(default=4, kw_only=True)

    return Sample


Sample = quick_init(_sample())
Reference = _sample()


def _fields(value: Any) -> tuple[Any, ...]:
    return tuple(getattr(value, f.name) for f in dataclasses.fields(value))


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((1,), {}), ((1, "x"), {}), ((1, "x", [2]), {"d": 7}), ((), {"a": 1, "c": [3], "b": "y"})],
)
def test_construction_stores_what_the_dataclass_init_stores(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    assert _fields(Sample(*args, **kwargs)) == _fields(Reference(*args, **kwargs))


def test_each_instance_gets_its_own_default_from_the_factory() -> None:
    first, second = Sample(1), Sample(2)
    assert (first.c, first.c is second.c) == ([], False)


def test_the_signature_refuses_what_the_dataclass_refuses() -> None:
    with pytest.raises(TypeError):
        Sample(1, "x", [], 5)


def test_instances_stay_frozen() -> None:
    value = Location("f.yaml", 1, 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        value.line = 3  # type: ignore[misc]


def test_the_model_records_equal_hash_and_order_as_before() -> None:
    a = Address(ResourceKind.MODEL, "orkes", ("p",), "m")
    b = Address(ResourceKind.MODEL, "orkes", ("p",), "m")
    assert (a == b, hash(a) == hash(b), str(a)) == (True, True, "model.orkes.p.m")
    assert sorted([Location("f", 3, 1), Location("f", 1, 9)]) == [Location("f", 1, 9), Location("f", 3, 1)]
    live = LiveResource(a, "id", {"x": 1}, managed=True)
    assert (live.managed, live.owner, live.body) == (True, "", {"x": 1})
    assert Resource(a, {}).lifecycle.prevent_destroy is False


def test_a_keyword_only_field_declared_first_stays_keyword_only() -> None:
    def mixed() -> type[Any]:
        @dataclasses.dataclass(frozen=True, slots=True)
        class Mixed:
            a: int = dataclasses.field(kw_only=True)
            b: int = 2

        return Mixed

    Mixed, Plain = quick_init(mixed()), mixed()
    assert (_fields(Mixed(5, a=1)), _fields(Mixed(a=1))) == (_fields(Plain(5, a=1)), _fields(Plain(a=1)))


def test_a_class_it_cannot_speed_up_is_refused() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        a: int

        def __post_init__(self) -> None:
            pass

    @dataclasses.dataclass(slots=True)
    class Mutable:
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class WithInitVar:
        a: int
        scale: dataclasses.InitVar[int] = 1

    with pytest.raises(TypeError, match="more than store"):
        quick_init(Checked)
    with pytest.raises(TypeError, match="more than store"):
        quick_init(WithInitVar)
    with pytest.raises(TypeError, match="not a frozen dataclass"):
        quick_init(Mutable)
