"""The pipeline the commands run: load desired → connect → read live → plan → apply.

It wires the stages together and owns nothing of their logic: `desired` loads and validates,
`platforms` read and write, `planner` computes the plan, `apply` executes it. It also gathers
every secret value the run knows, so that the CLI can scrub any output as a last line of
defence, and it checks a saved plan against a fresh one before applying it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler import desired as desired_state
from reconciler import planner
from reconciler.apply import ApplyResult, Observer, apply
from reconciler.errors import ConfigError, LockedError, PlatformError, ReconcilerError, StalePlanError
from reconciler.model import LiveResource, Resource, Sensitive, ServerConfig
from reconciler.plan import Action, Plan
from reconciler.platforms import Platform, connect

PLAN_FILE_FORMAT = "reconciler-plan"


@dataclass(frozen=True)
class Sources:
    """Where a desired state came from, enough to load it again (no secret values)."""

    paths: tuple[str, ...]
    variables: Mapping[str, str] = field(default_factory=dict)
    var_files: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"paths": list(self.paths), "variables": dict(self.variables), "var_files": list(self.var_files)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Sources:
        return cls(
            tuple(data.get("paths") or ()),
            dict(data.get("variables") or {}),
            tuple(data.get("var_files") or ()),
        )


@dataclass
class Run:
    """One invocation's loaded state, connections and what was read."""

    state: desired_state.DesiredState
    sources: Sources
    platforms: dict[str, Platform] = field(default_factory=dict)
    prepared: list[Resource] = field(default_factory=list)
    live: list[LiveResource] = field(default_factory=list)
    locked: list[Platform] = field(default_factory=list)

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


def load(sources: Sources, environ: Mapping[str, str] | None = None) -> desired_state.DesiredState:
    return desired_state.load(
        list(sources.paths), variables=sources.variables, var_files=list(sources.var_files), environ=environ
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


async def open_run(
    sources: Sources,
    *,
    environ: Mapping[str, str] | None = None,
    servers: Sequence[str] = (),
    lock_timeout: float | None = None,
) -> Run:
    """Load the desired state, connect to its servers and read their live state at once.

    With `lock_timeout` (an apply), each server's apply lock is taken first, waiting up to that
    many seconds, so that the live state read and planned against cannot change under it by
    another apply; `Run.aclose` releases the locks."""
    state = load(sources, environ)
    run = Run(state, sources)
    chosen = select_servers(state, servers)
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
        await asyncio.gather(*(p.warm() for p in run.platforms.values()))
        run.prepared = [
            run.platforms[r.address.server].prepare(r) for r in state.resources if r.address.server in run.platforms
        ]
        by_server: dict[str, list[Resource]] = {n: [] for n in run.platforms}
        for r in run.prepared:
            by_server[r.address.server].append(r)
        results = await asyncio.gather(
            *(p.read_live(by_server[n]) for n, p in run.platforms.items()), return_exceptions=True
        )
        errors: list[str] = []
        for name, result in zip(run.platforms, results, strict=True):
            if isinstance(result, ReconcilerError):
                errors.append(f"server {name!r}: {result}")
            elif isinstance(result, BaseException):
                raise result
            else:
                run.live.extend(result)
        if errors:
            raise PlatformError("cannot read the live state: " + "; ".join(errors))
    except BaseException:
        await run.aclose()
        raise
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
        sources=run.sources.to_dict(),
        owners=_owners(run),
        take_ownership=tuple(take_ownership),
        adopt=adopt,
    )


def _owners(run: Run) -> dict[str, str]:
    return {name: p.server.owner for name, p in run.platforms.items()}


def make_plan(run: Run, options: planner.PlanOptions) -> Plan:
    plan = planner.make_plan(run.prepared, run.live, options)
    if run.state.diagnostics:
        from dataclasses import replace as _replace

        plan = _replace(plan, diagnostics=tuple(run.state.diagnostics) + tuple(plan.diagnostics))
    return plan


async def execute(
    run: Run, plan: Plan, observer: Observer | None = None, stop: asyncio.Event | None = None
) -> ApplyResult:
    return await apply(plan, run.platforms, observer=observer, stop=stop)


# -- saved plans ---------------------------------------------------------------------------


def plan_file_dict(plan: Plan, options: planner.PlanOptions, servers: Sequence[str] = ()) -> dict[str, Any]:
    data = plan.to_dict()
    data["format"] = PLAN_FILE_FORMAT
    data["options"] = {
        "servers": list(servers),
        "prune_servers": sorted(options.prune_servers),
        "max_deletes": options.max_deletes,
        "targets": list(options.targets),
        "excludes": list(options.excludes),
        "replace": list(options.replace),
        "take_ownership": list(options.take_ownership),
        "adopt": options.adopt,
    }
    return data


