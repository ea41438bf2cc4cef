"""`sandbox serve` and `sandbox reset`: the local emulators of the three APIs."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import click

from reconciler.cli.app import main
from reconciler.cli.options import Group
from reconciler.cli.output import fail


@main.group(cls=Group)
def sandbox() -> None:
    """Run the local emulators of the three APIs (Kubiya, Conductor, console).

    \b
    Example:
      reconciler sandbox serve --port 8080 --db .reconciler/sandbox.db
    """


@sandbox.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8080,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0: any free one).",
)
@click.option(
    "--db",
    "db_path",
    default=".reconciler/sandbox.db",
    show_default=True,
    help="SQLite database file, or :memory:.",
)
@click.option("--seed", "seed_file", type=click.Path(dir_okay=False), help="YAML seed file (tokens, keys, agents).")
@click.option("--latency-ms", type=float, default=0.0, help="Delay added to every API request.")
@click.option("--jitter-ms", type=float, default=0.0, help="Random extra delay, up to this much.")
@click.option("--error-rate", type=float, default=0.0, help="Fraction of requests answered 500/503.")
@click.option("--rate-limit", "rate_limit_rps", type=float, default=0.0, help="Requests per second before 429.")
@click.option("--drop-before-rate", type=float, default=0.0, help="Fraction of writes dropped before commit.")
@click.option("--drop-after-rate", type=float, default=0.0, help="Fraction of writes dropped after commit.")
@click.option("--throttle-every", type=click.IntRange(min=0), default=0, help="Answer every N-th request 429.")
@click.option("--error-every", type=click.IntRange(min=0), default=0, help="Answer every N-th request 500/503.")
@click.option("--drop-after-every", type=click.IntRange(min=0), default=0, help="Drop every N-th write after commit.")
@click.option("--fault-seed", type=int, default=None, help="Seed of the fault randomness, for repeatable runs.")
@click.option(
    "--log-level", default="warning", show_default=True, type=click.Choice(["debug", "info", "warning", "error"])
)
def sandbox_serve(
    host: str,
    port: int,
    db_path: str,
    seed_file: str | None,
    log_level: str,
    fault_seed: int | None,
    **rates: float,
) -> None:
    """Serve the sandbox over HTTP.

    Point a server's `url` at it (e.g. `http://127.0.0.1:8080`) to use it like a real host.

    \b
    Example:
      reconciler sandbox serve --port 8080 --latency-ms 25 --error-rate 0.2
    """
    # Imported here, as the sandbox itself: SQLite costs a cold start that the other commands need not pay.
    import sqlite3

    from reconciler.sandbox.faults import Faults
    from reconciler.sandbox.seed import SeedError, default_seed, load_seed
    from reconciler.sandbox.serve import bind, serve

    try:
        seed = load_seed(seed_file) if seed_file else None
        faults = Faults.from_dict({**rates, "seed": fault_seed})
    except (SeedError, ValueError) as exc:
        fail(str(exc))
    # Bound before anything is announced: a busy port is an error, never "listening" first.
    try:
        sock = bind(host, port)
    except OSError as exc:
        reason = "is already in use" if exc.errno == errno.EADDRINUSE else f"cannot be bound ({exc.strerror})"
        fail(f"{host}:{port} {reason}", "stop what is listening there, or choose another --port (0: any free one)")
    bound_port = sock.getsockname()[1]
    url = f"http://{host if ':' not in host else f'[{host}]'}:{bound_port}"
    lines = [f"Sandbox listening on {url} (database {db_path}); Ctrl-C to stop."]
    if seed_file:
        lines.append(f"Credentials: those of {seed_file}.")
    else:
        lines += _builtin_credentials(default_seed())
    try:
        text = "\n".join(lines)
        serve(sock, db_path, seed=seed, faults=faults, log_level=log_level, ready=lambda: click.echo(text, err=True))
    except (sqlite3.Error, OSError) as exc:  # opening the database
        fail(f"cannot start the sandbox with database {db_path}: {exc}", "give --db a writable file, or :memory:")


def _builtin_credentials(seed: Any) -> list[str]:
    """The sandbox's own, public credentials, as a desired state's `servers:` would use them."""
    kubiya = ", ".join(f"{t} (organization {org})" for t, org in seed.kubiya_tokens.items())
    conductor = ", ".join(
        f"{k.id} / {k.secret} (organization {k.organization})" for k in seed.conductor_keys.values()
    )
    console = ", ".join(
        f"{k.key} (team {k.team}{'' if 'integrations:write' in k.scopes else ', read only'})"
        for k in seed.console_keys.values()
    )
    return [
        "Built-in credentials (--seed FILE replaces them):",
        f"  kubiya     token: {kubiya}",
        f"  conductor  key_id / key_secret: {conductor}",
        f"  console    api_key: {console}; agents: {', '.join(a.id for a in seed.console_agents)}",
    ]


@sandbox.command("reset")
@click.option("--db", "db_path", default=".reconciler/sandbox.db", show_default=True, help="SQLite database file.")
@click.option("--seed", "seed_file", type=click.Path(dir_okay=False), help="YAML seed file (tokens, keys, agents).")
@click.option("--url", default=None, help="Reset a running sandbox through its admin endpoint instead.")
def sandbox_reset(db_path: str, seed_file: str | None, url: str | None) -> None:
    """Wipe every resource in the sandbox and re-create the seeded rows.

    \b
    Example:
      reconciler sandbox reset --db .reconciler/sandbox.db
      reconciler sandbox reset --url http://127.0.0.1:8080
    """
    if url:
        import httpx

        try:
            response = httpx.post(url.rstrip("/") + "/_sandbox/reset", timeout=10)
        except httpx.HTTPError as exc:
            fail(f"cannot reach the sandbox at {url}: {exc}")
        if response.status_code != 200:
            fail(f"the sandbox at {url} answered {response.status_code}")
        click.echo(f"sandbox at {url} reset")
        return
    import sqlite3  # imported here: see `sandbox_serve`

    from reconciler.sandbox.app import create_app
    from reconciler.sandbox.seed import SeedError, load_seed

    try:
        seed = load_seed(seed_file) if seed_file else None
    except SeedError as exc:
        fail(str(exc))
    if db_path != ":memory:" and not Path(db_path).parent.exists():
        Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    try:
        app: Any = create_app(db_path, seed=seed)
        app.state.sandbox.reset()
        app.state.sandbox.db.close()
    except (sqlite3.Error, OSError) as exc:  # opening the database
        fail(f"cannot reset the sandbox database {db_path}: {exc}", "give --db a writable SQLite file")
    click.echo(f"sandbox database {db_path} reset")
