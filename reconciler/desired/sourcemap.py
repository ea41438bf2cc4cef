"""Where the lines of a rendered template come from: the source map of a render.

`LineTracker` follows a render chunk by chunk and notes the template line of each rendered
line; `SourceMap` then leads a rendered (line, column) back to the template's own line and
column, so that a YAML or schema error in a rendered file names the template's position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2

# A line of the generated Python that outputs template text as it is written (`yield '…'`).
_LITERAL_YIELD = re.compile(r"""\s*yield ['"]""")
# How far ahead a line of template text is looked for: past a multi-line `{# comment #}` that
# the rendered text leaves out.
_LOOKAHEAD = 200


class LineTracker:
    """Follows a render chunk by chunk and notes, for each rendered line, the template line it
    came from.

    Jinja keeps a map from the lines of the Python it compiles a template to back to template
    lines (`Template.get_corresponding_lineno`), and the generator that yields a chunk is
    suspended at the line that yielded it. An expression's chunk is placed exactly that way
    (a value holding line breaks stays on the expression's line). Text written as it is comes
    from the line of the tag before it or later, and its lines follow one another in the
    template but for lines the render leaves out (a multi-line `{# comment #}`): each of its
    lines is looked for in the template from there on.
    """

    def __init__(self, source: str, python: str, template: jinja2.Template) -> None:
        self.source = source.split("\n")
        self.literal = {n for n, line in enumerate(python.split("\n"), 1) if _LITERAL_YIELD.match(line)}
        self.template = template
        self.origin: list[int] = []
        self.at_line_start = True
        self.blank = True  # the current rendered line holds nothing but spaces so far
        self.end_line = 0  # the template line the last chunk ended on

    def add(self, chunk: str, stream: Any) -> None:
        if not chunk:
            return
        inner = stream
        while getattr(inner, "gi_yieldfrom", None) is not None:
            inner = inner.gi_yieldfrom
        frame = getattr(inner, "gi_frame", None)
        code_line = frame.f_lineno if frame is not None else 0
        tagged = max(self.template.get_corresponding_lineno(code_line) - 1, 0)
        pieces = chunk.split("\n")
        if code_line in self.literal:
            start = tagged if self.at_line_start else self.end_line
            lines = self._lines(start, pieces, first_known=not self.at_line_start)
        else:
            lines = [tagged] * len(pieces)
        if self.at_line_start:
            self.origin.append(lines[0])
            self.blank = True
        if self.blank and pieces[0].strip():
            self.origin[-1] = lines[0]
            self.blank = False
        for piece, line in zip(pieces[1:-1], lines[1:-1], strict=True):
            self.origin.append(line)
            self.blank = not piece.strip()
        if len(pieces) > 1:
            if pieces[-1]:
                self.origin.append(lines[-1])
                self.blank = not pieces[-1].strip()
            self.at_line_start = not pieces[-1]
        else:
            self.at_line_start = False
        self.end_line = lines[-1]

    def _lines(self, start: int, pieces: list[str], *, first_known: bool) -> list[int]:
        """The template lines of the lines of a chunk of literal text, which starts on line
        `start` (`first_known`) or on the first line from there on that begins with it."""
        lines: list[int] = []
        for index, piece in enumerate(pieces):
            low = start if index == 0 else lines[-1] + 1
            known = index == 0 and first_known
            lines.append(low if known or not piece.strip() else self._find(low, piece))
        # Blank lines sit right before the next line found (after a skipped comment, say).
        for index in range(len(lines) - 2, -1, -1):
            if not pieces[index].strip() and not (index == 0 and first_known):
                lines[index] = max(lines[index], lines[index + 1] - 1)
        return lines

    def _find(self, start: int, piece: str) -> int:
        for line in range(start, min(start + _LOOKAHEAD, len(self.source))):
            text = self.source[line]
            # Jinja writes a constant expression (`{{ "a" }}`) into the text around it.
            if text.startswith(piece) or ("{{" in text and _align(text, piece)):
                return line
        return start


_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}")


