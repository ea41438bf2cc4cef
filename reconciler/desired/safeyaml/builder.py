"""The document builder: libyaml's event stream of one document -> YMap / YList / scalars.

Built from events rather than through PyYAML's composer and constructor, because that is
where every safety rule is enforced in one pass: only standard tags, no duplicate keys,
bounded aliases (count and expansion: a "billion laughs" document fails at once; an alias
inside its own anchor is an error), nesting depth bounded before anything recurses, merge
keys (`<<: *defaults`, explicit keys win).

`Builder.run` is the loop that runs once per value of a 10,000-resource file: it keeps the
open container in local variables and handles the common case (a string placed under a new
key or at the end of a list) without a call; everything else goes through a small method.
"""

from __future__ import annotations

import operator
from array import array
from typing import Any

from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

from reconciler.desired.safeyaml import scalars
from reconciler.desired.safeyaml.errors import TAG_HINT, Fatal, tag_problem, too_deep_diagnostic
from reconciler.desired.safeyaml.nodes import Limits, Mark, Parsed, YList, YMap, pack, unpack
from reconciler.desired.safeyaml.positions import location, position_location, raw_text
from reconciler.errors import error

_MERGE = "\0<<"  # the pending key of a `<<` entry (no YAML key can hold a NUL)


class Builder:
    """Builds one document. Values are counted as `scalars` (kept by `run`, passed in where
    needed) + `containers` + `expanded` (what aliases added): `total` values in all, of which
    `scalars + containers` are written out in the text."""

    def __init__(self, file: str, limits: Limits, result: Parsed) -> None:
        self.file = file
        self.limits = limits
        self.result = result
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.open_anchors: set[str] = set()
        # The open containers, innermost last: (container, its positions being built, whether it is
        # a mapping, the anchor it will be known by, the value count when it started).
        self.stack: list[tuple[Any, array[int], bool, str | None, int]] = []
        # The `<<` entries of open mappings, to merge when they close, by id() of the mapping.
        self.merges: dict[int, list[tuple[Any, Mark]]] = {}
        self.root: Any = None
        self.documents = 0
        self.containers = 0
        self.expanded = 0
        self.alias_uses = 0

    def fatal(self, code: str, message: str, mark: Mark | None, hint: str | None = None) -> Fatal:
        return Fatal(error(code, message, location=location(self.file, mark), hint=hint))

    def problem(self, code: str, message: str, mark: Mark | None, hint: str | None = None) -> None:
        """A non-fatal error that still makes the document unusable."""
        self.result.diagnostics.append(error(code, message, location=location(self.file, mark), hint=hint))
        self.result.ok = False

    def run(self, parser: Any) -> Any:
        """Build the document; its value (None for an empty one)."""
        get = parser.get_event
        special = scalars.SPECIAL_FIRST
        merge = _MERGE
        # Keys, and short string values, are interned: the same few are written once per
        # resource.
        keys: dict[str, str] = {}
        intern = keys.setdefault
        # The open container, its position array, whether it is a mapping, and the key waiting
        # for its value with where that key was written (packed, see `nodes.pack`).
        cur: Any = None
        pos: Any = None
        is_map = False
        key: str | None = None
        key_pos = 0
        count = 0  # scalars so far, keys included
        while True:
            event = get()
            kind = type(event)
            if kind is ScalarEvent:
                count += 1
                text = event.value
                if is_map and key is None:
                    if event.tag is None and text != "<<":
                        key = intern(text, text)
                        mark = event.start_mark
                        key_pos = mark.line << 32 | mark.column
                    else:
                        key, key_pos = self.tagged_key(event)
                    continue
                if (
                    event.tag is None
                    and event.anchor is None
                    and text
                    and (text[0] not in special or not event.implicit[0])
                ):
                    # A string: quoted, or plain and not starting like a number or a constant.
                    # A short one is interned with the keys: a large file repeats the same
                    # few values (a server's name, a type, a tag, a port) in every resource.
                    text = intern(text, text) if len(text) <= 16 else text
                    if is_map and key is not merge and key not in cur and cur.raw is None:
                        cur[key] = text
                        mark = event.start_mark
                        pos.append(key_pos)
                        pos.append(mark.line << 32 | mark.column)
                        key = None
                        continue
                    if not is_map and cur is not None:
                        cur.append(text)
                        mark = event.start_mark
                        pos.append(mark.line << 32 | mark.column)
                        continue
                    self.place(cur, key, key_pos, text, event.start_mark, None)
                else:
                    value, raw = self.scalar(event)
                    self.place(cur, key, key_pos, value, event.start_mark, raw)
                key = None
            elif kind is MappingStartEvent or kind is SequenceStartEvent:
                cur, pos, is_map = self.open(event, cur, key, key_pos, count)
                key = None
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                cur, pos, is_map = self.close(count)
            elif kind is AliasEvent:
                key, key_pos = self.alias(event, cur, key, key_pos, count)
            elif self.other(event):
                return self.root

    def tagged_key(self, event: Any) -> tuple[str, int]:
        """A key with a tag, or written `<<` (a merge key unless quoted or tagged), and where it
        is written."""
        tag = event.tag
        if tag is not None and tag != "!" and tag not in scalars.SCALAR_TAGS:
            self.problem(*tag_problem(tag), event.start_mark, hint=TAG_HINT)
        text = event.value
        key = _MERGE if (text == "<<" and tag is None and event.implicit[0]) else text
        return key, pack(event.start_mark)

    def scalar(self, event: Any) -> tuple[Any, str | None]:
        """The value of a scalar that may not be a string, and its source text when it is not
        a string (`0600` for 600, kept for hints); remembers its anchor."""
        text, tag = event.value, event.tag
        raw = None
        if tag is not None:
            value = self.tagged_scalar(tag, text, event.start_mark)
        elif not event.implicit[0]:
            value = text
        else:
            value = scalars.plain(text)
            if value is not None and type(value) is not str:
                raw = text
        if event.anchor is not None:
            self.anchors[event.anchor] = (value, 1)
        return value, raw

    def tagged_scalar(self, tag: str, text: str, mark: Mark) -> Any:
        if tag == "!":
            return text
        if tag not in scalars.SCALAR_TAGS:
            self.problem(*tag_problem(tag), mark, hint=TAG_HINT)
            return None
        value = scalars.tagged(tag, text)
        if value is scalars.BAD:
            self.problem("yaml.bad-tagged-value", f"the value is not a valid {scalars.show_tag(tag)}", mark)
            return None
        return value

    def place(self, cur: Any, key: str | None, key_pos: int, value: Any, mark: Mark, raw: str | None) -> None:
        """Put a value where the document is: under the pending key, at the end of the open
        list, or as the root."""
        if type(cur) is YMap:
            self.place_in_map(cur, key, key_pos, value, mark, raw)  # type: ignore[arg-type]
        elif cur is not None:
            if raw is not None:
                if cur.raw is None:
                    cur.raw = {}
                cur.raw[len(cur)] = raw
            cur.append(value)
            self.stack[-1][1].append(pack(mark))
        else:
            self.root = value

    def place_in_map(self, cur: YMap, key: str, key_pos: int, value: Any, mark: Mark, raw: str | None) -> None:
        """Put a value under a key, with the uncommon cases: `<<`, duplicates, raw text."""
        if key is _MERGE:
            self.merges.setdefault(id(cur), []).append((value, mark))
            return
        if key in cur:
            # A duplicate keeps its place in the mapping's order, with the later positions.
            positions = self.stack[-1][1]
            at = 1 + 2 * operator.indexOf(cur, key)
            first = unpack(positions[at]) or (0, 0)
            self.result.diagnostics.append(
                error(
                    "yaml.duplicate-key",
                    f"duplicate key {key!r} (first written at line {first[0] + 1}, "
                    f"column {first[1] + 1}); the later value would silently win",
                    location=position_location(self.file, key_pos),
                    hint="remove one of the two entries",
                )
            )
            cur[key] = value
            positions[at] = key_pos
            positions[at + 1] = pack(mark)
        else:
            cur[key] = value
            positions = self.stack[-1][1]
            positions.append(key_pos)
            positions.append(pack(mark))
        if raw is not None:
            if cur.raw is None:
                cur.raw = {}
            cur.raw[key] = raw
        elif cur.raw is not None:
            cur.raw.pop(key, None)

    def open(self, event: Any, cur: Any, key: str | None, key_pos: int, count: int) -> tuple[Any, Any, bool]:
        """A new mapping or list, placed and pushed as the open container (which is returned
        with its position table and whether it is a mapping); checked for its depth, its tag,
        and its place (a mapping or a list cannot be a key)."""
        mark = event.start_mark
        if type(cur) is YMap and key is None:
            raise self.fatal(
                "yaml.complex-key",
                "a mapping key must be a plain value, not a mapping or a list",
                mark,
                hint="write the key as a string",
            )
        max_depth = self.limits.max_depth
        if len(self.stack) >= max_depth:
            raise Fatal(too_deep_diagnostic(self.file, mark, max_depth))
        is_map = type(event) is MappingStartEvent
        tag = event.tag
        if tag is not None and tag != "!" and tag != (scalars.MAP if is_map else scalars.SEQ):
            self.problem(*tag_problem(tag), mark, hint=TAG_HINT)
        new: Any = YMap() if is_map else YList()
        here = mark.line << 32 | mark.column
        pos = array("Q", (here,))
        new.raw = None
        # The common cases inline, without the calls of `place`.
        if type(cur) is YMap and key is not _MERGE and key not in cur and cur.raw is None:
            cur[key] = new  # type: ignore[index]
            parent = self.stack[-1][1]
            parent.append(key_pos)
            parent.append(here)
        elif type(cur) is YList:
            cur.append(new)
            self.stack[-1][1].append(here)
        else:
            self.place(cur, key, key_pos, new, mark, None)
        self.containers += 1
        anchor = event.anchor
        if anchor is not None:
            self.open_anchors.add(anchor)
        self.stack.append((new, pos, is_map, anchor, count + self.containers + self.expanded - 1))
        return new, pos, is_map

    def close(self, count: int) -> tuple[Any, Any, bool]:
        """Close the open container: apply its merges, define its anchor; the container that
        is open again (None at the top)."""
        container, pos, _, anchor, start = self.stack.pop()
        if self.merges:
            merges = self.merges.pop(id(container), None)
            if merges is not None:
                self.merge(container, pos, merges)
        container.pos = pos.tobytes()
        if anchor is not None:
            self.open_anchors.discard(anchor)
            self.anchors[anchor] = (container, count + self.containers + self.expanded - start)
        if not self.stack:
            return None, None, False
        top = self.stack[-1]
        return top[0], top[1], top[2]

    def alias(self, event: Any, cur: Any, key: str | None, key_pos: int, count: int) -> tuple[Any, int]:
        """Repeat an anchored value where the alias is, within the alias bounds; the pending
        key afterwards (the alias itself when it is a key)."""
        name = event.anchor
        mark = event.start_mark
        if name in self.open_anchors:
            raise self.fatal(
                "yaml.recursive-alias",
                f"alias *{name} refers to a value that contains it",
                mark,
                hint="an alias may only repeat a value that is complete before it",
            )
        if name not in self.anchors:
            raise self.fatal("yaml.undefined-alias", f"alias *{name} has no anchor &{name} before it", mark)
        value, size = self.anchors[name]
        self.count_alias(size, count, mark)
        if type(cur) is not YMap:
            self.place(cur, key, key_pos, value, mark, None)
            return None, 0
        if key is not None:
            self.place_in_map(cur, key, key_pos, value, mark, None)
            return None, 0
        if not isinstance(value, str):
            raise self.fatal(
                "yaml.complex-key",
                "a mapping key must be a plain value, not an alias of a mapping or a list",
                mark,
            )
        return value, pack(mark)

    def count_alias(self, size: int, count: int, mark: Mark) -> None:
        """Account for one alias use that adds `size` values; stop a document past the bounds."""
        limits = self.limits
        self.alias_uses += 1
        self.expanded += size
        if self.alias_uses > limits.max_aliases:
            raise self.fatal("yaml.too-many-aliases", f"more than {limits.max_aliases} aliases in one document", mark)
        cap = max(limits.max_alias_nodes, 10 * (count + self.containers))
        if self.expanded > cap:
            raise self.fatal(
                "yaml.alias-bomb",
                f"aliases expand to more than {cap} values; the document is refused "
                "(a 'billion laughs' pattern)",
                mark,
                hint="write the values out, or use fewer nested aliases",
            )

    def other(self, event: Any) -> bool:
        """The events around the values; True at the end of the stream."""
        if type(event) is DocumentStartEvent:
            self.documents += 1
            if self.documents > 1:
                raise self.fatal(
                    "yaml.multiple-documents",
                    "the file holds more than one YAML document (a second `---`)",
                    event.start_mark,
                    hint="put each document in its own file; a directory of files loads as one",
                )
        return type(event) is StreamEndEvent

    def merge(self, target: YMap, positions: array[int], merges: list[tuple[Any, Mark]]) -> None:
        """Apply `<<` entries: merged keys fill in what the mapping does not set itself, and an
        earlier mapping in a `<<: [*a, *b]` list wins over a later one."""
        for value, mark in merges:
            sources = value if isinstance(value, YList) else [value]
            for source in sources:
                if not isinstance(source, YMap):
                    self.problem(
                        "yaml.bad-merge",
                        "a merge key `<<` takes a mapping or a list of mappings",
                        mark,
                        hint="write `<<: *anchor` where &anchor names a mapping",
                    )
                    continue
                _fill_in(target, positions, source)


def _fill_in(target: YMap, positions: array[int], source: YMap) -> None:
    """Copy into `target` (its positions being built: `positions`) the entries of `source`
    that it does not have, positions and raw text with them."""
    pos = source.pos  # complete: bytes, 8 a position
    for i, (k, item) in enumerate(source.items()):
        if k not in target:
            target[k] = item
            positions.frombytes(pos[8 * (1 + 2 * i) : 8 * (3 + 2 * i)])
            raw = raw_text(source, k)
            if raw is not None:
                if target.raw is None:
                    target.raw = {}
                target.raw[k] = raw
