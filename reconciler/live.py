"""Connecting to the declared servers and reading their live state: one invocation's `Run`.

`Sources` says where a desired state came from (enough to load it again); `open_run` loads
it, connects to its servers (taking their apply locks first for an apply) and reads their
live state at once, per server concurrently; `Run.aclose` releases it all. The engine's
`Session` is built on it.

This is the composition root of the adapters: `connect` resolves a `sandbox:` url into the
in-process sandbox's transport and its built-in credentials and passes both to the adapter, so
that `platforms` never imports the sandbox.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reconciler import desired as desired_state
from reconciler import planfile, platforms
from reconciler.errors import ConfigError, LockedError, PlatformError, ReconcilerError
from reconciler.model import Address, LiveResource, Resource, ServerConfig
from reconciler.plan import Plan
from reconciler.platforms import Platform
from reconciler.platforms.retry import RetryPolicy
from reconciler.platforms.transports import Transport

# Named in annotations only: a plan's cold start does without apply's modules.
if TYPE_CHECKING:
    from reconciler.apply import Observer
    from reconciler.outcomes import ApplyResult

# Set while a run only reads (plan, drift, export): a `sandbox:` database that does not exist
# is then read as an empty sandbox in memory, and neither it nor its directory is created.
sandbox_read_only: ContextVar[bool] = ContextVar("sandbox_read_only", default=False)


def sandbox_database(url: str) -> str:
    """The database file a `sandbox:` url names (made absolute when the desired state is
    built), or `:memory:`."""
    return url[len("sandbox:") :] or ".reconciler/sandbox.db"


def sandbox_exists(url: str) -> bool:
    path = sandbox_database(url)
    return path == ":memory:" or os.path.exists(path)


def sandbox_transport(server: ServerConfig) -> Transport:
    """The in-process sandbox of a `sandbox:` server's database, opened on first use; while
    `sandbox_read_only` is set, a database that does not exist is not created."""
    # Imported here: the sandbox (FastAPI, SQLite) costs a cold start that no other url needs.
    from reconciler.sandbox import transport as sandbox

    try:
        if sandbox_read_only.get() and not sandbox_exists(server.url):
            from reconciler.sandbox.app import create_app

            # Read, never created: an empty (seeded) sandbox of its own.
            return sandbox.transport(server.url, app=create_app(":memory:"))
        return sandbox.transport(server.url)
    except Exception as exc:  # sqlite3 and OS errors of the sandbox's database
        raise PlatformError(
            f"server {server.name!r}: cannot open the sandbox database of {server.url!r} ({exc})",
            hint="give `sandbox:` for .reconciler/sandbox.db, or sandbox:PATH to a writable file",
        ) from exc


def connect(server: ServerConfig, retry: RetryPolicy | None = None) -> Platform:
    """The adapter of `server`; a `sandbox:` server gets the in-process sandbox of its database
    and, for the credentials it does not declare, the sandbox's built-in ones. `retry`: the
    retry policy of its requests (the default one when None)."""
    if not server.is_sandbox:
        return platforms.connect(server, retry=retry)
    from reconciler.sandbox.credentials import built_in

    credentials = built_in(server.kind.value)
    return platforms.connect(server, transport=sandbox_transport(server), credentials=credentials, retry=retry)


@dataclass(frozen=True)
class Sources:
    """Where a desired state came from, enough to load it again.

    `variables` (`--var`) may hold secrets: its serialized form keeps only their names and
    keyed digests (see `variable_digests`), never the values."""

    paths: tuple[str, ...]
    variables: Mapping[str, str] = field(default_factory=dict)
    var_files: tuple[str, ...] = ()

    def to_dict(self, key: bytes = b"", salt: str = "") -> dict[str, Any]:
        return {
            "paths": list(self.paths),
            "variables": planfile.variable_digests(self.variables, key, salt),
            "variables_salt": salt,
            "var_files": list(self.var_files),
        }


def variables_key(state: desired_state.DesiredState) -> bytes:
    """The key of the `--var` digests: derived from the servers' credentials, so that a reader
    of a plan file cannot try guesses of a variable against its digest."""
    mac = hmac.new(b"reconciler-variables", digestmod=hashlib.sha256)
    for name in sorted(state.servers):
        server = state.servers[name]
        for field_name in sorted(server.credentials):
            mac.update(f"{name}.{field_name}\0{server.credentials[field_name].reveal()}\0".encode())
        if server.fingerprint_key is not None:
            mac.update(f"{name}.fp\0{server.fingerprint_key.reveal()}\0".encode())
    return mac.digest()


def new_salt() -> str:
    return secrets.token_hex(8)


@dataclass
class Run:
    """One invocation's loaded state, connections and what was read."""

    state: desired_state.DesiredState
    sources: Sources
    platforms: dict[str, Platform] = field(default_factory=dict)
    prepared: list[Resource] = field(default_factory=list)
    live: list[LiveResource] = field(default_factory=list)
    locked: list[Platform] = field(default_factory=list)
    # What a person should know about where the state was read (e.g. the sandbox database).
    notes: list[str] = field(default_factory=list)

    async def execute(
        self, plan: Plan, observer: Observer | None = None, stop: asyncio.Event | None = None
    ) -> ApplyResult:
        """Carry out `plan` on this run's connections."""
        from reconciler.apply import apply  # imported here: only an apply needs it

        return await apply(plan, self.platforms, observer=observer, stop=stop)

    def started(self) -> set[Address]:
        """The addresses whose calls have started and not been answered (after an interrupt)."""
        return set().union(*(p.in_flight for p in self.platforms.values()))

    async def aclose(self) -> None:
        # The apply locks go first, while the connections are still open.
        await asyncio.gather(*(p.unlock() for p in self.locked), return_exceptions=True)
        self.locked.clear()
        await asyncio.gather(*(p.aclose() for p in self.platforms.values()), return_exceptions=True)


