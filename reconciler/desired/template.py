"""Jinja2 templating of desired-state files: the only module that imports `jinja2`.

Files whose name ends in `.j2` are rendered before they are parsed as YAML; plain `.yaml`
files never are, whatever variables are given, so that a `{{` in a plain file means what it
says. Rendering runs in Jinja's immutable sandbox with `StrictUndefined`: a template can
read the variables it is given (`--var k=v`, var files) and nothing else (no environment, no
file system, no `''.__class__` tricks), and an undefined variable is an error at its line.
`${env:…}` references are not Jinja syntax and pass through untouched, to be resolved later.

`trim_blocks` and `lstrip_blocks` are on, so that `{% for %}` lines leave no stray
indentation in the YAML they produce.

Templates arrive in pull requests, so a render is bounded as well as sandboxed, by the checks
of `template_bounds` (loop items, a deadline, values refused before they are built). Jinja's
constant folding is turned off, so that nothing of the template is evaluated while it
compiles, outside these bounds. `sourcemap` leads rendered positions back to the template.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

from reconciler.desired import template_bounds as bounds
from reconciler.desired.sourcemap import LineTracker, SourceMap
from reconciler.errors import Diagnostic, DiagnosticsError, Location, error

if TYPE_CHECKING:
    import jinja2

TEMPLATE_SUFFIX = ".j2"



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
            bounds.check_budget()
            bounds.check_call(__obj, args, kwargs)
            return super().call(__context, __obj, *args, **kwargs)

        def wrap_str_format(self, value: Any) -> Any:
            # `str.format` is sandboxed at attribute access, not through `call`.
            wrapped = super().wrap_str_format(value)
            if wrapped is None:
                return None
            text, is_map = value.__self__, value.__name__ == "format_map"

            def checked(*args: Any, **kwargs: Any) -> Any:
                if is_map:
                    bounds.check_str_format(text, (), args[0] if args and isinstance(args[0], Mapping) else {})
                else:
                    bounds.check_str_format(text, args, kwargs)
                return wrapped(*args, **kwargs)

            return checked

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            bounds.check_budget()
            bounds.check_binop(operator, left, right)
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
    env.globals["range"] = bounds.budgeted_range
    env.globals["lipsum"] = bounds.bounded_lipsum
    bounds.guard_filters(env)
    stock = env.filters["tojson"]

    def tojson(eval_ctx: Any, value: Any, indent: int | None = None) -> Any:
        # An undefined value fails as the undefined variable it is; the stock filter would
        # report a JSON serialization error without the variable's name.
        if isinstance(value, jinja2.Undefined):
            value._fail_with_undefined_error()
        bounds.check_width(indent, "the tojson filter's indent")
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
    tracker = LineTracker(source, python, template)
    token = bounds.begin(max_bytes)
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
    except bounds.TemplateBudgetError as exc:
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
        bounds.end(token)
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
