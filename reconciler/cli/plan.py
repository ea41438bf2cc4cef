"""`validate` and `plan`: check the files; show what apply would change, with the pipeline
gates (`--fail-on`, `--max-changes`, `--detailed-exitcode`) and `--out` (a plan file)."""

from __future__ import annotations

import itertools
import sys
from typing import TYPE_CHECKING, Any

import click

from reconciler.cli.app import main
from reconciler.cli.options import Desired, desired_options, format_option, no_color_option, plan_options
from reconciler.cli.options import refuse_saved_plan as _refuse_saved_plan
from reconciler.cli.output import OUT, color, fail, report_error, source_reader
from reconciler.cli.process import run_command
from reconciler.errors import ReconcilerError
from reconciler.views import OutputFormat

if TYPE_CHECKING:
    from reconciler.plan import Action, Plan
    from reconciler.session_values import Planned, PlanRequest

HUMAN, JSON, MARKDOWN = OutputFormat.HUMAN, OutputFormat.JSON, OutputFormat.MARKDOWN


@main.command()
@desired_options
@format_option(HUMAN, JSON)
@click.option(
    "--strict-secrets",
    is_flag=True,
    help="Treat an unset ${env:...} variable as an error (by default a warning: plan and apply need it).",
)
@no_color_option()
def validate(desired: Desired, fmt: OutputFormat, strict_secrets: bool, no_color: bool) -> None:
    """Check desired-state files without contacting any server.

    Reports every problem at once, each with file:line:column and a hint. Exits 0 when valid,
    1 otherwise.

    \b
    Example:
      reconciler validate examples/quickstart.yaml
      reconciler validate examples/multi-env/ --var-file examples/multi-env/vars/prod.yaml
    """
    OUT.no_color = no_color
    from reconciler import desired as desired_state
    from reconciler import views

    _refuse_saved_plan(desired.files, "validate")
    sources = desired.sources()
    state, diagnostics = desired_state.check(
        list(sources.paths), variables=sources.variables, var_files=list(sources.var_files)
    )
    if not strict_secrets:
        # Validation is about the files; the secrets' values are needed by plan and apply. A
        # pull-request job may well run without them (forks have no access to CI secrets).
        diagnostics = [_unset_env_as_warning(d) for d in diagnostics]
    errors = [d for d in diagnostics if d.severity.value == "error"]
    if fmt is JSON:
        OUT.out(views.render_diagnostics_json(diagnostics))
    else:
        if diagnostics:
            OUT.err(views.render_diagnostics(diagnostics, color=color(no_color, sys.stderr), source=source_reader()))
        if not errors and state is not None:
            OUT.out(_valid_line(len(state.files), len(state.resources), len(state.servers), sources.paths))
    sys.exit(1 if errors else 0)


def _valid_line(n_files: int, n_resources: int, n_servers: int, paths: tuple[str, ...]) -> str:
    return (
        f"Valid: {n_files} file{'s' if n_files != 1 else ''}, "
        f"{n_resources} resource{'s' if n_resources != 1 else ''}, "
        f"{n_servers} server(s) checked ({', '.join(paths)})"
    )


def _unset_env_as_warning(diagnostic: Any) -> Any:
    from dataclasses import replace

    from reconciler.errors import Severity

    if diagnostic.code != "reference.env-missing":
        return diagnostic
    return replace(
        diagnostic,
        severity=Severity.WARNING,
        hint="plan and apply need it set; validate checks the files only (--strict-secrets to fail)",
    )


@main.command()
@desired_options
@plan_options
@format_option(HUMAN, JSON, MARKDOWN)
@click.option("--out", "out_file", type=click.Path(dir_okay=False), help="Save the plan (no secrets) for `apply FILE`.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0 with no changes, 2 with changes, 1 on error.")
@click.option(
    "--fail-on",
    "fail_on",
    default="",
    metavar="ACTIONS",
    help="Exit 1 when the plan holds these actions (comma-separated: create/add, update/change, replace, "
    "delete/destroy).",
)
@click.option("--max-changes", type=click.IntRange(0), default=None, help="Exit 1 when the plan has more changes.")
def plan(
    desired: Desired,
    request: PlanRequest,
    fmt: OutputFormat,
    out_file: str | None,
    detailed_exitcode: bool,
    fail_on: str,
    max_changes: int | None,
    no_color: bool,
) -> None:
    """Show what apply would change on the live servers. Writes nothing.

    \b
    Example:
      reconciler plan examples/quickstart.yaml
      reconciler plan config/ --format markdown --out plan.json --detailed-exitcode
    """
    OUT.no_color = no_color
    from reconciler import views

    _refuse_saved_plan(desired.files, "plan", fmt)
    sources = desired.sources()
    fail_actions = _parse_actions(fail_on)
    planned = run_command(_plan(sources, request), fmt)
    refusal = _plan_refusal(planned.plan, fail_actions, max_changes)
    rendered = views.stream_plan(planned.plan, fmt, color=color(no_color))
    if refusal is not None and fmt is MARKDOWN:
        # The comment says first that the plan was refused, and which changes it refused.
        from reconciler.views.outcome import render_refusal_markdown

        heading = render_refusal_markdown(refusal[0], refusal[2], hint=refusal[1]) + "\n\n"
        rendered = itertools.chain((heading,), rendered)
    OUT.out_parts(rendered)
    # The gates come before the plan file: a refused plan must leave nothing to apply.
    if refusal is not None:
        message, hint, _ = refusal
        fail(message + (f"; no plan was saved to {out_file}" if out_file else ""), hint)
    if out_file:
        _save(planned, out_file)
    if detailed_exitcode and planned.plan.has_changes:
        sys.exit(2)


async def _plan(sources: Any, request: PlanRequest) -> Planned:
    from reconciler.cli.hooks import CliHooks
    from reconciler.engine import Session

    session = Session.open(sources, servers=request.servers, hooks=CliHooks())
    return await session.plan(request)


def _save(planned: Planned, out_file: str) -> None:
    from reconciler import planfile
    from reconciler.engine import write_text

    try:
        write_text(out_file, OUT.scrub(planfile.text(planned.plan, planned.options, out_file)))
    except ReconcilerError as exc:
        report_error(exc)
    OUT.err(f"Saved the plan to {out_file}; apply it with: reconciler apply {out_file}")


def _plan_refusal(
    plan: Plan, fail_actions: set[Action], max_changes: int | None
) -> tuple[str, str | None, list[str]] | None:
    """`(message, hint, addresses)` when a pipeline gate refuses the plan, else None."""
    gate = [c for c in plan.actionable if c.action in fail_actions]
    if gate:
        names = ", ".join(sorted({c.action.value for c in gate}))
        return (
            f"the plan holds {len(gate)} change(s) of a kind --fail-on refuses ({names})",
            "review them; these need a human decision",
            [str(c.address) for c in gate],
        )
    if max_changes is not None and len(plan.actionable) > max_changes:
        return (f"the plan holds {len(plan.actionable)} changes, more than --max-changes {max_changes}", None, [])
    return None


def _parse_actions(text: str) -> set[Action]:
    from reconciler.plan import Action

    # The plan's own words count too: "Plan: 1 to add, 2 to change, 1 to replace, 1 to destroy."
    words = {"add": Action.CREATE, "change": Action.UPDATE, "destroy": Action.DELETE}
    out = set()
    for part in filter(None, (p.strip().lower() for p in text.split(","))):
        try:
            out.add(words.get(part) or Action(part))
        except ValueError:
            fail(
                f"--fail-on: unknown action {part!r}",
                "use create (add), update (change), replace, or delete (destroy)",
            )
    return out
