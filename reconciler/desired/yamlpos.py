"""Safe YAML reading that remembers where every value was written.

This module is the only one that imports `yaml`. It turns text into plain Python values
(`YMap`, a dict; `YList`, a list; `str`, `int`, `float`, `bool`, `None`) whose containers
carry the positions of their entries, so that any later layer can point at `file:line:column`.

The document is built from libyaml's event stream (`yaml.CParser` when PyYAML was built with
libyaml, the pure-Python parser otherwise) rather than through PyYAML's composer and
constructor, because that is where every safety rule is enforced in one loop:

- scalars are typed by the YAML 1.2 core schema: only `true`/`false` are booleans (`yes`, `on`,
  `no` stay strings), `0600` is the integer 600, dates stay strings; this is also what editors
  with yaml-language-server assume, so the editor and the validator agree;
- only the standard tags (`!!str`, `!!int`, `!!float`, `!!bool`, `!!null`, `!!map`, `!!seq`) are
  accepted; `!!python/...` and every other tag is an error, never a constructor call;
- duplicate keys are errors (PyYAML would silently keep the last one);
- aliases are bounded: their count, and the number of nodes they expand to, so that a
  "billion laughs" document fails at once; an alias inside its own anchor is an error;
- nesting depth is bounded before the parser ever recurses (the C composer would recurse on
  the machine stack);
- merge keys (`<<: *defaults`) are supported; explicit keys win over merged ones.

Problems come back as `Diagnostic`s, never as a PyYAML exception.
"""

from __future__ import annotations

import gc
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import yaml
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

from reconciler.errors import Diagnostic, DiagnosticsError, Location, error

try:
    from yaml.cyaml import CParser as _Parser  # type: ignore[attr-defined]

    HAVE_LIBYAML = True
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml.parser import Parser as _PyParser
    from yaml.reader import Reader as _PyReader
    from yaml.scanner import Scanner as _PyScanner

    class _Parser(_PyReader, _PyScanner, _PyParser):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            _PyReader.__init__(self, stream)
            _PyScanner.__init__(self)
            _PyParser.__init__(self)

    HAVE_LIBYAML = False


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


# --- scalars ------------------------------------------------------------------------------

_TAG_PREFIX = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (_TAG_PREFIX + t for t in ("str", "int", "float", "bool", "null"))
_MAP, _SEQ = _TAG_PREFIX + "map", _TAG_PREFIX + "seq"
_SCALAR_TAGS = frozenset({_STR, _INT, _FLOAT, _BOOL, _NULL})

_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_TRUES = frozenset({"true", "True", "TRUE"})
_FALSES = frozenset({"false", "False", "FALSE"})
_DEC = re.compile(r"[-+]?[0-9]+\Z")
_OCT = re.compile(r"0o[0-7]+\Z")
_HEX = re.compile(r"0x[0-9a-fA-F]+\Z")
_FLT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")
_INF = re.compile(r"[-+]?\.(inf|Inf|INF)\Z")
_NAN = re.compile(r"\.(nan|NaN|NAN)\Z")
# A plain scalar can only be something other than a string when it starts with one of these.
_SPECIAL_FIRST = frozenset("0123456789+-.~nNtTfF")


def _plain(text: str) -> Any:
    """Type a plain (unquoted, untagged) scalar by the YAML 1.2 core schema."""
    if not text:
        return None
    if text[0] not in _SPECIAL_FIRST:
        return text
    if text in _NULLS:
        return None
    if text in _TRUES:
        return True
    if text in _FALSES:
        return False
    if _DEC.match(text):
        return int(text, 10)
    if _OCT.match(text):
        return int(text[2:], 8)
    if _HEX.match(text):
        return int(text[2:], 16)
    if _FLT.match(text):
        return float(text)
    if _INF.match(text):
        return -math.inf if text[0] == "-" else math.inf
    if _NAN.match(text):
        return math.nan
    return text


_BAD = object()