def lock_holder() -> str:
    """Who holds a lock, for the person who finds it held: user, host and process."""
    import getpass
    import os
    import socket

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}:{os.getpid()}"


def load(
    sources: Sources, environ: Mapping[str, str] | None = None, servers: Sequence[str] = ()
) -> desired_state.DesiredState:
    """The desired state; with `servers`, only those servers' secret references are resolved."""
    return desired_state.load(
        list(sources.paths),
        variables=sources.variables,
        var_files=list(sources.var_files),
        environ=environ,
        servers=servers,
    )


def select_servers(state: desired_state.DesiredState, names: Sequence[str] = ()) -> dict[str, ServerConfig]:
    if not names:
        return dict(state.servers)
    unknown = [n for n in names if n not in state.servers]
    if unknown:
        raise ConfigError(
            f"unknown server(s): {', '.join(unknown)}",
            hint=f"declared servers: {', '.join(sorted(state.servers)) or 'none'}",
        )
    return {n: state.servers[n] for n in names}


def sandbox_notes(servers: Iterable[ServerConfig], read_only: bool) -> list[str]:
    """One line per sandbox database the servers use: which file, and whether it exists."""
    by_db: dict[str, list[str]] = {}
    for server in servers:
        if server.is_sandbox:
            by_db.setdefault(sandbox_database(server.url), []).append(server.name)
    notes = []
    for db, names in by_db.items():
        which = f"Sandbox database {db} (server{'s' if len(names) > 1 else ''} {', '.join(names)})"
        if db == ":memory:":
            notes.append(f"{which}: in memory, gone when the command ends.")
        elif not sandbox_exists("sandbox:" + db):
            done = "read as an empty sandbox, not created" if read_only else "created"
            notes.append(f"{which}: does not exist yet; {done}.")
        else:
            notes.append(f"{which}.")
    return notes