@dataclass(frozen=True)
class SourceMap:
    """Leads a position in a rendered template back to the template.

    `source`: the template's lines; `rendered`: the rendered lines; `origin[i]`: the template
    line (0-based) rendered line i came from. A column is placed by matching the rendered line
    against its template line: inside text written as it is, it moves with that text; inside
    the value of a `{{ … }}` expression, it is the expression's start.
    """

    source: tuple[str, ...]
    rendered: tuple[str, ...]
    origin: tuple[int, ...]

    def line(self, line: int) -> int:
        """The template line (0-based) of rendered line `line` (0-based)."""
        if 0 <= line < len(self.origin):
            return self.origin[line]
        return len(self.source) - 1 if line >= len(self.origin) and self.source else 0

    def position(self, line: int, column: int) -> tuple[int, int]:
        """The template (line, column) of a rendered (line, column), all 0-based."""
        where, spans = self._spans(line)
        return where, _place(spans, column, len(self.source[where]) if where < len(self.source) else 0)[0]

    def text(self, line: int, column: int, length: int) -> str | None:
        """The template text that rendered the `length` characters at (line, column), when they
        lie on one template line: `{{ port }}` for a port the expression wrote."""
        where, spans = self._spans(line)
        if where >= len(self.source) or length <= 0:
            return None
        width = len(self.source[where])
        start, start_tag = _place(spans, column, width)
        end, end_tag = _place(spans, column + length - 1, width)
        start = start_tag[0] if start_tag else start
        stop = end_tag[1] if end_tag else end + 1
        return self.source[where][start:stop] if stop > start else None

    def _spans(self, line: int) -> tuple[int, list[tuple[int, int, int, int, bool]]]:
        """The template line of rendered `line`, and how the pieces of the two lines pair up:
        (rendered start, rendered end, template start, template end, is an expression)."""
        where = self.line(line)
        template = self.source[where] if where < len(self.source) else ""
        rendered = self.rendered[line] if 0 <= line < len(self.rendered) else ""
        if template == rendered:
            return where, [(0, len(rendered), 0, len(template), False)]
        spans = _align(template, rendered)
        if not spans:
            # Part of a multi-line value: the expression (or statement) that wrote it.
            tag = next((m for m in _TAG.finditer(template) if not m.group().startswith("{#")), None)
            if tag is not None:
                spans = [(0, max(len(rendered), 1), tag.start(), tag.end(), True)]
        return where, spans


def _align(template: str, rendered: str) -> list[tuple[int, int, int, int, bool]]:
    """Pairs the pieces of a template line with the rendered line it gave: text written as it is
    matches itself, an expression matches what it wrote. A statement (`{% … %}`) may write
    anything up to the line's end. Empty when the two do not pair up (the line holds part of a
    multi-line value)."""
    pattern: list[str] = []
    pieces: list[tuple[int, int, bool]] = []
    pos = 0
    for match in _TAG.finditer(template):
        pattern.append(f"({re.escape(template[pos : match.start()])})")
        pieces.append((pos, match.start(), False))
        tag = match.group()
        if tag.startswith("{%"):
            pattern.append("(.*)")
            pieces.append((match.start(), len(template), True))
            pos = len(template)
            break
        pattern.append("(.*?)" if tag.startswith("{{") else "()")
        pieces.append((match.start(), match.end(), tag.startswith("{{")))
        pos = match.end()
    pattern.append(f"({re.escape(template[pos:])})")
    pieces.append((pos, len(template), False))
    found = re.fullmatch("".join(pattern), rendered, re.DOTALL)
    if found is None:
        return []
    return [(found.start(i + 1), found.end(i + 1), *piece) for i, piece in enumerate(pieces)]


def _place(
    spans: list[tuple[int, int, int, int, bool]], column: int, width: int
) -> tuple[int, tuple[int, int] | None]:
    """The template column of a rendered column, and the expression's span when it falls in one."""
    for start, end, t_start, t_end, expression in spans:
        if start <= column < end:
            if expression:
                return t_start, (t_start, t_end)
            return t_start + column - start, None
    if not spans:
        return min(column, max(width - 1, 0)), None
    return width, None
