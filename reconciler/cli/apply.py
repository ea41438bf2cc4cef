"""`apply`: make the changes a plan shows, from desired-state files (after confirmation) or
from a saved plan (only if planning again gives the same plan). Ctrl-C handling lives here:
the first stops new changes, the second stops at once."""

from __future__ import annotations

import os
import signal
import sys
from typing import TYPE_CHECKING

import click

from reconciler.cli.app import main
from reconciler.cli.options import Desired, desired_options, format_option, looks_like_plan_file, plan_options
from reconciler.cli.output import OUT, ScrubbingStream, color, fail, report_error
from reconciler.cli.process import run_command
from reconciler.errors import ReconcilerError
from reconciler.views import OutputFormat

if TYPE_CHECKING:
    from reconciler.engine import Run, Sources
    from reconciler.outcomes import ApplyResult
    from reconciler.plan import Plan
    from reconciler.planfile import SavedPlan
    from reconciler.session_values import Applied, PlanRequest
    from reconciler.views.lines import LineObserver

HUMAN, JSON = OutputFormat.HUMAN, OutputFormat.JSON


@main.command(name="apply")
@desired_options
@plan_options
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--lock-timeout",
    type=click.FloatRange(0),
    default=0.0,
    show_default=True,
    metavar="SECONDS",
    help="Wait this long for another apply's lock on a server before failing.",
)
@format_option(HUMAN, JSON)
def apply_cmd(
    desired: Desired, request: PlanRequest, auto_approve: bool, lock_timeout: float, fmt: OutputFormat, no_color: bool
) -> None:
    """Make the changes a plan shows: creates, updates, replaces and (with --prune) deletes.

    Where the API allows it (Kubiya), each server's apply lock is taken before the live state
    is read, so that a second apply waits (--lock-timeout) or fails naming the holder.

    Given desired-state files, it plans, shows the plan and asks before acting. Given a plan
    file saved by `plan --out`, it plans again from the same files and options and applies
    only if the result is the saved plan; on any difference (a resource changed on the server,
    an edited file, other --var values) it refuses with exit 1, naming what differs. Ctrl-C stops starting new
    changes, waits for the calls in flight and prints what was and was not done.

    \b
    Example:
      reconciler apply examples/quickstart.yaml --auto-approve
      reconciler apply plan.json
    """
    OUT.no_color = no_color
    from reconciler import views

    paint = color(no_color)
    saved: SavedPlan | None = None
    if looks_like_plan_file(desired.files):
        saved, sources = _read_saved(desired, request)
    else:
        sources = desired.sources()
    applied = run_command(_apply(sources, request, saved, lock_timeout, auto_approve, fmt, paint), fmt)
    if applied.declined:
        OUT.err("Apply cancelled.")
        sys.exit(1)
    if applied.result is None:
        if fmt is JSON:
            OUT.out(views.render_plan_json(applied.plan))
        return
    if fmt is JSON:
        OUT.out(views.render_apply_json(applied.result))
    else:
        # The outcomes were written as they came; the failures and the summary follow them.
        OUT.out(views.render_apply_human(applied.result, color=paint, lines=False))
    sys.exit(0 if applied.result.ok and not applied.result.interrupted else 1)


def _read_saved(desired: Desired, request: PlanRequest) -> tuple[SavedPlan, Sources]:
    """The saved plan and its sources; exit 1 if planning options were given beside it."""
    from reconciler import planfile
    from reconciler.engine import Sources

    options = {
        "--var-file": desired.var_file,
        "--prune": request.prune,
        "--max-deletes": request.max_deletes is not None,
        "--target": request.targets,
        "--exclude": request.excludes,
        "--replace": request.replace,
        "--server": request.servers,
        "--take-ownership": request.take_ownership,
        "--no-adopt": not request.adopt,
    }
    given = [name for name, value in options.items() if value]
    if given:
        fail(
            f"{', '.join(given)} cannot be combined with a saved plan: it applies exactly what was planned",
            "give these options to `reconciler plan --out FILE` instead",
        )
    try:
        saved = planfile.read(desired.files[0])
    except ReconcilerError as exc:
        report_error(exc)
    return saved, Sources(saved.paths, desired.variables(), saved.var_files)


async def _apply(
    sources: Sources,
    request: PlanRequest,
    saved: SavedPlan | None,
    lock_timeout: float,
    auto_approve: bool,
    fmt: OutputFormat,
    paint: bool,
) -> Applied:
    from reconciler import views
    from reconciler.cli.hooks import CliHooks
    from reconciler.engine import Session

    servers = saved.options.servers if saved is not None else request.servers
    session = Session.open(sources, servers=servers, hooks=CliHooks())

    def review(plan: Plan) -> bool:
        if fmt is HUMAN:
            OUT.out(views.render_plan_human(plan, color=paint))
        return not plan.has_changes or saved is not None or auto_approve or _confirm()

    async def execute(run: Run, plan: Plan) -> ApplyResult:
        return await _execute(run, plan, paint, quiet=fmt is not HUMAN)

    return await session.apply(request, lock_timeout=lock_timeout, saved=saved, review=review, execute=execute)


