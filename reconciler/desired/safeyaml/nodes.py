"""The values a read document is made of, and the bounds on reading it.

`YMap` (a dict) and `YList` (a list) carry the positions of their entries, so that any later
layer can point at `file:line:column`; scalars are plain `str`, `int`, `float`, `bool`, `None`.
`Parsed` is the outcome of reading one document; `Limits` bounds what one document may cost.
"""

from __future__ import annotations

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


class YMap(dict[str, Any]):
    """A mapping read from YAML. `mark`: where it starts; `entries[key]`: (key mark, value
    mark); `raw[key]`: the source text of a non-string plain scalar value (for hints)."""

    __slots__ = ("entries", "mark", "raw")

    mark: Mark
    entries: dict[str, tuple[Mark, Mark]]
    raw: dict[str, str] | None


class YList(list[Any]):
    """A sequence read from YAML. `mark`: where it starts; `marks[i]`: where item i starts;
    `raw[i]`: the source text of a non-string plain scalar item (for hints)."""

    __slots__ = ("mark", "marks", "raw")

    mark: Mark
    marks: list[Mark]
    raw: dict[int, str] | None


@dataclass
class Parsed:
    """The outcome of reading one document. `ok` is False when the value must not be used
    (a fatal syntax or safety error, or a rejected tag); `diagnostics` holds every problem."""

    value: Any
    diagnostics: list[Diagnostic] = field(default_factory=list)
    ok: bool = True
