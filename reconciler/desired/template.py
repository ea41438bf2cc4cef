"""Jinja2 templating of desired-state files: the only module that imports `jinja2`.

Files whose name ends in `.j2` are rendered before they are parsed as YAML; plain `.yaml`
files never are, whatever variables are given, so that a `{{` in a plain file means what it
says. Rendering runs in Jinja's immutable sandbox with `StrictUndefined`: a template can
read the variables it is given (`--var k=v`, var files) and nothing else (no environment, no
file system, no `''.__class__` tricks), and an undefined variable is an error at its line.
`${env:…}` references are not Jinja syntax and pass through untouched, to be resolved later.

`trim_blocks` and `lstrip_blocks` are on, so that `{% for %}` lines leave no stray
indentation in the YAML they produce.
"""

from __future__ import annotations

import contextvars
import functools
import time
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from reconciler.errors import Diagnostic, DiagnosticsError, Location, error

if TYPE_CHECKING:
    import jinja2

TEMPLATE_SUFFIX = ".j2"


# Bounds of one render: loop items produced by `range` and seconds of work. A template is a
# page of YAML with a few loops; these leave room for tens of thousands of resources.
MAX_RANGE_ITEMS = 1_000_000
MAX_RENDER_SECONDS = 10.0
_budget: contextvars.ContextVar[list[float]] = contextvars.ContextVar("template_budget")


class TemplateBudgetError(Exception):
    """A template ran past its budget of loop items or seconds."""


def _check_budget(items: int = 0) -> None:
    budget = _budget.get(None)
    if budget is None:
        return
    budget[1] += items
    if budget[1] > MAX_RANGE_ITEMS:
        raise TemplateBudgetError(f"the template's loops run over more than {MAX_RANGE_ITEMS:,} items")
    if time.monotonic() > budget[0]:
        raise TemplateBudgetError(f"the template took more than {MAX_RENDER_SECONDS:g} s to render")


def _budgeted_range(*args: int) -> range:
    items = range(*args)
    _check_budget(len(items))
    return items


@functools.cache
def _env() -> jinja2.Environment:
    """The sandboxed environment, built on first use: most runs render no template, and
    importing jinja2 is not free."""
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class BudgetedEnvironment(ImmutableSandboxedEnvironment):
        """Every call a template makes checks the render's time budget, so that nested loops
        end with an error instead of running for hours."""

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
            _check_budget()
            return super().call(__context, __obj, *args, **kwargs)

    env = BudgetedEnvironment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["range"] = _budgeted_range
    stock = env.filters["tojson"]

    def tojson(eval_ctx: Any, value: Any, indent: int | None = None) -> Any:
        # An undefined value fails as the undefined variable it is; the stock filter would
        # report a JSON serialization error without the variable's name.
        if isinstance(value, jinja2.Undefined):
            value._fail_with_undefined_error()
        return stock(eval_ctx, value, indent)

    env.filters["tojson"] = jinja2.pass_eval_context(tojson)
    return env


def is_template(name: str) -> bool:
    return name.endswith(TEMPLATE_SUFFIX)


def render(source: str, *, file: str, variables: Mapping[str, Any], max_bytes: int) -> str:
    """The rendered text of template `source` (read from `file`). Raises DiagnosticsError."""
    import jinja2

    env = _env()
    try:
        code = env.compile(source, name=file, filename=file)
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
    chunks: list[str] = []
    size = 0
    token = _budget.set([time.monotonic() + MAX_RENDER_SECONDS, 0.0])
    try:
        for chunk in template.generate(dict(variables)):
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
                    "template.too-slow",
                    f"template error: {exc}",
                    location=Location(file, _template_line(exc.__traceback__, file)),
                    hint="check the template's loops: nested ranges multiply",
                )
            ]
        ) from exc
    except Exception as exc:
        # A template runs the user's expressions: any exception they raise (an undefined
        # name, a division by zero, a sandbox refusal) is a problem in the input.
        raise DiagnosticsError([_render_diagnostic(exc, file)]) from exc
    finally:
        _budget.reset(token)
    return "".join(chunks)


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