def _confirm() -> bool:
    if not sys.stdin.isatty():
        fail(
            "apply needs confirmation, and standard input is not a terminal",
            "review the plan, then run again with --auto-approve (or apply a saved plan file)",
        )
    answer = _ask("Do you want to perform these actions? Only 'yes' will be accepted to approve: ")
    if answer is None:
        OUT.err("")
        return False
    return answer.strip() == "yes"


def _ask(prompt: str) -> str | None:
    """One line from the terminal, or None on Ctrl-C or Ctrl-D.

    input() (and readline) cannot be used: a Ctrl-C that lands after the prompt is shown and
    before the read blocks is only noticed at the next key press, so the first Ctrl-C would
    seem to do nothing. Here the signal also writes to a pipe that the wait watches beside
    the terminal, so it ends the wait whenever it comes."""
    import select

    interrupted: list[int] = []
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    previous_fd = signal.set_wakeup_fd(wake_w)
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: interrupted.append(signum))
    try:
        OUT.out(prompt, nl=False)
        sys.stdout.flush()
        while not interrupted:
            ready, _, _ = select.select([sys.stdin, wake_r], [], [])
            if wake_r in ready:
                os.read(wake_r, 512)
                continue  # the handler has run (or another signal came): look again
            line = sys.stdin.readline()
            return line if line else None  # "" is end of input (Ctrl-D)
        return None
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.set_wakeup_fd(previous_fd)
        os.close(wake_r)
        os.close(wake_w)


async def _execute(run: Run, plan: Plan, color: bool, quiet: bool) -> ApplyResult:
    """Runs the apply. The first Ctrl-C stops new work and lets the calls in flight finish; a
    second one stops at once, saying which calls were in flight (they may have completed)."""
    import asyncio

    from reconciler.views.lines import LineObserver

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # The record of outcomes belongs on stdout (`apply > apply.log` keeps it); the bar and
    # notes are transient and go to stderr. JSON output carries its own record.
    records = ScrubbingStream(sys.stderr if quiet else sys.stdout)
    notes = ScrubbingStream(sys.stderr)
    observer: LineObserver
    if not quiet and sys.stderr.isatty():
        # The live bar, and with it rich, only for a person at a terminal.
        from rich.console import Console

        from reconciler.views.progress import ProgressObserver

        console = Console(file=notes, no_color=not color, highlight=False)  # type: ignore[arg-type]
        observer = ProgressObserver(
            console, records=Console(file=records, no_color=not color, highlight=False)  # type: ignore[arg-type]
        )
    else:
        observer = LineObserver(records, notes)
    task = asyncio.ensure_future(run.execute(plan, observer=observer, stop=stop))
    hard = False

    def interrupt() -> None:
        nonlocal hard
        if stop.is_set():
            hard = True
            task.cancel()
            return
        stop.set()
        observer.note(
            "\nInterrupted: no new changes start; waiting for the calls in flight... (Ctrl-C again to stop now)"
        )

    installed = False
    try:
        loop.add_signal_handler(signal.SIGINT, interrupt)
        loop.add_signal_handler(signal.SIGTERM, interrupt)
        installed = True
    except (NotImplementedError, RuntimeError):
        pass
    try:
        return await task
    except asyncio.CancelledError:
        if not hard:
            raise
        return _stopped_now(run, plan, observer)
    finally:
        observer.close()
        if installed:
            loop.remove_signal_handler(signal.SIGINT)
            loop.remove_signal_handler(signal.SIGTERM)


def _stopped_now(run: Run, plan: Plan, observer: LineObserver) -> ApplyResult:
    """The result of an apply stopped by a second Ctrl-C: what was done, what was in flight
    (it may have completed on the server) and what never started."""
    from reconciler.outcomes import NOT_STARTED, ApplyResult, Failed, Outcome, Skipped

    known: dict[int, Outcome] = {id(o.change): o for o in observer.outcomes}
    started = run.started()
    in_flight = [c for c in plan.actionable if id(c) not in known and c.address in started]
    lost = "stopped while in flight (second interrupt)"
    for c in plan.actionable:
        if id(c) not in known:
            known[id(c)] = Failed(c, lost, unknown=True) if c.address in started else Skipped(c, NOT_STARTED)
            observer.outcome(known[id(c)])
    observer.close()
    OUT.err(
        f"\nTwo interrupts received: stopped immediately, without waiting for the {len(in_flight)} "
        "call(s) in flight. They may have completed on the server (listed below); "
        "`reconciler apply` again reads the live state first and converges."
    )
    return ApplyResult(tuple(known[id(c)] for c in plan.actionable), interrupted=True)
