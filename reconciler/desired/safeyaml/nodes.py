"""The values a read document is made of, and the bounds on reading it.

`YMap` (a dict) and `YList` (a list) carry the positions of their entries, packed into one
`bytes` each, so that any later layer can point at `file:line:column`; scalars are plain `str`,
`int`, `float`, `bool`, `None`.
`Parsed` is the outcome of reading one document; `Limits` bounds what one document may cost.
"""

from __future__ import annotations

import struct
from array import array
from dataclasses import dataclass, field
from typing import Any, Protocol

from reconciler.errors import Diagnostic


class Mark(Protocol):
    """A position from the parser: 0-based line and column, counted in characters."""

    line: int
    column: int


@dataclass(frozen=True)
class Limits:
    """Bounds on what one document may cost to read.

    `max_bytes`: size of a file (and of a rendered template). `max_depth`: nesting of
    mappings and sequences. `max_aliases`: alias uses in one document. `max_alias_nodes`:
    values that aliases may add by expansion, or ten times the values written out if that
    is more: a large honest file that merges `<<: *defaults` into every entry grows linearly
    and loads, while nested aliases ("billion laughs") grow geometrically and are stopped
    within a few levels.
    """

    max_bytes: int = 10 * 1024 * 1024
    max_depth: int = 64
    max_aliases: int = 100_000
    max_alias_nodes: int = 100_000


DEFAULT_LIMITS = Limits()


# Positions are kept packed, one unsigned 64-bit integer each (`line << 32 | column`, both
# 0-based), eight bytes a position in one `bytes` per container, where a parser mark with a
# tuple around it cost about 250 (a 10,000-resource file held ~25 MB of them). While a
# container is being built they are an `array`, made `bytes` (no spare room) when it closes.
# They are unpacked only for a value that gets a diagnostic.
_SHIFT = 32
_COLUMN = (1 << _SHIFT) - 1
_PACKED = struct.Struct("=Q")
NO_POS = (1 << 64) - 1  # no known position (the empty document): shown as line 1, column 1


def position_at(pos: bytes, index: int) -> int:
    """The packed position at `index` of a container's positions."""
    value: int = _PACKED.unpack_from(pos, 8 * index)[0]
    return value


def packed(*positions: int) -> bytes:
    """Packed positions as a container keeps them."""
    return array("Q", positions).tobytes()


def pack(mark: Mark) -> int:
    """A parser mark (or anything with 0-based `line` and `column`) as one packed position."""
    return mark.line << _SHIFT | mark.column


def pack_at(line: int, column: int) -> int:
    return line << _SHIFT | column


def unpack(position: int) -> tuple[int, int] | None:
    """(line, column), 0-based, of a packed position; None for `NO_POS`."""
    if position == NO_POS:
        return None
    return position >> _SHIFT, position & _COLUMN


class YMap(dict[str, Any]):
    """A mapping read from YAML. `pos` holds packed positions (see `pack`, `position_at`):
    position 0, where it starts; for the i-th key in the mapping's order, position 1 + 2*i,
    where the key is written, and 2 + 2*i, where its value starts. The order of `pos` follows
    the dict's own, which every writer keeps: a key is only ever added at the end (a duplicate
    key replaces its value in place).
    `raw[key]`: the source text of a non-string plain scalar value (for hints). `order`: the
    place of each key in `pos`, made on the first lookup in a large mapping (unset until then);
    a pruned copy shares the positions of its original and holds the original's order."""

    __slots__ = ("order", "pos", "raw")

    pos: bytes
    raw: dict[str, str] | None
    order: dict[str, int]


class YList(list[Any]):
    """A sequence read from YAML. `pos` holds packed positions (see `pack`, `position_at`):
    position 0, where it starts; 1 + i, where item i starts. `raw[i]`: the source text of a
    non-string plain scalar item."""

    __slots__ = ("pos", "raw")

    pos: bytes
    raw: dict[int, str] | None


def new_map(position: int = NO_POS) -> YMap:
    """An empty YMap that starts at `position`."""
    node = YMap()
    node.pos = packed(position)
    node.raw = None
    return node


def new_list(position: int = NO_POS) -> YList:
    """An empty YList that starts at `position`."""
    node = YList()
    node.pos = packed(position)
    node.raw = None
    return node


def release(value: Any, *, deep: bool = True) -> None:
    """Empty every container of a read document, positions included (with `deep` False, only
    `value` itself: what it holds is freed unless something else holds it too).

    For the end of a load, when every value has been copied out: whatever may still hold a
    part of the document (a diagnostic's closure, a declaration) then holds an empty shell, and
    the rest is freed at once instead of at exit. The containers are emptied, not dropped, so
    that no reference left anywhere can keep the document alive."""
    empty = b""
    stack = [value]
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is YMap:
            if deep:
                stack.extend(node.values())
        elif kind is YList:
            if deep:
                stack.extend(node)
        else:
            continue
        node.clear()
        node.pos = empty
        node.raw = None


@dataclass
class Parsed:
    """The outcome of reading one document. `ok` is False when the value must not be used
    (a fatal syntax or safety error, or a rejected tag); `diagnostics` holds every problem."""

    value: Any
    diagnostics: list[Diagnostic] = field(default_factory=list)
    ok: bool = True
