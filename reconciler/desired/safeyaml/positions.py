"""Positions in a read document: `file:line:column` of a key, a value or a path, moved back to
the template a document was rendered from, and kept through pruning.

Parser marks are 0-based; every `Location` handed out is 1-based, as editors count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from reconciler.desired.safeyaml.nodes import Mark, YList, YMap
from reconciler.errors import Location


def location(file: str, mark: Mark | None) -> Location:
    """A 1-based Location from a parser mark (0-based)."""
    if mark is None:
        return Location(file, 1, 1)
    return Location(file, mark.line + 1, mark.column + 1)


def container_location(file: str, value: Any) -> Location:
    """Where a YMap or YList starts; line 1 for anything else (e.g. an empty document)."""
    mark = getattr(value, "mark", None)
    return location(file, mark)


def key_location(file: str, mapping: Any, key: str) -> Location:
    """Where `key` is written in `mapping`; the mapping's start if unknown (e.g. merged in)."""
    entries = getattr(mapping, "entries", None)
    if entries is not None and key in entries:
        return location(file, entries[key][0])
    return container_location(file, mapping)


def value_location(file: str, mapping: Any, key: str) -> Location:
    """Where the value of `key` starts in `mapping`."""
    entries = getattr(mapping, "entries", None)
    if entries is not None and key in entries:
        return location(file, entries[key][1])
    return container_location(file, mapping)


def item_location(file: str, sequence: Any, index: int) -> Location:
    """Where item `index` of `sequence` starts; the sequence's start if unknown."""
    marks = getattr(sequence, "marks", None)
    if marks is not None and 0 <= index < len(marks):
        return location(file, marks[index])
    return container_location(file, sequence)


def locate(file: str, root: Any, path: Sequence[str | int]) -> Location:
    """The position of the value at `path` below `root`.

    A container value that is the value of a key is located at its key (`config:` rather
    than the first line inside it), which is where a reader looks for "this field".
    """
    node = root
    here = container_location(file, root)
    for segment in path:
        if isinstance(node, YMap) and isinstance(segment, str) and segment in node:
            child = node[segment]
            if isinstance(child, (YMap, YList)):
                here = key_location(file, node, segment)
            else:
                here = value_location(file, node, segment)
            node = child
        elif isinstance(node, YList) and isinstance(segment, int) and 0 <= segment < len(node):
            here = item_location(file, node, segment)
            node = node[segment]
        else:
            break
    return here


def raw_text(container: Any, key: str | int) -> str | None:
    """The source text of a non-string plain scalar (e.g. `0600` for the integer 600)."""
    raw = getattr(container, "raw", None)
    if raw is None:
        return None
    value = raw.get(key)
    return value if isinstance(value, str) else None


class SourceMapping(Protocol):
    """Leads positions in parsed text back to the source that produced it (a template)."""

    def position(self, line: int, column: int) -> tuple[int, int]:
        """The source (line, column) of a (line, column) of the parsed text, all 0-based."""
        ...

    def text(self, line: int, column: int, length: int) -> str | None:
        """The source text that produced the `length` characters at (line, column)."""
        ...


@dataclass(frozen=True, slots=True)
class Pos:
    """A position (0-based) that is not a parser mark: one moved back to a template's line."""

    line: int
    column: int


def relocate(value: Any, mapping: SourceMapping) -> None:
    """Move every position in the tree below `value` from the parsed text to the source that
    produced it, and with it the source text of non-string scalars (so that a hint quotes
    `{{ port }}` where the template wrote that, not the `5432` it rendered to)."""
    moved: dict[int, Pos] = {}
    originals: list[Mark] = []  # keeps every mark alive, so that no id is reused meanwhile

    def move(mark: Mark | None) -> Any:
        if mark is None:
            return None
        key = id(mark)
        if key not in moved:
            originals.append(mark)
            moved[key] = Pos(*mapping.position(mark.line, mark.column))
        return moved[key]

    def source_of(raw: dict[Any, str] | None, marks: Mapping[Any, Mark]) -> None:
        for key, text in list((raw or {}).items()):
            mark = marks.get(key)
            if mark is not None:
                raw[key] = mapping.text(mark.line, mark.column, len(text)) or text  # type: ignore[index]

    seen: set[int] = set()
    stack = [value]
    while stack:
        node = stack.pop()
        if not isinstance(node, (YMap, YList)) or id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, YMap):
            entries = node.entries
            source_of(node.raw, {key: value_mark for key, (_, value_mark) in entries.items()})
            node.entries = {key: (move(k), move(v)) for key, (k, v) in entries.items()}
            stack.extend(node.values())
        else:
            marks = node.marks
            source_of(node.raw, dict(enumerate(marks)))
            node.marks = [move(m) for m in marks]
            stack.extend(node)
        node.mark = move(node.mark)


def pruned(value: Any, paths: Sequence[Sequence[str | int]]) -> Any:
    """A copy of `value` without the values at `paths` (keys of mappings; list items keep their
    places, so that positions stay right, and are left as they are). Only the containers on
    the way to a removed value are copied; positions are kept."""
    if not paths:
        return value
    if isinstance(value, YMap):
        heads: dict[str, list[Sequence[str | int]]] = {}
        for path in paths:
            if path and isinstance(path[0], str):
                heads.setdefault(path[0], []).append(path[1:])
        copy = YMap()
        copy.entries, copy.mark, copy.raw = value.entries, value.mark, value.raw
        for key, item in value.items():
            rest = heads.get(key)
            if rest is None:
                copy[key] = item
            elif all(rest):
                copy[key] = pruned(item, rest)
        return copy
    if isinstance(value, YList):
        inner: dict[int, list[Sequence[str | int]]] = {}
        for path in paths:
            if len(path) > 1 and isinstance(path[0], int):
                inner.setdefault(path[0], []).append(path[1:])
        items = YList(pruned(item, inner[i]) if i in inner else item for i, item in enumerate(value))
        items.marks, items.mark, items.raw = value.marks, value.mark, value.raw
        return items
    return value


def byte_location(file: str, data: bytes, offset: int) -> Location:
    """The 1-based line and column (in characters) of a byte offset into UTF-8 data."""
    head = data[:offset]
    line = head.count(b"\n") + 1
    last = head.rfind(b"\n")
    column = len(head[last + 1 :].decode("utf-8", "replace")) + 1
    return Location(file, line, column)