async def open_run(
    sources: Sources,
    *,
    environ: Mapping[str, str] | None = None,
    servers: Sequence[str] = (),
    lock_timeout: float | None = None,
    read_only: bool = False,
) -> Run:
    """Load the desired state, connect to its servers and read their live state at once.

    With `lock_timeout` (an apply), each server's apply lock is taken first, waiting up to that
    many seconds, so that the live state read and planned against cannot change under it by
    another apply; `Run.aclose` releases the locks. `read_only` (plan, drift, export): a
    sandbox database that does not exist is read as an empty sandbox and not created."""
    state = load(sources, environ, servers)
    return await connect_run(state, sources, servers=servers, lock_timeout=lock_timeout, read_only=read_only)


async def connect_run(
    state: desired_state.DesiredState,
    sources: Sources,
    *,
    servers: Sequence[str] = (),
    lock_timeout: float | None = None,
    read_only: bool = False,
    retry: RetryPolicy | None = None,
) -> Run:
    """`open_run` of a desired state already loaded; `retry`: the retry policy of every
    server's requests (the default one when None)."""
    run = Run(state, sources)
    chosen = select_servers(state, servers)
    run.notes = sandbox_notes(chosen.values(), read_only)
    token = sandbox_read_only.set(read_only)
    try:
        for name, server in chosen.items():
            run.platforms[name] = connect(server, retry)
        if lock_timeout is not None:
            await _lock_all(run, lock_timeout)
        await _read_all(run)
    except BaseException:
        await run.aclose()
        raise
    finally:
        sandbox_read_only.reset(token)
    return run


async def _lock_all(run: Run, timeout: float) -> None:
    """Take every server's apply lock (where the API offers one), in name order, so that two
    applies over several servers cannot deadlock."""
    holder = lock_holder()
    for name, platform in sorted(run.platforms.items()):
        if not platform.supports_lock:
            continue
        try:
            await platform.lock(holder, timeout)
        except LockedError:
            raise
        except ReconcilerError as exc:
            raise PlatformError(f"cannot read the live state: server {name!r}: {exc}", hint=exc.hint) from exc
        run.locked.append(platform)


# Desired resources prepared between two turns of the event loop while the servers are read.
_PREPARE_SLICE = 1000


async def _read_all(run: Run) -> None:
    """Warm, prepare and read every server at once; every server that fails is named."""
    by_server: dict[str, list[Resource]] = {n: [] for n in run.platforms}
    resources = run.state.resources

    async def read_server(name: str, platform: Platform) -> list[LiveResource]:
        # Per server: a server that cannot be reached while warming is not read again.
        await platform.warm()
        mine = [r for r in resources if r.address.server == name]
        prepared: list[Resource] = []
        for start in range(0, len(mine), _PREPARE_SLICE):
            # A turn of the event loop before each slice: the lists `warm` asked for go out
            # first, and the servers make them while this process prepares.
            await asyncio.sleep(0)
            prepared += [platform.prepare(r) for r in mine[start : start + _PREPARE_SLICE]]
        by_server[name] = prepared
        return await platform.read_live(prepared)

    results = await asyncio.gather(*(read_server(n, p) for n, p in run.platforms.items()), return_exceptions=True)
    # In the desired state's order, across servers, as the planner expects.
    position = {r.address: i for i, r in enumerate(resources)}
    run.prepared = sorted((r for n in run.platforms for r in by_server[n]), key=lambda r: position[r.address])
    errors: list[str] = []
    for name, result in zip(run.platforms, results, strict=True):
        if isinstance(result, ReconcilerError):
            errors.append(f"server {name!r}: {result}" + (f" (hint: {result.hint})" if result.hint else ""))
        elif isinstance(result, BaseException):
            raise result
        else:
            run.live.extend(result)
    if errors:
        raise PlatformError("cannot read the live state: " + "; ".join(errors))
