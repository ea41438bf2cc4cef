"""Jinja2 templating of desired-state files: the only module that imports `jinja2`.

Files whose name ends in `.j2` are rendered before they are parsed as YAML; plain `.yaml`
files never are, whatever variables are given, so that a `{{` in a plain file means what it
says. Rendering runs in Jinja's immutable sandbox with `StrictUndefined`: a template can
read the variables it is given (`--var k=v`, var files) and nothing else (no environment, no
file system, no `''.__class__` tricks), and an undefined variable is an error at its line.
`${env:…}` references are not Jinja syntax and pass through untouched, to be resolved later.

`trim_blocks` and `lstrip_blocks` are on, so that `{% for %}` lines leave no stray
indentation in the YAML they produce.

Templates arrive in pull requests, so a render is bounded as well as sandboxed: loops draw on a
budget of `range` items, every call and arithmetic operation checks a deadline, and an operation
that would build a huge value in one step (`9**99999999`, `'a' * 10**9`, `'%999999999d' % 1`,
`'x' | center(10**9)`, `lipsum(3000000)`) is refused *before* it runs, since a single step of
C code cannot be interrupted. Jinja's constant folding is turned off, so that nothing of the
template is evaluated while it compiles, outside these bounds.
"""

from __future__ import annotations

import contextvars
import functools
import re
import string
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

from reconciler.errors import Diagnostic, DiagnosticsError, Location, error

if TYPE_CHECKING:
    import jinja2

TEMPLATE_SUFFIX = ".j2"


# Bounds of one render: loop items produced by `range`, seconds of work, and the size of one
# value (by default the size a rendered file may have). A template is a page of YAML with a
# few loops; these leave room for tens of thousands of resources.
MAX_RANGE_ITEMS = 1_000_000
MAX_RENDER_SECONDS = 10.0
# Integers beyond this many bits cannot even be written out (Python prints at most 4,300
# digits, about 14,000 bits); building them is where the time goes.
MAX_INT_BITS = 16_384
DEFAULT_MAX_CHARS = 10 * 1024 * 1024
MAX_LIPSUM_PARAGRAPHS = 100
MAX_LIPSUM_WORDS = 1_000


@dataclass
class _Budget:
    deadline: float
    items: int = 0
    max_chars: int = DEFAULT_MAX_CHARS


_budget: contextvars.ContextVar[_Budget] = contextvars.ContextVar("template_budget")


class TemplateBudgetError(Exception):
    """A template ran past its budget of loop items or seconds (`template.too-slow`), or tried
    to build a value larger than a rendered file may be (`template.too-large`)."""

    def __init__(self, message: str, code: str = "template.too-slow") -> None:
        super().__init__(message)
        self.code = code


def _check_budget(items: int = 0) -> None:
    budget = _budget.get(None)
    if budget is None:
        return
    budget.items += items
    if budget.items > MAX_RANGE_ITEMS:
        raise TemplateBudgetError(f"the template's loops run over more than {MAX_RANGE_ITEMS:,} items")
    if time.monotonic() > budget.deadline:
        raise TemplateBudgetError(f"the template took more than {MAX_RENDER_SECONDS:g} s to render")


def _max_chars() -> int:
    budget = _budget.get(None)
    return DEFAULT_MAX_CHARS if budget is None else budget.max_chars


def _check_size(size: int, what: str) -> None:
    """Refuses an operation that would build a value of `size` characters (or items)."""
    limit = _max_chars()
    if size > limit:
        raise TemplateBudgetError(
            f"{what} would build a value of {size:,} characters or items, more than {limit:,}", "template.too-large"
        )


def _check_width(value: Any, what: str) -> None:
    if isinstance(value, int) and not isinstance(value, bool):
        _check_size(value, what)


def _sized(value: Any) -> int:
    try:
        return len(value) if isinstance(value, (str, bytes, list, tuple, dict, range)) else 0
    except OverflowError:  # a range too long for len()
        return _max_chars() + 1


def _budgeted_range(*args: int) -> range:
    items = range(*args)
    try:
        count = len(items)
    except OverflowError:
        raise TemplateBudgetError(f"the template's loops run over more than {MAX_RANGE_ITEMS:,} items") from None
    _check_budget(count)
    return items


