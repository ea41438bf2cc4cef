"""The pipeline the commands run: load desired → connect → read live → plan → apply.

It wires the stages together and owns nothing of their logic: `desired` loads and validates,
`platforms` read and write, `planner` computes the plan, `apply` executes it, `planfile`
writes and reads saved plans. `Session` is what a command opens: one desired state (loaded
from paths and variables, or given) with `plan()`, `apply()`, `drift()`, `export()` and
`force_unlock()`, reporting what a person should know through `Hooks`, never printing. The
engine also gathers every secret value the run knows, so that the CLI can scrub any output
as a last line of defence.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from dataclasses import replace as _replace
from pathlib import Path
from typing import Any

from reconciler import desired as desired_state
from reconciler import planfile, planner
from reconciler.apply import ApplyResult, Observer, apply
from reconciler.drift import DriftReport, from_plan
from reconciler.errors import ConfigError, LockedError, PlatformError, ReconcilerError
from reconciler.model import (
    CHANNEL_FAMILIES,
    Address,
    LiveResource,
    Resource,
    ResourceKind,
    Sensitive,
    ServerConfig,
    ServerKind,
)
from reconciler.plan import Plan
from reconciler.platforms import Platform, connect
from reconciler.platforms.http import sandbox_database, sandbox_exists, sandbox_read_only


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


def secret_values(state: desired_state.DesiredState) -> set[str]:
    """Every secret value the desired state resolved, for scrubbing output."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, Sensitive):
            if value.reveal():
                found.add(value.reveal())
        elif isinstance(value, Mapping):
            for v in value.values():
                walk(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)

    for server in state.servers.values():
        walk(dict(server.credentials))
        if server.fingerprint_key is not None:
            walk(server.fingerprint_key)
    for res in state.resources:
        walk(res.body)
    return found


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
) -> Run:
    """`open_run` of a desired state already loaded."""
    run = Run(state, sources)
    chosen = select_servers(state, servers)
    run.notes = sandbox_notes(chosen.values(), read_only)
    token = sandbox_read_only.set(read_only)
    try:
        for name, server in chosen.items():
            run.platforms[name] = connect(server)
        if lock_timeout is not None:
            holder = lock_holder()
            # In name order, so that two applies over several servers cannot deadlock.
            for name, platform in sorted(run.platforms.items()):
                if platform.supports_lock:
                    try:
                        await platform.lock(holder, lock_timeout)
                    except LockedError:
                        raise
                    except ReconcilerError as exc:
                        raise PlatformError(
                            f"cannot read the live state: server {name!r}: {exc}", hint=exc.hint
                        ) from exc
                    run.locked.append(platform)
        by_server: dict[str, list[Resource]] = {n: [] for n in run.platforms}

        async def read_server(name: str, platform: Platform) -> list[LiveResource]:
            # Per server: a server that cannot be reached while warming is not read again.
            await platform.warm()
            by_server[name] = [platform.prepare(r) for r in state.resources if r.address.server == name]
            return await platform.read_live(by_server[name])

        results = await asyncio.gather(
            *(read_server(n, p) for n, p in run.platforms.items()), return_exceptions=True
        )
        # In the desired state's order, across servers, as the planner expects.
        position = {r.address: i for i, r in enumerate(state.resources)}
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
    except BaseException:
        await run.aclose()
        raise
    finally:
        sandbox_read_only.reset(token)
    return run


def plan_options(
    run: Run,
    *,
    prune: bool = False,
    max_deletes: int | None = None,
    targets: Sequence[str] = (),
    excludes: Sequence[str] = (),
    replace: Sequence[str] = (),
    take_ownership: Sequence[str] = (),
    adopt: bool = True,
) -> planner.PlanOptions:
    prune_servers = frozenset(n for n, p in run.platforms.items() if prune or p.server.prune)
    return planner.PlanOptions(
        prune_servers=prune_servers,
        max_deletes=max_deletes,
        targets=tuple(targets),
        excludes=tuple(excludes),
        replace=tuple(replace),
        sources=run.sources.to_dict(variables_key(run.state), new_salt()),
        owners=_owners(run),
        take_ownership=tuple(take_ownership),
        adopt=adopt,
        channel_limits=_channel_limits(run),
    )


def _channel_limits(run: Run) -> dict[str, int]:
    return {name: p.server.channel_limit for name, p in run.platforms.items() if p.server.channel_limit is not None}


def _owners(run: Run) -> dict[str, str]:
    return {name: p.server.owner for name, p in run.platforms.items()}


