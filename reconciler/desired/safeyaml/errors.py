"""Problems met while reading YAML, in the tool's own words, at their `file:line:column`.

The parser's exceptions become diagnostics here (they never leave `parse`), and so does the
depth bound when libyaml's scanner trips over deep nesting before the builder sees the level
that passes it. `Fatal` carries the builder's own fatal errors out of its loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

from reconciler.desired.safeyaml.nodes import Mark
from reconciler.desired.safeyaml.positions import byte_location, location
from reconciler.desired.safeyaml.scalars import show_tag
from reconciler.errors import Diagnostic, Location, error


class Fatal(Exception):
    """Stops building one document; carries the diagnostic to report."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


TAG_HINT = "desired-state files hold plain values only; remove the tag (quote the value if it must stay a string)"


def tag_problem(tag: str) -> tuple[str, str]:
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


def too_deep_diagnostic(file: str, mark: Mark | None, max_depth: int) -> Diagnostic:
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


def too_deep(text: str, mark: Any, file: str, max_depth: int) -> Diagnostic | None:
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
    for line, column, ch, previous in _brackets(text, end):
        if ch in "[{" and (previous in _FLOW_OPENERS_AFTER or previous in " \t\n"):
            depth += 1
            if depth > max_depth:
                return too_deep_diagnostic(file, _At(line, column), max_depth)
        elif ch in "]}" and depth > 1:
            depth -= 1
    return None


def _brackets(text: str, end: int) -> Iterator[tuple[int, int, str, str]]:
    """(line, column, bracket, the last non-blank character before it) of each `[`, `]`, `{`
    and `}` in `text[:end]` outside quoted values and comments."""
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
                return
            column += newline - i
            i = newline
            continue
        elif ch in "\"'":
            quote = ch
        elif ch in "[]{}":
            yield line, column, ch, previous
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


def syntax_diagnostic(exc: yaml.MarkedYAMLError, text: str, file: str) -> Diagnostic:
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


def reader_diagnostic(exc: yaml.YAMLError, text: str, file: str) -> Diagnostic:
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