def _bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    from jinja2.utils import generate_lorem_ipsum

    if not 0 <= n <= MAX_LIPSUM_PARAGRAPHS or not 0 <= max <= MAX_LIPSUM_WORDS or min > max:
        raise TemplateBudgetError(
            f"lipsum() is limited to {MAX_LIPSUM_PARAGRAPHS} paragraphs of at most {MAX_LIPSUM_WORDS} words",
            "template.too-large",
        )
    return str(generate_lorem_ipsum(n=n, html=html, min=min, max=max))


def _int_bits(value: Any) -> int:
    return abs(value).bit_length() if isinstance(value, int) else 0


def _check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuses, before it runs, an arithmetic or repetition step whose result is too large."""
    if operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0:
        if abs(left) > 1 and _int_bits(left) * right > MAX_INT_BITS:
            base = left if _int_bits(left) < 64 else "a number"
            raise TemplateBudgetError(
                f"{base} ** {right} would be a number of more than {MAX_INT_BITS:,} bits", "template.too-large"
            )
    elif operator == "*":
        if isinstance(left, int) and isinstance(right, int):
            if _int_bits(left) + _int_bits(right) > MAX_INT_BITS:
                raise TemplateBudgetError(
                    f"a multiplication would make a number of more than {MAX_INT_BITS:,} bits", "template.too-large"
                )
        elif isinstance(right, int):
            _check_size(_sized(left) * right, "a repetition (`*`)")
        elif isinstance(left, int):
            _check_size(_sized(right) * left, "a repetition (`*`)")
    elif operator == "+":
        _check_size(_sized(left) + _sized(right), "a concatenation (`+`)")
    elif operator == "%" and isinstance(left, str):
        _check_printf(left, right)


_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_NUMBER = re.compile(r"\d+")


def _int_args(args: Any) -> list[int]:
    values = args.values() if isinstance(args, Mapping) else args if isinstance(args, (tuple, list)) else [args]
    return [v for v in values if isinstance(v, int)]


def _check_printf(text: str, args: Any) -> None:
    """`%`-formatting: every width and precision, written or taken from the arguments, bounded."""
    for match in _PRINTF_SPEC.finditer(text):
        for part in match.groups():
            if part == "*":
                for value in _int_args(args):
                    _check_width(abs(value), "a `%` format width")
            elif part:
                _check_width(int(part), "a `%` format width")


def _check_str_format(text: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """`str.format`: widths in the replacement fields, and nested fields' arguments, bounded."""
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError:
        return  # str.format raises the same error itself
    for _, _, spec, _ in fields:
        if not spec:
            continue
        if "{" in spec:
            for value in [*_int_args(args), *_int_args(dict(kwargs))]:
                _check_width(abs(value), "a format width")
        for number in _NUMBER.findall(spec):
            _check_width(int(number), "a format width")


def _check_replace(text: Any, old: Any, new: Any, count: Any = -1) -> None:
    if not (isinstance(text, str) and isinstance(old, str) and isinstance(new, str)):
        return
    if len(new) <= len(old):
        return
    hits = len(text) + 1 if old == "" else text.count(old)
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    _check_size(len(text) + hits * (len(new) - len(old)), "a replace")


def _check_join(separator: Any, items: Any) -> None:
    if isinstance(separator, str):
        _check_size(len(separator) * max(_sized(items) - 1, 0), "a join")


# str methods a template may call that can build a value much larger than their inputs.
_STR_METHOD_CHECKS: dict[str, Callable[..., None]] = {
    "center": lambda s, width=0, *_: _check_width(width, "a str.center width"),
    "ljust": lambda s, width=0, *_: _check_width(width, "a str.ljust width"),
    "rjust": lambda s, width=0, *_: _check_width(width, "a str.rjust width"),
    "zfill": lambda s, width=0, *_: _check_width(width, "a str.zfill width"),
    "expandtabs": lambda s, tabsize=8, *_: _check_size(s.count("\t") * max(tabsize, 0) + len(s), "expandtabs"),
    "replace": _check_replace,
    "join": lambda s, items=(), *_: _check_join(s, items),
}


