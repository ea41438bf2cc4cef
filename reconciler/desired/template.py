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

from collections.abc import Mapping
from types import TracebackType
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from reconciler.errors import Diagnostic, DiagnosticsError, Location, error

TEMPLATE_SUFFIX = ".j2"

_ENV = ImmutableSandboxedEnvironment(
    undefined=jinja2.StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
)



def _tojson(eval_ctx: Any, value: Any, indent: int | None = None) -> Any:
    """Jinja's `tojson`, but an undefined value fails as the undefined variable it is (the
    stock filter would report a JSON serialization error without the variable's name)."""
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()
    return _STOCK_TOJSON(eval_ctx, value, indent)


_STOCK_TOJSON = _ENV.filters["tojson"]
_ENV.filters["tojson"] = jinja2.pass_eval_context(_tojson)


def is_template(name: str) -> bool:
    return name.endswith(TEMPLATE_SUFFIX)


def render(source: str, *, file: str, variables: Mapping[str, Any], max_bytes: int) -> str:
    """The rendered text of template `source` (read from `file`). Raises DiagnosticsError."""
    try:
        code = _ENV.compile(source, name=file, filename=file)
        template = _ENV.template_class.from_code(_ENV, code, _ENV.make_globals(None), None)
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
    except Exception as exc:
        # A template runs the user's expressions: any exception they raise (an undefined
        # name, a division by zero, a sandbox refusal) is a problem in the input.
        raise DiagnosticsError([_render_diagnostic(exc, file)]) from exc
    return "".join(chunks)


def _render_diagnostic(exc: Exception, file: str) -> Diagnostic:
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