def make_plan(run: Run, options: planner.PlanOptions) -> Plan:
    plan = planner.make_plan(run.prepared, run.live, options)
    found = [*run.state.diagnostics, *(d for p in run.platforms.values() for d in p.diagnostics)]
    if found:
        plan = _replace(plan, diagnostics=tuple(found) + tuple(plan.diagnostics))
    return plan


async def execute(
    run: Run, plan: Plan, observer: Observer | None = None, stop: asyncio.Event | None = None
) -> ApplyResult:
    return await apply(plan, run.platforms, observer=observer, stop=stop)


def write_text(path: str | Path, text: str) -> None:
    """Write a report or plan file whole (through a temporary file), or raise ConfigError."""
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
    except OSError as exc:
        raise ConfigError(
            f"cannot write {target}: {exc.strerror or exc}", hint="check that the directory exists and is writable"
        ) from exc


# -- the session -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanRequest:
    """How to plan (the options of `plan` and `apply`): `servers` limits the run to those
    servers; the rest are `planner.PlanOptions` as a person gives them."""

    servers: tuple[str, ...] = ()
    prune: bool = False
    max_deletes: int | None = None
    targets: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    replace: tuple[str, ...] = ()
    take_ownership: tuple[str, ...] = ()
    adopt: bool = True


@dataclass(frozen=True)
class ExportRequest:
    """What `export` writes: one server's live state, of these kinds (all when empty), these
    console agents, and with `with_servers` the server's declaration too."""

    server: str
    kinds: tuple[ResourceKind, ...] = ()
    agents: tuple[str, ...] = ()
    with_servers: bool = False


@dataclass(frozen=True)
class Planned:
    """A plan and the options it was made with, as a plan file saves them."""

    plan: Plan
    options: planfile.SavedOptions


@dataclass(frozen=True)
class Applied:
    """What `apply` did: the plan it made and `result`, absent when there was nothing to do or
    `review` declined (`declined`)."""

    plan: Plan
    result: ApplyResult | None = None
    declined: bool = False


@dataclass(frozen=True)
class Exported:
    """The YAML text of an export, the variables it references and how many resources it holds."""

    text: str
    needed: tuple[str, ...]
    count: int


@dataclass(frozen=True)
class Unlocked:
    """`force_unlock`: whether the server's API has a lock, and who held it (None: nobody)."""

    supported: bool
    holder: str | None


class Hooks:
    """What a session tells the person running it, as it happens. The default ignores it all."""

    def note(self, text: str) -> None:
        """A line worth knowing about where the state was read (e.g. the sandbox database)."""

    def connected(self, session: Session, servers: Mapping[str, ServerConfig]) -> None:
        """The servers' live state was read (after the notes)."""


# Runs an apply on an open run: the caller's, to own interrupts and progress (the CLI's).
Executor = Callable[[Run, Plan], Awaitable[ApplyResult]]