def _tagged(tag: str, text: str) -> Any:
    """Apply an explicit standard scalar tag; `_BAD` when the text does not fit it."""
    if tag == _STR:
        return text
    value = _plain(text)
    if tag == _INT:
        return value if type(value) is int else _BAD
    if tag == _FLOAT:
        if type(value) is int:
            return float(value)
        return value if type(value) is float else _BAD
    if tag == _BOOL:
        return value if type(value) is bool else _BAD
    return None if value is None else _BAD  # _NULL


def show_tag(tag: str) -> str:
    """`tag:yaml.org,2002:python/object` -> `!!python/object`, as the user wrote it."""
    return "!!" + tag[len(_TAG_PREFIX) :] if tag.startswith(_TAG_PREFIX) else tag


# --- positions ----------------------------------------------------------------------------


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


# --- the builder --------------------------------------------------------------------------


def parse(text: str, file: str, limits: Limits = DEFAULT_LIMITS) -> Parsed:
    """Read one YAML document from `text`. An empty document gives the value None."""
    result = Parsed(None)
    gc_was_enabled = gc.isenabled()
    # The builder allocates hundreds of thousands of small containers and none of them can be
    # garbage yet; the cyclic collector would rescan them all again and again (measured: four
    # times the parse time on a 10,000-resource file).
    gc.disable()
    try:
        result.value = _Builder(file, limits, result).run(_Parser(text))
    except _Fatal as fatal:
        result.diagnostics.append(fatal.diagnostic)
        result.value = None
        result.ok = False
    except yaml.MarkedYAMLError as exc:
        # libyaml's scanner reads a line of flow collections ahead of the events, so on deep
        # nesting it may refuse (newer releases bound the depth themselves) before the builder
        # sees the level that passes the tool's bound: whatever refused, a document nested
        # deeper than the bound gets the tool's own diagnostic.
        deep = _too_deep(text, exc.problem_mark, file, limits.max_depth)
        result.diagnostics.append(deep if deep is not None else _syntax_diagnostic(exc, text, file))
        result.value = None
        result.ok = False
    except yaml.YAMLError as exc:
        result.diagnostics.append(_reader_diagnostic(exc, text, file))
        result.value = None
        result.ok = False
    finally:
        if gc_was_enabled:
            gc.enable()
    return result


