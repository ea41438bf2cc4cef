"""Positions in a read document: `file:line:column` of a key, a value or a path, moved back to
the template a document was rendered from, and kept through pruning.

Parser marks and packed positions (`nodes.pack`) are 0-based; every `Location` handed out is
1-based, as editors count.
"""

from __future__ import annotations

import operator
from array import array
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from reconciler.desired.safeyaml.nodes import NO_POS, Mark, YList, YMap, pack_at, packed, position_at, unpack
from reconciler.errors import Location


def location(file: str, mark: Mark | None) -> Location:
    """A 1-based Location from a parser mark (0-based)."""
    if mark is None:
        return Location(file, 1, 1)
    return Location(file, mark.line + 1, mark.column + 1)


def position_location(file: str, position: int) -> Location:
    """A 1-based Location from a packed position (see `nodes.pack`)."""
    at = unpack(position)
    if at is None:
        return Location(file, 1, 1)
    return Location(file, at[0] + 1, at[1] + 1)


def container_location(file: str, value: Any) -> Location:
    """Where a YMap or YList starts; line 1 for anything else (e.g. an empty document)."""
    pos = getattr(value, "pos", None)
    if not pos:
        return Location(file, 1, 1)
    return position_location(file, position_at(pos, 0))


# Mappings up to this size are searched for a key; larger ones get an index on first use, so
# that a diagnostic for each key of a large mapping does not cost a search each.
_SEARCHED = 32


def key_index(mapping: YMap, key: str) -> int | None:
    """The place of `key` in the order of the positions of `mapping` (its own order, or that of
    the mapping it was pruned from); None if unknown. For a read document only: a mapping
    still being built may be searched with `operator.indexOf`."""
    order: dict[str, int] | None = getattr(mapping, "order", None)
    if order is not None:
        return order.get(key)
    if key not in mapping:
        return None
    if len(mapping) <= _SEARCHED:
        return operator.indexOf(mapping, key)
    order = mapping.order = {k: i for i, k in enumerate(mapping)}
    return order[key]


def _entry(mapping: Any, key: str, which: int) -> int | None:
    """The packed position of a key (`which` 1) or of its value (2); None if unknown."""
    if not isinstance(mapping, YMap):
        return None
    pos: bytes | None = getattr(mapping, "pos", None)
    index = key_index(mapping, key)
    if pos is None or index is None or 2 * index + which >= len(pos) // 8:
        return None
    return position_at(pos, 2 * index + which)


def key_location(file: str, mapping: Any, key: str) -> Location:
    """Where `key` is written in `mapping`; the mapping's start if unknown."""
    position = _entry(mapping, key, 1)
    if position is None:
        return container_location(file, mapping)
    return position_location(file, position)


def value_location(file: str, mapping: Any, key: str) -> Location:
    """Where the value of `key` starts in `mapping`."""
    position = _entry(mapping, key, 2)
    if position is None:
        return container_location(file, mapping)
    return position_location(file, position)


def item_location(file: str, sequence: Any, index: int) -> Location:
    """Where item `index` of `sequence` starts; the sequence's start if unknown."""
    pos = getattr(sequence, "pos", None)
    if pos is not None and 0 <= index < len(pos) // 8 - 1:
        return position_location(file, position_at(pos, 1 + index))
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


def relocate(value: Any, mapping: SourceMapping) -> None:
    """Move every position in the tree below `value` from the parsed text to the source that
    produced it, and with it the source text of non-string scalars (so that a hint quotes
    `{{ port }}` where the template wrote that, not the `5432` it rendered to)."""
    moved: dict[int, int] = {NO_POS: NO_POS}

    def move(position: int) -> int:
        found = moved.get(position)
        if found is None:
            line, column = position >> 32, position & 0xFFFFFFFF
            found = moved[position] = pack_at(*mapping.position(line, column))
        return found

    def source_of(raw: dict[Any, str] | None, positions: Mapping[Any, int]) -> None:
        for key, text in list((raw or {}).items()):
            position = positions.get(key)
            if position is not None and position != NO_POS:
                line, column = position >> 32, position & 0xFFFFFFFF
                raw[key] = mapping.text(line, column, len(text)) or text  # type: ignore[index]

    seen: set[int] = set()
    stack = [value]
    while stack:
        node = stack.pop()
        if not isinstance(node, (YMap, YList)) or id(node) in seen:
            continue
        seen.add(id(node))
        pos = array("Q", node.pos)
        if isinstance(node, YMap):
            if node.raw:
                source_of(node.raw, {key: pos[2 + 2 * i] for i, key in enumerate(node) if 2 + 2 * i < len(pos)})
            stack.extend(node.values())
        else:
            if node.raw:
                source_of(node.raw, {i: pos[1 + i] for i in range(len(pos) - 1)})
            stack.extend(node)
        node.pos = packed(*map(move, pos))


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
        # The positions stay those of the original, found through its order: a key that was
        # pruned away is still located where it was written.
        copy.pos, copy.raw, copy.order = value.pos, value.raw, {k: i for i, k in enumerate(value)}
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
        items.pos, items.raw = value.pos, value.raw
        return items
    return value


def byte_location(file: str, data: bytes, offset: int) -> Location:
    """The 1-based line and column (in characters) of a byte offset into UTF-8 data."""
    head = data[:offset]
    line = head.count(b"\n") + 1
    last = head.rfind(b"\n")
    column = len(head[last + 1 :].decode("utf-8", "replace")) + 1
    return Location(file, line, column)
