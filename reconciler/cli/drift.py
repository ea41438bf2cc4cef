"""`drift`: what changed on the servers outside git, for cron jobs; the report on stdout, in
a file (`--out`) and posted to a webhook (`--notify`), an error report when the check fails."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NoReturn

import click

from reconciler.cli.app import main
from reconciler.cli.options import Desired, complete_names, desired_options, format_option, no_color_option
from reconciler.cli.options import refuse_saved_plan as _refuse_saved_plan
from reconciler.cli.output import OUT, color, report_error, safe
from reconciler.cli.process import run_raising
from reconciler.errors import DiagnosticsError, ReconcilerError
from reconciler.views import OutputFormat

if TYPE_CHECKING:
    from reconciler.drift import DriftReport
    from reconciler.engine import Sources
    from reconciler.model import ServerConfig

HUMAN, JSON, MARKDOWN = OutputFormat.HUMAN, OutputFormat.JSON, OutputFormat.MARKDOWN


@main.command()
@desired_options
@click.option(
    "--server",
    "servers",
    multiple=True,
    metavar="NAME",
    help="Only these servers (repeatable).",
    shell_complete=complete_names("server"),
)
@format_option(HUMAN, JSON, MARKDOWN)
@click.option("--ignore-unmanaged", is_flag=True, help="Do not count unmanaged resources as drift.")
@click.option("--notify", "notify_url", metavar="URL", help="Post the report to this webhook (Slack-compatible JSON).")
@click.option(
    "--notify-always", is_flag=True, help="Post even when there is no drift, and when the check itself fails."
)
@click.option(
    "--environment",
    metavar="NAME",
    envvar="RECONCILER_ENVIRONMENT",
    help="Name of the environment checked (e.g. production), shown in the webhook message. "
    "Default: $RECONCILER_ENVIRONMENT.",
)
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False),
    help="Also write the JSON report to this file (an error report when the check fails).",
)
@no_color_option("No colour, even on a terminal.")
def drift(
    desired: Desired,
    servers: tuple[str, ...],
    fmt: OutputFormat,
    ignore_unmanaged: bool,
    notify_url: str | None,
    notify_always: bool,
    environment: str | None,
    out_file: str | None,
    no_color: bool,
) -> None:
    """Report what changed on the servers outside git. For cron jobs.

    Lists field-level drift on managed resources, managed resources deleted from the server,
    and unmanaged ones. Exits 0 when clean, 2 on drift, 1 on error. A failed --notify is
    reported on stderr and never hides the drift exit code. When the check itself fails,
    --out gets an error report (never the previous run's result) and --notify-always posts
    the failure.

    \b
    Example:
      reconciler drift config/ --format json --notify https://hooks.slack.com/services/T/B/X
    """
    OUT.no_color = no_color
    from reconciler.engine import write_text
    from reconciler.views import drift as drift_views

    _refuse_saved_plan(desired.files, "drift", fmt)
    if notify_url:
        _learn_webhook(notify_url)
    sources = desired.sources()
    described: list[str] = list(servers)
    try:
        report = run_raising(_drift(sources, servers, not ignore_unmanaged, described))
    except ReconcilerError as exc:
        notify = notify_url if notify_always else None
        _drift_failed(exc, fmt, out_file, notify, environment, described, desired.files)
    OUT.out(_render(report, fmt, color(no_color)))
    if out_file:
        try:
            write_text(out_file, OUT.scrub(drift_views.render_drift_json(report) + "\n"))
        except ReconcilerError as exc:
            report_error(exc)
    if notify_url and (report.drifted or notify_always):
        files = desired.files
        payload = drift_views.render_drift_slack(report, environment=environment, servers=described, files=files)
        _notify(notify_url, payload, "Drift report posted to the webhook.")
    sys.exit(2 if report.drifted else 0)


def _learn_webhook(url: str) -> None:
    from urllib.parse import urlsplit

    try:
        # A webhook url's path is its token: never printed, whatever echoes it.
        OUT.learn([urlsplit(url).path.rstrip("/")])
    except ValueError:
        pass


async def _drift(sources: Sources, servers: tuple[str, ...], unmanaged: bool, described: list[str]) -> DriftReport:
    from reconciler.cli.hooks import CliHooks
    from reconciler.engine import Session

    def connected(configs: Mapping[str, ServerConfig]) -> None:
        described[:] = [_describe_server(config) for config in configs.values()]

    session = Session.open(sources, servers=servers, hooks=CliHooks(connected))
    return await session.drift(include_unmanaged=unmanaged)


def _render(report: DriftReport, fmt: OutputFormat, paint: bool) -> str:
    from reconciler.views import drift as drift_views

    if fmt is JSON:
        return drift_views.render_drift_json(report)
    if fmt is MARKDOWN:
        return drift_views.render_drift_markdown(report)
    return drift_views.render_drift_human(report, color=paint)


def _describe_server(config: Any) -> str:
    """A server as a message names it: its name and host (never a path, user or query, which
    may hold a credential)."""
    from urllib.parse import urlsplit

    if config.url.startswith("sandbox:"):
        return f"{config.name} (sandbox)"
    try:
        host = urlsplit(config.url).hostname
    except ValueError:
        host = None
    return f"{config.name} ({host})" if host else str(config.name)


def _notify(url: str, payload: Any, done: str) -> None:
    """Posts `payload` to the webhook; every post goes through the scrubber, as every output does."""
    import asyncio

    from reconciler.platforms.notify import post_json

    try:
        asyncio.run(post_json(url, OUT.scrub_data(payload)))
        OUT.err(done)
    except ReconcilerError as exc:
        OUT.err(f"Warning: {safe(str(exc))}")


def _drift_failed(
    exc: ReconcilerError,
    fmt: str,
    out_file: str | None,
    notify_url: str | None,
    environment: str | None,
    servers: list[str],
    files: tuple[str, ...],
) -> NoReturn:
    """The drift check could not run: the report file says so (a stale report would read as
    this run's), `--notify-always` posts the failure, and the error is reported (exit 1)."""
    from reconciler.engine import write_text
    from reconciler.views import outcome

    diagnostics = exc.diagnostics if isinstance(exc, DiagnosticsError) else ()
    summary = str(exc.args[0]) if diagnostics and exc.args else str(exc)
    message = summary
    if diagnostics:
        message += ": " + "; ".join(str(d).split("\n")[0] for d in diagnostics[:5])
    if out_file:
        try:
            text = outcome.render_drift_error_json(summary, hint=exc.hint, diagnostics=diagnostics, servers=servers)
            write_text(out_file, OUT.scrub(text) + "\n")
        except ReconcilerError as write_exc:
            OUT.err(f"Warning: {safe(str(write_exc))}")
    if notify_url:
        payload = outcome.render_drift_error_slack(
            OUT.scrub(message), environment=environment, servers=servers, files=files
        )
        _notify(notify_url, payload, "Drift check failure posted to the webhook.")
    report_error(exc, fmt, title="Reconciler drift check")