class _Fatal(Exception):
    """Stops building one document; carries the diagnostic to report."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


_MERGE = "\0<<"  # the pending key of a `<<` entry (no YAML key can hold a NUL)


class _Builder:
    """Turns the event stream of one document into YMap / YList / scalars.

    The hot loop in `run` keeps the open container in local variables: this is the part that
    runs once per value of a 10,000-resource file, so it avoids attribute look-ups and calls
    on the common path (a plain scalar placed in a mapping or a list).
    """

    def __init__(self, file: str, limits: Limits, result: Parsed) -> None:
        self.file = file
        self.limits = limits
        self.result = result
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.open_anchors: set[str] = set()

    def fatal(self, code: str, message: str, mark: Mark, hint: str | None = None) -> _Fatal:
        return _Fatal(error(code, message, location=location(self.file, mark), hint=hint))

    def problem(self, code: str, message: str, mark: Mark | None, hint: str | None = None) -> None:
        """A non-fatal error that still makes the document unusable."""
        self.result.diagnostics.append(error(code, message, location=location(self.file, mark), hint=hint))
        self.result.ok = False

    def run(self, parser: Any) -> Any:
        get = parser.get_event
        anchors = self.anchors
        limits = self.limits
        max_depth = limits.max_depth
        plain = _plain
        special = _SPECIAL_FIRST
        stack: list[tuple[Any, Any, bool, str | None, int, list[tuple[Any, Mark]] | None]] = []
        # The open container, its position table (`entries` or `marks`), whether it is a
        # mapping, the key waiting for its value, and where that key was written.
        cur: Any = None
        pos: Any = None
        is_map = False
        key: str | None = None
        key_mark: Any = None
        anchor: str | None = None
        start_total = 0
        merges: list[tuple[Any, Mark]] | None = None
        root: Any = None
        documents = 0
        total = 0  # values produced so far, each alias counted as what it expands to
        written = 0  # values written out in the text
        alias_uses = 0
        alias_nodes = 0

        while True:
            event = get()
            kind = type(event)
            if kind is ScalarEvent:
                total += 1
                written += 1
                text = event.value
                tag = event.tag
                if is_map and key is None:
                    if tag is not None:
                        self.check_key_tag(tag, event.start_mark)
                    key = _MERGE if (text == "<<" and tag is None and event.implicit[0]) else text
                    key_mark = event.start_mark
                    continue
                raw = None
                if tag is None:
                    if not event.implicit[0]:
                        value: Any = text
                    elif not text:
                        value = None
                    elif text[0] in special:
                        value = plain(text)
                        if value is not None and type(value) is not str:
                            raw = text
                    else:
                        value = text
                else:
                    value = self.tagged_scalar(tag, text, event.start_mark)
                if event.anchor is not None:
                    anchors[event.anchor] = (value, 1)
                mark = event.start_mark
                if is_map:
                    if key is _MERGE or key in cur or raw is not None or cur.raw is not None:
                        merges = self.place_in_map(cur, key, key_mark, value, mark, raw, merges)  # type: ignore[arg-type]
                    else:
                        cur[key] = value
                        pos[key] = (key_mark, mark)
                    key = None
                elif cur is not None:
                    if raw is not None:
                        if cur.raw is None:
                            cur.raw = {}
                        cur.raw[len(cur)] = raw
                    cur.append(value)
                    pos.append(mark)
                else:
                    root = value
            elif kind is MappingStartEvent or kind is SequenceStartEvent:
                total += 1
                written += 1
                mark = event.start_mark
                if is_map and key is None:
                    raise self.fatal(
                        "yaml.complex-key",
                        "a mapping key must be a plain value, not a mapping or a list",
                        mark,
                        hint="write the key as a string",
                    )
                if len(stack) + (cur is not None) >= max_depth:
                    raise _Fatal(_too_deep_diagnostic(self.file, mark, max_depth))
                new_is_map = kind is MappingStartEvent
                tag = event.tag
                if tag is not None and tag != "!" and tag != (_MAP if new_is_map else _SEQ):
                    self.problem(*_tag_problem(tag), mark, hint=_TAG_HINT)
                new: Any = YMap() if new_is_map else YList()
                new_pos: Any = {} if new_is_map else []
                if new_is_map:
                    new.entries = new_pos
                else:
                    new.marks = new_pos
                new.mark = mark
                new.raw = None
                if is_map:
                    if key is _MERGE or key in cur or cur.raw is not None:
                        merges = self.place_in_map(cur, key, key_mark, new, mark, None, merges)  # type: ignore[arg-type]
                    else:
                        cur[key] = new
                        pos[key] = (key_mark, mark)
                    key = None
                elif cur is not None:
                    cur.append(new)
                    pos.append(mark)
                else:
                    root = new
                if cur is not None:
                    stack.append((cur, pos, is_map, anchor, start_total, merges))
                anchor = event.anchor
                if anchor is not None:
                    self.open_anchors.add(anchor)
                cur, pos, is_map, start_total, merges = new, new_pos, new_is_map, total - 1, None
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                if merges is not None:
                    self.merge(cur, merges)
                if anchor is not None:
                    self.open_anchors.discard(anchor)
                    anchors[anchor] = (cur, total - start_total)
                if stack:
                    cur, pos, is_map, anchor, start_total, merges = stack.pop()
                else:
                    cur, pos, is_map, anchor, merges = None, None, False, None, None
            elif kind is AliasEvent:
                name = event.anchor
                mark = event.start_mark
                if name in self.open_anchors:
                    raise self.fatal(
                        "yaml.recursive-alias",
                        f"alias *{name} refers to a value that contains it",
                        mark,
                        hint="an alias may only repeat a value that is complete before it",
                    )
                if name not in anchors:
                    raise self.fatal("yaml.undefined-alias", f"alias *{name} has no anchor &{name} before it", mark)
                value, size = anchors[name]
                alias_uses += 1
                alias_nodes += size
                total += size
                if alias_uses > limits.max_aliases:
                    raise self.fatal(
                        "yaml.too-many-aliases",
                        f"more than {limits.max_aliases} aliases in one document",
                        mark,
                    )
                cap = max(limits.max_alias_nodes, 10 * written)
                if alias_nodes > cap:
                    raise self.fatal(
                        "yaml.alias-bomb",
                        f"aliases expand to more than {cap} values; the document is refused "
                        "(a 'billion laughs' pattern)",
                        mark,
                        hint="write the values out, or use fewer nested aliases",
                    )
                if is_map and key is None:
                    if not isinstance(value, str):
                        raise self.fatal(
                            "yaml.complex-key",
                            "a mapping key must be a plain value, not an alias of a mapping or a list",
                            mark,
                        )
                    key, key_mark = value, mark
                elif is_map:
                    merges = self.place_in_map(cur, key, key_mark, value, mark, None, merges)  # type: ignore[arg-type]
                    key = None
                elif cur is not None:
                    cur.append(value)
                    pos.append(mark)
                else:
                    root = value
            elif kind is DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise self.fatal(
                        "yaml.multiple-documents",
                        "the file holds more than one YAML document (a second `---`)",
                        event.start_mark,
                        hint="put each document in its own file; a directory of files loads as one",
                    )
            elif kind is StreamEndEvent:
                return root

    def check_key_tag(self, tag: str, mark: Mark) -> None:
        if tag != "!" and tag not in _SCALAR_TAGS:
            self.problem(*_tag_problem(tag), mark, hint=_TAG_HINT)

    def tagged_scalar(self, tag: str, text: str, mark: Mark) -> Any:
        if tag == "!":
            return text
        if tag not in _SCALAR_TAGS:
            self.problem(*_tag_problem(tag), mark, hint=_TAG_HINT)
            return None
        value = _tagged(tag, text)
        if value is _BAD:
            self.problem("yaml.bad-tagged-value", f"the value is not a valid {show_tag(tag)}", mark)
            return None
        return value

    def place_in_map(
        self,
        cur: YMap,
        key: str,
        key_mark: Mark,
        value: Any,
        mark: Mark,
        raw: str | None,
        merges: list[tuple[Any, Mark]] | None,
    ) -> list[tuple[Any, Mark]] | None:
        """The uncommon cases of putting a value under a key: `<<`, duplicates, raw text."""
        if key is _MERGE:
            if merges is None:
                merges = []
            merges.append((value, mark))
            return merges
        if key in cur:
            first = cur.entries[key][0]
            self.result.diagnostics.append(
                error(
                    "yaml.duplicate-key",
                    f"duplicate key {key!r} (first written at line {first.line + 1}, "
                    f"column {first.column + 1}); the later value would silently win",
                    location=location(self.file, key_mark),
                    hint="remove one of the two entries",
                )
            )
        cur[key] = value
        cur.entries[key] = (key_mark, mark)
        if raw is not None:
            if cur.raw is None:
                cur.raw = {}
            cur.raw[key] = raw
        elif cur.raw is not None:
            cur.raw.pop(key, None)
        return merges

    def merge(self, target: YMap, merges: list[tuple[Any, Mark]]) -> None:
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
                for k, item in source.items():
                    if k not in target:
                        target[k] = item
                        target.entries[k] = source.entries[k]
                        raw = raw_text(source, k)
                        if raw is not None:
                            if target.raw is None:
                                target.raw = {}
                            target.raw[k] = raw


_TAG_HINT = "desired-state files hold plain values only; remove the tag (quote the value if it must stay a string)"


def _tag_problem(tag: str) -> tuple[str, str]:
    return "yaml.unsupported-tag", f"the tag {show_tag(tag)} is not allowed"


_SYNTAX_HINTS = (
    (
        "mapping values are not allowed",
        'quote a value that contains `: ` or ends with `:`, e.g. url: "sandbox:"',
    ),
    ("cannot start any token", "YAML does not allow tabs for indentation: use spaces"),
    ("did not find expected key", "check the indentation of the lines around it"),
    ("found undefined tag handle", "remove the tag"),
    ("could not find expected ':'", "a key needs ': ' after it; check quotes and indentation"),
)


def _too_deep_diagnostic(file: str, mark: Mark | None, max_depth: int) -> Diagnostic:
    return error(
        "yaml.too-deep",
        f"values are nested deeper than {max_depth} levels",
        location=location(file, mark),
        hint="a desired-state file needs only a few levels; check the indentation",
    )


class _At:
    """A position in the text, in the shape of a PyYAML mark (0-based line and column)."""

    __slots__ = ("column", "line")

    def __init__(self, line: int, column: int) -> None:
        self.line = line
        self.column = column


# Characters after which `[` or `{` opens a flow collection rather than being part of a plain
# value such as `v[1]`.
_FLOW_OPENERS_AFTER = frozenset("[{,:-?")


def _too_deep(text: str, mark: Any, file: str, max_depth: int) -> Diagnostic | None:
    """The depth diagnostic when the flow collections open where the parser stopped pass
    `max_depth`, pointing at the first one past the bound, as the builder would have."""
    if mark is None or not isinstance(getattr(mark, "index", None), int):
        return None
    end = min(mark.index + 1, len(text))
    if text.count("[", 0, end) + text.count("{", 0, end) <= max_depth:
        return None  # cheap exit for every ordinary syntax error
    # Every open collection counts, as in the builder; block levels are approximated by one.
    first = text.lstrip()[:1]
    depth = 0 if first in ("[", "{") else 1
    line = column = 0
    quote = ""
    previous = "\n"
    i = 0
    while i < end:
        ch = text[i]
        if quote:
            if ch == "\\" and quote == '"':
                i += 1
                column += 1
            elif ch == quote:
                quote = ""
        elif ch == "#" and previous in " \t\n":
            newline = text.find("\n", i, end)
            if newline < 0:
                break
            column += newline - i
            i = newline
            continue
        elif ch in "\"'":
            quote = ch
        elif ch in "[{" and (previous in _FLOW_OPENERS_AFTER or previous in " \t\n"):
            depth += 1
            if depth > max_depth:
                return _too_deep_diagnostic(file, _At(line, column), max_depth)
        elif ch in "]}" and depth > 1:
            depth -= 1
        if ch == "\n":
            line += 1
            column = 0
        else:
            column += 1
        if ch not in " \t":
            previous = ch
        elif previous != "\n":
            previous = " "
        i += 1
    return None

def _extra_indent(lines: list[str], index: int) -> int:
    """How much deeper line `index` is indented than the line above it, when that line holds a
    complete `key: value` (so the deeper line cannot be its continuation); else 0."""
    if index >= len(lines) or index == 0:
        return 0
    above = next((ln for ln in reversed(lines[:index]) if ln.strip() and not ln.strip().startswith("#")), None)
    if above is None or above.rstrip().endswith((":", "|", ">", "-")) or ": " not in above:
        return 0
    here = lines[index]
    above_indent = len(above) - len(above.lstrip(" -"))
    here_indent = len(here) - len(here.lstrip(" "))
    return max(0, here_indent - above_indent)


# The parser's problems the tool puts in its own words, so that what a user reads (and what
# the goldens pin) does not move with PyYAML's phrasing. Others keep the parser's words.
_OWN_WORDS = (
    ("mapping values are not allowed", "a `:` is not allowed here"),
    ("cannot start any token", "this character cannot start a value"),
)


def _syntax_diagnostic(exc: yaml.MarkedYAMLError, text: str, file: str) -> Diagnostic:
    problem = (exc.problem or "invalid YAML").strip()
    mark = exc.problem_mark or exc.context_mark
    lines = text.splitlines()
    if "end of stream" in problem and exc.context and "quoted scalar" in exc.context and exc.context_mark:
        return error(
            "yaml.syntax",
            f"invalid YAML: the quoted value that starts at line {exc.context_mark.line + 1}, "
            f"column {exc.context_mark.column + 1} is never closed",
            location=location(file, mark),
            hint="add the closing quote at the end of the value",
        )
    message = "invalid YAML: " + next((w for p, w in _OWN_WORDS if p in problem), problem)
    same_place = (
        exc.context_mark is not None
        and mark is not None
        and (exc.context_mark.line, exc.context_mark.column) == (mark.line, mark.column)
    )
    if same_place:
        pass  # "while scanning for the next token" at the very same spot adds nothing
    elif exc.context and exc.context_mark is not None:
        message += (
            f" ({exc.context.strip()} started at line {exc.context_mark.line + 1}, "
            f"column {exc.context_mark.column + 1})"
        )
    elif exc.context:
        message += f" ({exc.context.strip()})"
    hint = next((h for p, h in _SYNTAX_HINTS if p in problem), None)
    if mark is not None and "did not find expected" in problem:
        # PyYAML's own words ("did not find expected '-' indicator") say what the parser
        # missed, not what the writer got wrong: a line out of line with its siblings.
        here = lines[mark.line].lstrip() if mark.line < len(lines) else ""
        listy = "'-'" in problem or here.startswith("- ")
        what = "list items above it" if listy else "keys above it"
        message = f"invalid YAML: this line is not aligned with the {what}"
        hint = (
            "items of one list start with `- ` at the same column"
            if listy
            else "keys of one mapping start at the same column; check the indentation"
        )
    if mark is not None and "mapping values are not allowed" in problem:
        extra = _extra_indent(lines, mark.line)
        if extra:
            key = lines[mark.line].strip().split(":", 1)[0]
            message = "invalid YAML: this line is indented deeper than the keys above it"
            hint = (
                f"`{key}:` is indented {extra} space(s) more than the line above it; "
                "align it with the keys beside it"
            )
    if mark is not None and "cannot start any token" in problem:
        line = lines[mark.line] if mark.line < len(lines) else ""
        if line[mark.column : mark.column + 1] == "\t":
            message = "invalid YAML: a tab is used for indentation"
        else:
            hint = "a character such as `@` or `` ` `` cannot start a plain value; quote the value"
    return error("yaml.syntax", message, location=location(file, mark), hint=hint)


def _reader_diagnostic(exc: yaml.YAMLError, text: str, file: str) -> Diagnostic:
    # The reader reports a byte offset into the UTF-8 text it was given.
    position = getattr(exc, "position", None)
    reason = getattr(exc, "reason", None) or str(exc).splitlines()[0]
    character = getattr(exc, "character", None)
    if isinstance(position, int):
        loc = byte_location(file, text.encode("utf-8", "surrogatepass"), position)
    else:
        loc = Location(file)
    message = f"invalid character in YAML: {reason}"
    if isinstance(character, int):
        message = f"invalid character #x{character:04x} in YAML: {reason}"
    return error(
        "yaml.bad-character",
        message,
        location=loc,
        hint="remove the control character (or write it as an escape in a double-quoted string)",
    )


def byte_location(file: str, data: bytes, offset: int) -> Location:
    """The 1-based line and column (in characters) of a byte offset into UTF-8 data."""
    head = data[:offset]
    line = head.count(b"\n") + 1
    last = head.rfind(b"\n")
    column = len(head[last + 1 :].decode("utf-8", "replace")) + 1
    return Location(file, line, column)


def decode(data: bytes, file: str) -> str:
    """UTF-8 text of a file (a BOM is dropped); invalid bytes are an error at their line."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DiagnosticsError(
            [
                error(
                    "file.encoding",
                    f"the file is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})",
                    location=byte_location(file, data, exc.start),
                    hint="save the file as UTF-8",
                )
            ]
        ) from exc
    return text[1:] if text.startswith("\ufeff") else text


def load_data(text: str, file: str) -> Any:
    """Read a trusted-shape YAML file (var files, the package's data files) or raise."""
    parsed = parse(text, file)
    if parsed.diagnostics or not parsed.ok:
        raise DiagnosticsError(parsed.diagnostics)
    return parsed.value


class _Dumper(yaml.SafeDumper):
    """Writes multi-line strings as literal blocks, so exported files read naturally."""


def _str_presenter(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _str_presenter)


def dump(document: Any) -> str:
    """YAML text of plain data (dicts, lists, scalars), keys in the order given."""
    return str(
        yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)
    )
