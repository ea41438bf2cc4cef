"""The pipeline the commands run: load desired → connect → read live → plan → apply.

It wires the stages together and owns nothing of their logic: `desired` loads and validates,
`live` connects and reads the servers, `planner` computes the plan, `apply` executes it,
`planfile` writes and reads saved plans. `Session` is what a command opens: one desired state (loaded
from paths and variables, or given) with `plan()`, `apply()`, `drift()`, `export()` and
`force_unlock()`, reporting what a person should know through `Hooks`, never printing. The
engine also gathers every secret value the run knows, so that the CLI can scrub any output
as a last line of defence.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace as _replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler import desired as desired_state
from reconciler import planfile, planner
from reconciler.errors import ConfigError
from reconciler.live import (
    Run,
    Sources,
    connect,
    connect_run,
    load,
    lock_holder,
    new_salt,
    open_run,
    sandbox_notes,
    sandbox_read_only,
    select_servers,
    variables_key,
)
from reconciler.model import CHANNEL_FAMILIES, Address, Resource, ResourceKind, ServerConfig, ServerKind
from reconciler.plan import Plan
from reconciler.platforms import Platform
from reconciler.secrecy import sensitive_in
from reconciler.session_values import Applied, Exported, ExportRequest, Planned, PlanRequest, Unlocked

# Named in annotations only (and `drift` imported where `Session.drift` uses it): a plan's cold
# start does without apply's and drift's modules.
if TYPE_CHECKING:
    from reconciler.apply import Observer
    from reconciler.drift import DriftReport
    from reconciler.outcomes import ApplyResult

# `live`'s names are re-exported: the engine is where callers find the pipeline's stages
# (the values its commands take and give are `session_values`').
__all__ = [
    "Hooks",
    "Run",
    "Session",
    "Sources",
    "connect_run",
    "execute",
    "load",
    "lock_holder",
    "make_plan",
    "open_run",
    "plan_options",
    "sandbox_notes",
    "secret_values",
    "select_servers",
    "variables_key",
    "write_text",
]


def secret_values(state: desired_state.DesiredState) -> set[str]:
    """Every secret value the desired state resolved, for scrubbing output."""
    held: list[Any] = [dict(server.credentials) for server in state.servers.values()]
    held += [server.fingerprint_key for server in state.servers.values() if server.fingerprint_key is not None]
    held += [res.body for res in state.resources]
    return {secret.reveal() for value in held for secret in sensitive_in(value) if secret.reveal()}


def plan_options(run: Run, request: PlanRequest = PlanRequest()) -> planner.PlanOptions:
    """The planner's options for a plan made now: `request` as a person gave it, the servers
    declared `prune: true` pruned too, and a new salt for the `--var` digests."""
    prune_servers = frozenset(n for n, p in run.platforms.items() if request.prune or p.server.prune)
    return _planner_options(run, request, prune_servers, new_salt())


def _saved_options(run: Run, saved: planfile.SavedPlan) -> planner.PlanOptions:
    """The planner's options for a saved plan made again: the ones it was made with."""
    return _planner_options(run, saved.options, saved.options.prune_servers, saved.variables_salt)


def _planner_options(
    run: Run, given: PlanRequest | planfile.SavedOptions, prune_servers: frozenset[str], salt: str
) -> planner.PlanOptions:
    return planner.PlanOptions(
        prune_servers=prune_servers,
        max_deletes=given.max_deletes,
        targets=tuple(given.targets),
        excludes=tuple(given.excludes),
        replace=tuple(given.replace),
        sources=run.sources.to_dict(variables_key(run.state), salt),
        owners=_owners(run),
        take_ownership=tuple(given.take_ownership),
        adopt=given.adopt,
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
    return await run.execute(plan, observer=observer, stop=stop)


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


class Hooks:
    """What a session tells the person running it, as it happens. The default ignores it all."""

    def note(self, text: str) -> None:
        """A line worth knowing about where the state was read (e.g. the sandbox database)."""

    def connected(self, session: Session, servers: Mapping[str, ServerConfig]) -> None:
        """The servers' live state was read (after the notes)."""


# Runs an apply on an open run: the caller's, to own interrupts and progress (the CLI's).
Executor = Callable[[Run, Plan], Awaitable["ApplyResult"]]


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
            options = plan_options(run, request)
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
                fresh = make_plan(run, plan_options(run, request))
            approved = review(fresh)
            if not fresh.has_changes:
                return Applied(fresh)
            if not approved:
                return Applied(fresh, declined=True)
            return Applied(fresh, await (execute or _execute)(run, fresh))

    async def drift(self, *, include_unmanaged: bool = True) -> DriftReport:
        """What changed on the servers outside the desired state (a plan with default options)."""
        from reconciler.drift import from_plan  # imported here: see the note on the imports

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