def _check_call(obj: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    owner = getattr(obj, "__self__", None)
    if isinstance(owner, str):
        check = _STR_METHOD_CHECKS.get(getattr(obj, "__name__", ""))
        if check is not None:
            check(owner, *args, *kwargs.values())


def _guard_filters(env: jinja2.Environment) -> None:
    """Filters that can build a value far larger than their inputs check their arguments first."""
    import jinja2

    stock = dict(env.filters)

    def center(value: Any, width: int = 80) -> Any:
        _check_width(width, "the center filter's width")
        return stock["center"](value, width)

    def indent(value: Any, width: Any = 4, first: bool = False, blank: bool = False) -> Any:
        _check_width(width, "the indent filter's width")
        if isinstance(width, str):
            _check_size(len(width) * (_sized(value) + 1), "the indent filter")
        elif isinstance(width, int):
            _check_size(width * (_sized(value) + 1), "the indent filter")
        return stock["indent"](value, width, first, blank)

    def format_filter(value: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(value, str):
            _check_printf(value, kwargs or args)
        return stock["format"](value, *args, **kwargs)

    def replace(eval_ctx: Any, value: Any, old: Any, new: Any, count: Any = None) -> Any:
        _check_replace(value, old, new, -1 if count is None else count)
        return stock["replace"](eval_ctx, value, old, new, count)

    def join(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> Any:
        _check_join(d, value)
        return stock["join"](eval_ctx, value, d, attribute)

    def batch(value: Any, linecount: int, fill_with: Any = None) -> Any:
        _check_width(linecount, "the batch filter's size")
        return stock["batch"](value, linecount, fill_with)

    def wordwrap(
        environment: Any,
        s: Any,
        width: int = 79,
        break_long_words: bool = True,
        wrapstring: Any = None,
        break_on_hyphens: bool = True,
    ) -> Any:
        if isinstance(wrapstring, str) and isinstance(width, int) and width > 0:
            _check_size(len(wrapstring) * (_sized(s) // width + 1) + _sized(s), "the wordwrap filter")
        return stock["wordwrap"](environment, s, width, break_long_words, wrapstring, break_on_hyphens)

    env.filters.update(
        center=center,
        indent=indent,
        format=format_filter,
        replace=jinja2.pass_eval_context(replace),
        join=jinja2.pass_eval_context(join),
        batch=batch,
        wordwrap=jinja2.pass_environment(wordwrap),
    )


@functools.cache
def _env() -> jinja2.Environment:
    """The sandboxed environment, built on first use: most runs render no template, and
    importing jinja2 is not free."""
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class BudgetedEnvironment(ImmutableSandboxedEnvironment):
        """Every call and arithmetic step a template makes checks the render's time budget
        and the size of what it would build, so that nested loops and one-line bombs end
        with an error instead of running for hours or exhausting memory."""

        intercepted_binops = frozenset({"*", "**", "+", "%"})

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
            _check_budget()
            _check_call(__obj, args, kwargs)
            return super().call(__context, __obj, *args, **kwargs)

        def wrap_str_format(self, value: Any) -> Any:
            # `str.format` is sandboxed at attribute access, not through `call`.
            wrapped = super().wrap_str_format(value)
            if wrapped is None:
                return None
            text, is_map = value.__self__, value.__name__ == "format_map"

            def checked(*args: Any, **kwargs: Any) -> Any:
                if is_map:
                    _check_str_format(text, (), args[0] if args and isinstance(args[0], Mapping) else {})
                else:
                    _check_str_format(text, args, kwargs)
                return wrapped(*args, **kwargs)

            return checked

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            _check_budget()
            _check_binop(operator, left, right)
            return super().call_binop(context, operator, left, right)

    env = BudgetedEnvironment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        # No constant folding: it would evaluate expressions at compile time, before any
        # budget applies.
        optimized=False,
    )
    env.globals["range"] = _budgeted_range
    env.globals["lipsum"] = _bounded_lipsum
    _guard_filters(env)
    stock = env.filters["tojson"]

    def tojson(eval_ctx: Any, value: Any, indent: int | None = None) -> Any:
        # An undefined value fails as the undefined variable it is; the stock filter would
        # report a JSON serialization error without the variable's name.
        if isinstance(value, jinja2.Undefined):
            value._fail_with_undefined_error()
        _check_width(indent, "the tojson filter's indent")
        return stock(eval_ctx, value, indent)

    env.filters["tojson"] = jinja2.pass_eval_context(tojson)
    return env


def is_template(name: str) -> bool:
    return name.endswith(TEMPLATE_SUFFIX)


def render(source: str, *, file: str, variables: Mapping[str, Any], max_bytes: int) -> str:
    """The rendered text of template `source` (read from `file`). Raises DiagnosticsError."""
    return render_mapped(source, file=file, variables=variables, max_bytes=max_bytes).text


@dataclass(frozen=True)
class Rendered:
    """A rendered template: its `text`, and `source_map`, which leads positions in that text
    back to the template's own lines."""

    text: str
    source_map: SourceMap


def render_mapped(source: str, *, file: str, variables: Mapping[str, Any], max_bytes: int) -> Rendered:
    """The rendered text of template `source` (read from `file`) with its source map. Raises
    DiagnosticsError."""
    import jinja2

    env = _env()
    try:
        python = env.compile(source, name=file, filename=file, raw=True)
        code = compile(python, file, "exec")
        template = env.template_class.from_code(env, code, env.make_globals(None), None)
    except jinja2.TemplateSyntaxError as exc:
        raise DiagnosticsError(
            [
                error(
                    "template.syntax",
                    f"template syntax error: {exc.message}",
                    location=Location(file, exc.lineno or 0),
                    hint="see https://jinja.palletsprojects.com/templates/ for the syntax",
                )
            ]
        ) from exc
    except RecursionError as exc:
        raise DiagnosticsError(
            [
                error(
                    "template.too-complex",
                    "the template nests expressions or blocks too deeply to compile",
                    location=Location(file),
                    hint="split the deeply nested expression into variables (`{% set %}`)",
                )
            ]
        ) from exc
    chunks: list[str] = []
    size = 0
    tracker = _LineTracker(source, python, template)
    token = _budget.set(_Budget(time.monotonic() + MAX_RENDER_SECONDS, max_chars=max_bytes))
    try:
        stream = template.generate(dict(variables))
        for chunk in stream:
            tracker.add(chunk, stream)
            chunks.append(chunk)
            size += len(chunk)
            if size > max_bytes:
                raise DiagnosticsError(
                    [
                        error(
                            "template.too-large",
                            f"the rendered template is larger than {max_bytes // (1024 * 1024)} MiB",
                            location=Location(file),
                            hint="check the loops of the template",
                        )
                    ]
                )
    except DiagnosticsError:
        raise
    except TemplateBudgetError as exc:
        raise DiagnosticsError(
            [
                error(
                    exc.code,
                    f"template error: {exc}",
                    location=Location(file, _template_line(exc.__traceback__, file)),
                    hint="check the template's loops: nested ranges multiply"
                    if exc.code == "template.too-slow"
                    else "a desired-state template builds YAML; values this large are refused",
                )
            ]
        ) from exc
    except Exception as exc:
        # A template runs the user's expressions: any exception they raise (an undefined
        # name, a division by zero, a sandbox refusal) is a problem in the input.
        raise DiagnosticsError([_render_diagnostic(exc, file)]) from exc
    finally:
        _budget.reset(token)
    text = "".join(chunks)
    return Rendered(text, SourceMap(tuple(source.split("\n")), tuple(text.split("\n")), tuple(tracker.origin)))


def _render_diagnostic(exc: Exception, file: str) -> Diagnostic:
    import jinja2
    from jinja2.sandbox import SecurityError

    where = Location(file, _template_line(exc.__traceback__, file))
    if isinstance(exc, SecurityError):
        return error(
            "template.unsafe",
            f"the template did something the sandbox forbids: {exc}",
            location=where,
            hint="templates may only read the variables they are given",
        )
    if isinstance(exc, jinja2.UndefinedError):
        return error(
            "template.undefined",
            f"template error: {exc.message}",
            location=where,
            hint="give it a value with `--var NAME=VALUE` or in a var file, or write `{{ NAME | default('…') }}`",
        )
    if isinstance(exc, TypeError) and "no loader" in str(exc):
        return error(
            "template.include",
            "a template cannot include, import or extend other files",
            location=where,
            hint="put shared values in a var file instead",
        )
    return error(
        "template.error",
        f"template error: {type(exc).__name__}: {exc}",
        location=where,
    )


def _template_line(tb: TracebackType | None, file: str) -> int:
    """The template line an exception was raised at (0 when unknown).

    Jinja rewrites the traceback of a render error so that frames of template code carry the
    template's file name and line; the innermost such frame is where the template failed.
    """
    line = 0
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == file:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


# --- where rendered lines come from -------------------------------------------------------

# A line of the generated Python that outputs template text as it is written (`yield '…'`).
_LITERAL_YIELD = re.compile(r"""\s*yield ['"]""")
# How far ahead a line of template text is looked for: past a multi-line `{# comment #}` that
# the rendered text leaves out.
_LOOKAHEAD = 200


class _LineTracker:
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
