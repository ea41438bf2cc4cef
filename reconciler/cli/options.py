"""The options commands share, each set packed by one decorator into one frozen value:
`desired_options` into `desired` (`Desired`: files and variables), `plan_options` into
`request` (`session_values.PlanRequest`), `format_option` into `fmt` (`views.OutputFormat`). Also the
command group that makes usage errors exit 1, and the recognition of a saved plan given
where desired-state files are expected.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from reconciler.cli.output import fail, report_error
from reconciler.errors import ReconcilerError
from reconciler.views import OutputFormat

if TYPE_CHECKING:
    from reconciler.engine import Sources

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


@dataclass(frozen=True)
class Desired:
    """The desired-state arguments as given: FILES, `--var KEY=VALUE`, `--var-file`."""

    files: tuple[str, ...]
    var: tuple[str, ...] = ()
    var_file: tuple[str, ...] = ()

    def variables(self) -> dict[str, str]:
        """The `--var` values, or exit 1 naming the malformed one."""
        out: dict[str, str] = {}
        for pair in self.var:
            key, sep, value = pair.partition("=")
            if not sep or not key.strip():
                fail(f"--var {pair!r} is not of the form key=value", "for example: --var env=staging")
            out[key.strip()] = value
        return out

    def sources(self) -> Sources:
        """The engine's `Sources`, or exit 1 when no file is given."""
        from reconciler.engine import Sources

        if not self.files:
            fail("no desired-state files given", "name one or more YAML files or directories")
        return Sources(self.files, self.variables(), self.var_file)


def _packing(
    f: Callable[..., Any], names: tuple[str, ...], pack: Callable[..., tuple[str, Any]]
) -> Callable[..., Any]:
    """`f` called with the click parameters `names` replaced by one value, `pack(**those)`."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key, value = pack(**{n: kwargs.pop(n) for n in names})
        return f(*args, **{key: value}, **kwargs)

    return wrapper


def desired_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """FILES, --var and --var-file, given to the command as `desired` (`Desired`)."""
    w = _packing(f, ("files", "var", "var_file"), lambda **given: ("desired", Desired(**given)))
    w = click.option(
        "--var-file",
        "var_file",
        multiple=True,
        type=click.Path(dir_okay=False),
        help="YAML file of variables.",
    )(w)
    w = click.option("--var", "var", multiple=True, metavar="KEY=VALUE", help="Template variable (repeatable).")(w)
    w = click.argument("files", nargs=-1, type=click.Path())(w)
    return w


def complete_names(what: str) -> Callable[[click.Context, click.Parameter, str], list[Any]]:
    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
        from click.shell_completion import CompletionItem

        from reconciler import scaffold

        # While an option's value is completed, click leaves the file arguments unparsed in ctx.args.
        files = tuple(ctx.params.get("files") or ()) or tuple(a for a in ctx.args if not a.startswith("-"))
        names = scaffold.completion_names(list(files), what)
        return [CompletionItem(n) for n in names if n.startswith(incomplete)]

    return complete



_REQUEST = ("prune", "max_deletes", "targets", "excludes", "replace", "servers", "take_ownership", "no_adopt")


def _request(**given: Any) -> tuple[str, Any]:
    from reconciler.session_values import PlanRequest

    no_adopt = given.pop("no_adopt")
    return "request", PlanRequest(**given, adopt=not no_adopt)


def plan_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Options that shape a plan (plan, apply), given to the command as `request`
    (`session_values.PlanRequest`); and --no-color."""
    w = _packing(f, _REQUEST, _request)
    opts = [
        click.option("--prune", is_flag=True, help="Delete managed resources missing from the desired state."),
        click.option("--max-deletes", type=click.IntRange(0), default=None, help="Refuse plans deleting more than N."),
        click.option(
            "--target",
            "targets",
            multiple=True,
            metavar="ADDRESS",
            help="Only this address (prefix).",
            shell_complete=complete_names("address"),
        ),
        click.option(
            "--exclude",
            "excludes",
            multiple=True,
            metavar="ADDRESS",
            help="Leave this address out.",
            shell_complete=complete_names("address"),
        ),
        click.option(
            "--replace",
            "replace",
            multiple=True,
            metavar="ADDRESS",
            help="Replace this resource even if unchanged.",
            shell_complete=complete_names("address"),
        ),
        click.option(
            "--server",
            "servers",
            multiple=True,
            metavar="NAME",
            help="Only these servers (repeatable).",
            shell_complete=complete_names("server"),
        ),
        click.option(
            "--take-ownership",
            "take_ownership",
            multiple=True,
            metavar="ADDRESS",
            help="Move this declared resource from another ownership scope to this one.",
        ),
        click.option(
            "--no-adopt",
            "no_adopt",
            is_flag=True,
            help="Leave declared resources that exist without a marker unmarked (read-only adoption).",
        ),
        click.option("--no-color", is_flag=True, help="No colour, even on a terminal (NO_COLOR is honoured too)."),
    ]
    for opt in reversed(opts):
        w = opt(w)
    return w


def format_option(*formats: OutputFormat) -> Decorator:
    """--format, one of `formats` (the first is the default), given as `fmt` (`OutputFormat`)."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice([f.value for f in formats]),
        default=formats[0].value,
        show_default=True,
        callback=lambda _ctx, _param, value: OutputFormat(value),
    )


def no_color_option(help: str = "No colour, even on a terminal (NO_COLOR is honoured too).") -> Decorator:
    return click.option("--no-color", is_flag=True, help=help)


class Group(click.Group):
    """A command group whose usage errors exit 1: exit 2 means "changes" (`plan
    --detailed-exitcode`) or "drift" (`drift`), and a pipeline must never read a mistyped
    option as either."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as exc:
            setattr(exc, "exit_code", 1)  # noqa: B010 (click declares it a class variable)
            raise

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            setattr(exc, "exit_code", 1)  # noqa: B010 (click declares it a class variable)
            raise


def looks_like_plan_file(files: tuple[str, ...]) -> bool:
    if len(files) != 1 or not Path(files[0]).is_file():
        return False
    try:
        with open(files[0], "rb") as fh:
            head = fh.read(1_000_000)
    except OSError:
        return False
    # A JSON object carrying the plan format tag (YAML desired states never start with `{`).
    return head.lstrip().startswith(b"{") and b"reconciler-plan" in head


def refuse_saved_plan(files: tuple[str, ...], command: str, fmt: str = OutputFormat.HUMAN) -> None:
    """A saved plan given where desired-state files are expected: say what to run instead of
    reporting each of its keys as an unknown field. With `--format markdown` the refusal is
    on stdout too: a pipeline posts stdout, and an empty comment would keep the previous one."""
    if looks_like_plan_file(files):
        report_error(
            ReconcilerError(
                f"{files[0]} is a saved plan, not a desired-state file: `reconciler {command}` reads YAML files",
                hint=f"use `reconciler apply {files[0]}` to apply it",
            ),
            fmt,
            title=f"Reconciler {command}",
        )
