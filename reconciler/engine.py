"""The pipeline the commands run: load desired → connect → read live → plan → apply.

It wires the stages together and owns nothing of their logic: `desired` loads and validates,
`platforms` read and write, `planner` computes the plan, `apply` executes it. It also gathers
every secret value the run knows, so that the CLI can scrub any output as a last line of
defence, and it checks a saved plan against a fresh one before applying it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler import desired as desired_state
from reconciler import planner
from reconciler.apply import ApplyResult, Observer, apply
from reconciler.errors import ConfigError, LockedError, PlatformError, ReconcilerError, StalePlanError
from reconciler.model import LiveResource, Resource, Sensitive, ServerConfig
from reconciler.plan import Change, Plan
from reconciler.platforms import Platform, connect
from reconciler.platforms.http import sandbox_database, sandbox_exists, sandbox_read_only

PLAN_FILE_FORMAT = "reconciler-plan"


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
            "variables": variable_digests(self.variables, key, salt),
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


def variable_digests(variables: Mapping[str, str], key: bytes, salt: str) -> dict[str, str]:
    """`{name: keyed digest of its value}` (HMAC-SHA256 under `key` and the plan's `salt`)."""
    out = {}
    for name in sorted(variables):
        mac = hmac.new(key + salt.encode(), digestmod=hashlib.sha256)
        mac.update(name.encode() + b"\0" + variables[name].encode())
        out[name] = mac.hexdigest()[:32]
    return out


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
        from dataclasses import replace as _replace

        plan = _replace(plan, diagnostics=tuple(found) + tuple(plan.diagnostics))
    return plan


async def execute(
    run: Run, plan: Plan, observer: Observer | None = None, stop: asyncio.Event | None = None
) -> ApplyResult:
    return await apply(plan, run.platforms, observer=observer, stop=stop)


# -- saved plans ---------------------------------------------------------------------------


def plan_file_document(
    plan: Plan, options: planner.PlanOptions, servers: Sequence[str], location: str | Path
) -> dict[str, Any]:
    """The saved plan: the plan's JSON document (`schemas/plan.schema.json`), the options it
    was made with, and its sources with every path relative to the plan file's directory, so
    that `apply` finds them wherever it runs. No secret: variables are keyed digests."""
    from reconciler.views.jsonview import plan_document

    doc = plan_document(plan)
    base = Path(location).resolve().parent
    sources = dict(doc["sources"])
    sources["paths"] = [_relative(p, base) for p in sources.get("paths", ())]
    sources["var_files"] = [_relative(p, base) for p in sources.get("var_files", ())]
    doc["sources"] = sources
    doc["options"] = {
        "servers": list(servers),
        "prune_servers": sorted(options.prune_servers),
        "max_deletes": options.max_deletes,
        "targets": list(options.targets),
        "excludes": list(options.excludes),
        "replace": list(options.replace),
        "take_ownership": list(options.take_ownership),
        "adopt": options.adopt,
    }
    return doc


def plan_file_text(
    plan: Plan, options: planner.PlanOptions, servers: Sequence[str], location: str | Path
) -> str:
    from reconciler.views.jsonview import render_document

    return render_document(plan_file_document(plan, options, servers, location)) + "\n"


def _relative(path: str, base: Path) -> str:
    return os.path.relpath(Path(path).resolve(), base)


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
    """A saved plan, checked against `schemas/plan.schema.json`, with its source paths
    resolved against the plan file's directory."""
    from reconciler.desired.schema import plan_document_problems

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
    problems = plan_document_problems(data)
    if not problems and "options" not in data:
        problems = ["the document: missing field(s) 'options' (a plan printed by --format json, not saved by --out)"]
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise ConfigError(
            f"{p}: the plan file does not match schemas/plan.schema.json: {shown}",
            hint="make the plan again with `reconciler plan --out FILE`; do not edit plan files",
        )
    base = p.resolve().parent
    sources = dict(data["sources"])
    sources["paths"] = [str(base / x) for x in sources.get("paths", [])]
    sources["var_files"] = [str(base / x) for x in sources.get("var_files", [])]
    data["sources"] = sources
    return data


def options_from_file(data: Mapping[str, Any], variables: Mapping[str, str]) -> tuple[Sources, dict[str, Any]]:
    """The sources to load again (files from the plan, `--var` values given to apply) and the
    planning options the plan was made with."""
    saved = data.get("sources") or {}
    sources = Sources(tuple(saved.get("paths") or ()), dict(variables), tuple(saved.get("var_files") or ()))
    if not sources.paths:
        raise ConfigError("the plan file names no desired-state files")
    return sources, dict(data.get("options") or {})


def check_variables(saved: Mapping[str, Any], run: Run) -> None:
    """Refuse to apply a saved plan with `--var` values other than the ones it was made with
    (compared by keyed digest: the plan file holds no value)."""
    sources = saved.get("sources") or {}
    want: Mapping[str, str] = sources.get("variables") or {}
    given = variable_digests(run.sources.variables, variables_key(run.state), str(sources.get("variables_salt") or ""))
    missing = sorted(want.keys() - given.keys())
    extra = sorted(given.keys() - want.keys())
    differ = sorted(k for k in want.keys() & given.keys() if not hmac.compare_digest(want[k], given[k]))
    problems = []
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    if differ:
        problems.append(f"other values for {', '.join(differ)}")
    if extra:
        problems.append(f"not in the plan: {', '.join(extra)}")
    if problems:
        raise ConfigError(
            "the --var values differ from those the plan was made with (" + "; ".join(problems) + ")",
            hint="give apply the same --var values as plan (the plan file keeps only their digests)",
        )


def saved_plan_options(run: Run, options: Mapping[str, Any], saved: Mapping[str, Any]) -> planner.PlanOptions:
    sources = saved.get("sources") or {}
    return planner.PlanOptions(
        prune_servers=frozenset(options.get("prune_servers") or ()),
        max_deletes=options.get("max_deletes"),
        targets=tuple(options.get("targets") or ()),
        excludes=tuple(options.get("excludes") or ()),
        replace=tuple(options.get("replace") or ()),
        sources=run.sources.to_dict(variables_key(run.state), str(sources.get("variables_salt") or "")),
        owners=_owners(run),
        take_ownership=tuple(options.get("take_ownership") or ()),
        adopt=options.get("adopt") is not False,
        channel_limits=_channel_limits(run),
    )


def stale_addresses(saved: Mapping[str, Any], fresh: Plan) -> list[str]:
    """Addresses where the fresh plan differs from the saved one: any other action, other
    fields, another digest of what will be written, or a live copy with another version."""

    def key(change: Change) -> tuple[Any, ...]:
        return (change.action, change.digest, change.live_version, change.fields)

    saved_changes = {str(c.address): key(c) for c in Plan.from_dict(saved).actionable}
    fresh_changes = {str(c.address): key(c) for c in fresh.actionable}
    differing = {a for a in saved_changes.keys() | fresh_changes.keys() if saved_changes.get(a) != fresh_changes.get(a)}
    return sorted(differing)


def check_saved(saved: Mapping[str, Any], fresh: Plan) -> None:
    stale = stale_addresses(saved, fresh)
    if stale:
        raise StalePlanError(stale)
