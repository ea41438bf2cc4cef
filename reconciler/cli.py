"""The `reconciler` command line: thin click commands over the library.

This is the only module that prints, prompts or picks an exit code. Every `ReconcilerError`
becomes a clean message with its hint (never a traceback); exit codes are 0 success, 1 error,
2 "changes present" where a command documents it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from reconciler import __version__


def _fail(message: str, hint: str | None = None, code: int = 1) -> NoReturn:
    click.secho(f"Error: {message}", fg="red", err=True)
    if hint:
        click.echo(f"  hint: {hint}", err=True)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="reconciler")
def main() -> None:
    """Declarative reconciler for Kubiya integrations, Conductor providers and console channels.

    Keep the integrations you want in a YAML file; `plan` shows what would change on the live
    servers, `apply` makes exactly those changes.

    \b
    Example:
      reconciler plan examples/quickstart.yaml
    """


@main.group()
def sandbox() -> None:
    """Run the local emulators of the three APIs (Kubiya, Conductor, console).

    \b
    Example:
      reconciler sandbox serve --port 8080 --db .reconciler/sandbox.db
    """


@sandbox.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
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
@click.option("--fault-seed", type=int, default=None, help="Seed of the fault randomness, for repeatable runs.")
@click.option("--log-level", default="warning", show_default=True, type=click.Choice(["debug", "info", "warning", "error"]))
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
    from reconciler.sandbox.faults import Faults
    from reconciler.sandbox.seed import SeedError, load_seed
    from reconciler.sandbox.serve import serve

    try:
        seed = load_seed(seed_file) if seed_file else None
        faults = Faults.from_dict({**rates, "seed": fault_seed})
    except (SeedError, ValueError) as exc:
        _fail(str(exc))
    click.echo(f"sandbox listening on http://{host}:{port} (database {db_path})", err=True)
    serve(host, port, db_path, seed=seed, faults=faults, log_level=log_level)


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
            _fail(f"cannot reach the sandbox at {url}: {exc}")
        if response.status_code != 200:
            _fail(f"the sandbox at {url} answered {response.status_code}")
        click.echo(f"sandbox at {url} reset")
        return
    from reconciler.sandbox.app import create_app
    from reconciler.sandbox.seed import SeedError, load_seed

    try:
        seed = load_seed(seed_file) if seed_file else None
    except SeedError as exc:
        _fail(str(exc))
    if db_path != ":memory:" and not Path(db_path).parent.exists():
        Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    app: Any = create_app(db_path, seed=seed)
    app.state.sandbox.reset()
    app.state.sandbox.db.close()
    click.echo(f"sandbox database {db_path} reset")


if __name__ == "__main__":  # pragma: no cover
    main()
