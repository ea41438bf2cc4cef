"""`export` (a server's live state as desired-state YAML) and `force-unlock` (remove a
server's apply lock): the two commands that work on one declared server."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from reconciler.cli.app import main
from reconciler.cli.options import Desired, desired_options
from reconciler.cli.options import refuse_saved_plan as _refuse_saved_plan
from reconciler.cli.output import OUT, report_error
from reconciler.cli.process import run_command
from reconciler.errors import ReconcilerError

if TYPE_CHECKING:
    from reconciler.engine import Sources
    from reconciler.session_values import Exported, ExportRequest, Unlocked


@main.command()
@desired_options
@click.option("--server", "server", required=True, metavar="NAME", help="The server to export (declared in FILES).")
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(["integration", "provider", "channel"]),
    help="Only these kinds (repeatable; providers come with their models).",
)
@click.option("--agent", "agents", multiple=True, metavar="ID", help="Console agents to export (repeatable).")
@click.option("--out", "out_file", type=click.Path(dir_okay=False), help="Write the YAML here instead of stdout.")
@click.option(
    "--with-servers",
    is_flag=True,
    help="Also write `version:` and the server's declaration (credentials as references): a complete file.",
)
def export(
    desired: Desired,
    server: str,
    kinds: tuple[str, ...],
    agents: tuple[str, ...],
    out_file: str | None,
    with_servers: bool,
) -> None:
    """Write a server's live state as desired-state YAML, to adopt an existing setup.

    FILES declare the server (a file holding just `servers:` is enough). Secrets the server
    does not return become `${env:...}` references to fill in; fields the server adds are left
    out. Planned together with FILES, the export shows no changes. The console cannot list
    agents: name them with --agent, or declare channels on them in FILES.

    \b
    Example:
      reconciler export servers.yaml --server orkes --out orkes.yaml
      reconciler plan servers.yaml orkes.yaml
    """
    from reconciler.engine import write_text
    from reconciler.model import ResourceKind
    from reconciler.session_values import ExportRequest

    _refuse_saved_plan(desired.files, "export")
    sources = desired.sources()
    request = ExportRequest(server, tuple(ResourceKind(k) for k in kinds), agents, with_servers)
    exported = run_command(_export(sources, request))
    if out_file:
        try:
            write_text(out_file, OUT.scrub(exported.text))
        except ReconcilerError as exc:
            report_error(exc)
        OUT.err(f"Exported {exported.count} resource(s) to {out_file}")
    else:
        OUT.out(exported.text, nl=False)
    if exported.needed:
        OUT.err("Set these variables before planning: " + ", ".join(exported.needed))


async def _export(sources: Sources, request: ExportRequest) -> Exported:
    from reconciler.cli.hooks import CliHooks
    from reconciler.engine import Session

    session = Session.open(sources, servers=[request.server], hooks=CliHooks())
    OUT.learn(session.secrets)
    return await session.export(request)


@main.command(name="force-unlock")
@desired_options
@click.option("--server", "server", required=True, metavar="NAME", help="The server whose apply lock to remove.")
def force_unlock(desired: Desired, server: str) -> None:
    """Remove a server's apply lock, whoever holds it (an apply that died without releasing it).

    A lock also expires by itself 15 minutes after it was taken. Removing the lock of an apply
    that is still running lets another apply run at the same time: check first.

    \b
    Example:
      reconciler force-unlock config/ --server kubiya
    """
    sources = desired.sources()
    unlocked = run_command(_force_unlock(sources, server))
    if not unlocked.supported:
        OUT.out(f"Server {server!r}: its API offers no lock to remove (nothing done).")
    elif unlocked.holder is None:
        OUT.out(f"Server {server!r}: no apply lock is held.")
    else:
        OUT.out(f"Server {server!r}: removed the apply lock held by {unlocked.holder}.")


async def _force_unlock(sources: Sources, server: str) -> Unlocked:
    from reconciler.engine import Session

    session = Session.open(sources, servers=[server])
    OUT.learn(session.secrets)
    return await session.force_unlock(server)