class Session:
    """One desired state and the commands run on it. Each command connects, reads what it
    needs, closes its connections (and apply locks) and returns a value."""

    def __init__(
        self,
        state: desired_state.DesiredState,
        sources: Sources | None = None,
        *,
        servers: Sequence[str] = (),
        hooks: Hooks | None = None,
    ) -> None:
        self.state = state
        self.sources = sources or Sources(tuple(state.files))
        self.servers = tuple(servers)
        self.hooks = hooks or Hooks()

    @classmethod
    def open(
        cls,
        sources: Sources,
        *,
        servers: Sequence[str] = (),
        environ: Mapping[str, str] | None = None,
        hooks: Hooks | None = None,
    ) -> Session:
        """Load the desired state of `sources`; with `servers`, only those servers' secret
        references are resolved, and only those servers are contacted."""
        return cls(load(sources, environ, servers), sources, servers=servers, hooks=hooks)

    @property
    def secrets(self) -> set[str]:
        """Every secret value the desired state resolved, for scrubbing output."""
        return secret_values(self.state)

    @asynccontextmanager
    async def connect(self, *, lock_timeout: float | None = None, read_only: bool = False) -> AsyncIterator[Run]:
        """Connected, with the live state read (see `open_run`); closed, locks released, on exit."""
        run = await connect_run(
            self.state, self.sources, servers=self.servers, lock_timeout=lock_timeout, read_only=read_only
        )
        try:
            for note in run.notes:
                self.hooks.note(note)
            self.hooks.connected(self, {name: p.server for name, p in run.platforms.items()})
            yield run
        finally:
            await run.aclose()

    async def plan(self, request: PlanRequest = PlanRequest()) -> Planned:
        """The plan against the live state; writes nothing (a missing sandbox is not created)."""
        async with self.connect(read_only=True) as run:
            options = _options(run, request)
            return Planned(make_plan(run, options), planfile.SavedOptions.of(options, self.servers))

    async def apply(
        self,
        request: PlanRequest = PlanRequest(),
        *,
        lock_timeout: float = 0.0,
        saved: planfile.SavedPlan | None = None,
        review: Callable[[Plan], bool] = lambda plan: True,
        execute: Executor | None = None,
    ) -> Applied:
        """Plan under the servers' apply locks, let `review` see the plan and approve it, and
        carry it out. With `saved` (a plan file), plan again with its options and `--var`
        digests and refuse unless the result is the saved plan; `request` is then unused."""
        async with self.connect(lock_timeout=lock_timeout) as run:
            if saved is not None:
                salt = saved.variables_salt
                planfile.check_variables(
                    saved, planfile.variable_digests(run.sources.variables, variables_key(run.state), salt)
                )
                fresh = make_plan(run, _saved_options(run, saved))
                planfile.check_fresh(saved.plan, fresh)
            else:
                fresh = make_plan(run, _options(run, request))
            approved = review(fresh)
            if not fresh.has_changes:
                return Applied(fresh)
            if not approved:
                return Applied(fresh, declined=True)
            return Applied(fresh, await (execute or _execute)(run, fresh))

    async def drift(self, *, include_unmanaged: bool = True) -> DriftReport:
        """What changed on the servers outside the desired state (a plan with default options)."""
        async with self.connect(read_only=True) as run:
            return from_plan(make_plan(run, plan_options(run)), include_unmanaged=include_unmanaged)

    async def export(self, request: ExportRequest) -> Exported:
        """One server's live state as desired-state YAML (`desired.export`), read as plan reads
        it: declared resources prepared first, so that live ones take their declared identity."""
        from reconciler.desired.export import export as export_yaml
        from reconciler.desired.export import references_by_path, references_of

        server = request.server
        config = select_servers(self.state, [server])[server]
        declared = [r for r in self.state.resources if r.address.server == server]
        wants_channels = not request.kinds or ResourceKind.CHANNEL in request.kinds
        if config.kind is ServerKind.CONSOLE and wants_channels and not request.agents and not declared:
            raise ConfigError(
                f"server {server!r} is a console, whose API cannot list agents: nothing to export",
                hint=f"name the agents: reconciler export {' '.join(self.sources.paths)} --server {server} "
                "--agent AGENT_ID",
            )
        for note in sandbox_notes([config], read_only=True):
            self.hooks.note(note)
        platform = _connect_one(config, read_only=True)
        try:
            await platform.warm()
            scope = [platform.prepare(r) for r in declared]
            # The console lists no agents: an agent's channels are read through a stand-in.
            scope += [
                Resource(Address(ResourceKind.CHANNEL, server, (a, CHANNEL_FAMILIES[0]), "_"), {})
                for a in request.agents
            ]
            live = await platform.read_live(scope)
        finally:
            await platform.aclose()
        text, needed = export_yaml(
            config,
            live,
            list(request.kinds) or None,
            references_of(self.state.resources),
            references_by_path(self.state.resources),
            request.with_servers,
        )
        return Exported(text, tuple(needed), sum(1 for r in live if not r.deleted))

    async def force_unlock(self, server: str) -> Unlocked:
        """Remove `server`'s apply lock, whoever holds it."""
        platform = connect(select_servers(self.state, [server])[server])
        try:
            return Unlocked(platform.supports_lock, await platform.break_lock())
        finally:
            await platform.aclose()


def _connect_one(config: ServerConfig, *, read_only: bool) -> Platform:
    token = sandbox_read_only.set(read_only)
    try:
        return connect(config)
    finally:
        sandbox_read_only.reset(token)


async def _execute(run: Run, plan: Plan) -> ApplyResult:
    return await run.execute(plan)


def _options(run: Run, request: PlanRequest) -> planner.PlanOptions:
    return plan_options(
        run,
        prune=request.prune,
        max_deletes=request.max_deletes,
        targets=request.targets,
        excludes=request.excludes,
        replace=request.replace,
        take_ownership=request.take_ownership,
        adopt=request.adopt,
    )


def _saved_options(run: Run, saved: planfile.SavedPlan) -> planner.PlanOptions:
    options = saved.options
    return planner.PlanOptions(
        prune_servers=options.prune_servers,
        max_deletes=options.max_deletes,
        targets=options.targets,
        excludes=options.excludes,
        replace=options.replace,
        sources=run.sources.to_dict(variables_key(run.state), saved.variables_salt),
        owners=_owners(run),
        take_ownership=options.take_ownership,
        adopt=options.adopt,
        channel_limits=_channel_limits(run),
    )