def write_plan_file(path: str | Path, plan: Plan, options: planner.PlanOptions, servers: Sequence[str] = ()) -> None:
    """The plan and what it was made from (files, variables, servers, options): no secret."""
    write_text(path, json.dumps(plan_file_dict(plan, options, servers), indent=2, sort_keys=True) + "\n")


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


def read_plan_file(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read the plan file ({exc.strerror})") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{p}: not a plan file (invalid JSON)", hint="write one with `reconciler plan --out FILE`"
        ) from exc
    if not isinstance(data, dict) or data.get("format") != PLAN_FILE_FORMAT:
        raise ConfigError(f"{p}: not a reconciler plan file", hint="write one with `reconciler plan --out FILE`")
    problem = _plan_file_problem(data)
    if problem:
        raise ConfigError(
            f"{p}: the plan file is damaged ({problem})",
            hint="make the plan again with `reconciler plan --out FILE`; do not edit plan files",
        )
    return data


def _plan_file_problem(data: Mapping[str, Any]) -> str | None:
    """What is wrong with the shape of a plan file's document, if anything."""
    changes = data.get("changes")
    if not isinstance(changes, list):
        return "`changes` is not a list"
    for i, change in enumerate(changes):
        if not isinstance(change, dict):
            return f"changes[{i}] is not an object"
        for key in ("address", "action"):
            if not isinstance(change.get(key), str):
                return f"changes[{i}].{key} is missing or not a string"
        if change["action"] not in {a.value for a in Action}:
            return f"changes[{i}].action {change['action']!r} is unknown"
    sources = data.get("sources")
    if not isinstance(sources, dict):
        return "`sources` is not an object"
    paths = sources.get("paths")
    if not isinstance(paths, list) or not all(isinstance(x, str) for x in paths):
        return "`sources.paths` is not a list of file names"
    if not isinstance(sources.get("variables", {}), dict) or not isinstance(sources.get("var_files", []), list):
        return "`sources.variables` or `sources.var_files` has the wrong type"
    options = data.get("options", {})
    if not isinstance(options, dict):
        return "`options` is not an object"
    for key in ("servers", "prune_servers", "targets", "excludes", "replace", "take_ownership"):
        value = options.get(key, [])
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            return f"`options.{key}` is not a list of strings"
    max_deletes = options.get("max_deletes")
    if max_deletes is not None and (not isinstance(max_deletes, int) or isinstance(max_deletes, bool)):
        return "`options.max_deletes` is not a number"
    return None


def options_from_file(data: Mapping[str, Any]) -> tuple[Sources, dict[str, Any]]:
    sources = Sources.from_dict(data.get("sources") or {})
    if not sources.paths:
        raise ConfigError("the plan file names no desired-state files")
    return sources, dict(data.get("options") or {})


def saved_plan_options(run: Run, options: Mapping[str, Any]) -> planner.PlanOptions:
    return planner.PlanOptions(
        prune_servers=frozenset(options.get("prune_servers") or ()),
        max_deletes=options.get("max_deletes"),
        targets=tuple(options.get("targets") or ()),
        excludes=tuple(options.get("excludes") or ()),
        replace=tuple(options.get("replace") or ()),
        sources=run.sources.to_dict(),
        owners=_owners(run),
        take_ownership=tuple(options.get("take_ownership") or ()),
        adopt=options.get("adopt") is not False,
    )


def stale_addresses(saved: Mapping[str, Any], fresh: Plan) -> list[str]:
    """Addresses where the fresh plan differs from the saved one: any other action, other
    fields, another digest of what will be written, or a live copy with another version."""

    def key(change: Mapping[str, Any]) -> tuple[Any, ...]:
        return (
            change.get("action"),
            change.get("digest"),
            change.get("live_version"),
            json.dumps(change.get("fields"), sort_keys=True),
        )

    saved_changes = {c["address"]: key(c) for c in saved.get("changes", []) if c.get("action") != Action.NOOP.value}
    fresh_changes = {str(c.address): key(c.to_dict()) for c in fresh.actionable}
    differing = {a for a in saved_changes.keys() | fresh_changes.keys() if saved_changes.get(a) != fresh_changes.get(a)}
    return sorted(differing)


def check_saved(saved: Mapping[str, Any], fresh: Plan) -> None:
    stale = stale_addresses(saved, fresh)
    if stale:
        raise StalePlanError(stale)
