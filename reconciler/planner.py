"""Desired + live → Plan. Pure code: no I/O, no HTTP, no printing.

Rules enforced here, before any write:
- name uniqueness: two desired resources with one address are a plan error;
- type immutability: a changed type on an existing integration or provider is a plan error
  naming file:line and both types, unless `lifecycle.replace_on_type_change` allows a replace;
  a changed console channel is always a replace (that API has no update);
- Kubiya's soft-deleted rows: a desired name held by one is a revive (PUT status active),
  never a create, which the server would answer with a 500;
- ownership: only live resources carrying this scope's marker (`owners`, per server) and
  missing from the desired state are delete candidates, and only with pruning on; another
  scope's are listed as owned elsewhere, unmarked ones as unmanaged; a declared resource that
  another scope owns is a plan error unless `--take-ownership` names it; a declared resource
  without any marker is adopted (an update that writes the marker) unless `adopt` is off;
- console channels carry no marker: one declared here is this scope's; an extra channel of a
  declared name is a duplicate, always planned for deletion; undeclared channels are never
  touched, so a channel another scope declares is never pruned;
- Conductor configuration keys declared at the last apply (`applied_keys`) and gone from the
  desired state are removed; keys the server added are never touched;
- `prevent_destroy` and the `max_deletes` guard;
- write-only values: compared through their keyed fingerprint, never by value;
- order: the single table `plan.ORDER`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from reconciler import diff
from reconciler.errors import Diagnostic, DiagnosticsError, error, warning
from reconciler.model import (
    DEFAULT_OWNER,
    Address,
    LiveResource,
    Resource,
    ResourceKind,
    owner_label,
    split_address,
)
from reconciler.plan import Action, Change, FieldChange, Plan, Reason, body_digest, order_key


@dataclass(frozen=True)
class PlanOptions:
    """How to plan. `prune_servers`: servers on which deletes are allowed (from `--prune` or the
    server's `prune: true`). `max_deletes`: refuse a plan with more deletes (replaces count).
    `targets`/`excludes`: address prefixes that scope the plan. `replace`: addresses to replace
    even if unchanged (e.g. to push a rotated write-only secret the API cannot compare)."""

    prune_servers: frozenset[str] = frozenset()
    max_deletes: int | None = None
    targets: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    replace: tuple[str, ...] = ()
    sources: Mapping[str, object] = field(default_factory=dict)
    # Ownership scope per server name (absent: the default scope).
    owners: Mapping[str, str] = field(default_factory=dict)
    # Addresses whose marker moves from another scope to this one.
    take_ownership: tuple[str, ...] = ()
    # Adopt declared resources that exist without a marker (write the marker). Off: they are
    # compared and updated as usual but not marked (read-only adoption).
    adopt: bool = True
    # Channels an agent may hold, per console server name, where the desired state declares it.
    channel_limits: Mapping[str, int] = field(default_factory=dict)


# Addresses named in a refusal message before "and N more".
_MAX_NAMED = 20

def matches(address: Address, pattern: str) -> bool:
    """Whether `pattern` names this address or one of its ancestors (a prefix of segments).

    A model matches its provider's address too: `provider.orkes.openai` covers
    `model.orkes.openai.gpt-4o`.
    """
    want = split_address(pattern)
    parts = [address.kind.value, address.server, *address.scope, address.name]
    if parts[: len(want)] == want:
        return True
    parent = address.parent
    if parent is not None:
        return matches(parent, pattern)
    return False


_ADDRESS_HINT = (
    "addresses read kind.server[.scope].name; quote a segment holding dots: "
    'model.orkes.local-llm."llama3.1", channel.console.agt_demo.mcp_server."docs.v2"'
)


def _suggest(pattern: str, known: Iterable[Address]) -> str:
    """` (did you mean X?)` for the closest known address, or the empty string."""
    import difflib

    texts = sorted({str(a) for a in known})
    # The same segments, quoted where they must be: the usual slip with `llama3.1`.
    unquoted = {t.replace('"', ""): t for t in texts}
    bare = pattern.replace('"', "")
    if bare in unquoted:
        return f" (did you mean {unquoted[bare]}?)"
    close = difflib.get_close_matches(pattern, texts, n=1, cutoff=0.75)
    return f" (did you mean {close[0]}?)" if close else ""


def check_addresses(options: PlanOptions, known: Iterable[Address] = ()) -> list[Diagnostic]:
    """Malformed `--target`, `--exclude` and `--replace` addresses, as diagnostics."""
    from reconciler.model import ResourceKind

    known = list(known)
    out = []
    kinds = ", ".join(k.value for k in ResourceKind)
    for flag, patterns in (
        ("--target", options.targets),
        ("--exclude", options.excludes),
        ("--replace", options.replace),
        ("--take-ownership", options.take_ownership),
    ):
        for pattern in patterns:
            try:
                parts = split_address(pattern)
                if flag in ("--replace", "--take-ownership"):
                    Address.parse(pattern)
                elif not parts or parts[0] not in {k.value for k in ResourceKind}:
                    raise ValueError(f"an address starts with its kind ({kinds})")
            except ValueError as exc:
                out.append(
                    error(
                        "plan.bad-address",
                        f"{flag} {pattern!r} is not an address: {exc}{_suggest(pattern, known)}",
                        hint=_ADDRESS_HINT,
                    )
                )
    return out


def _in_scope(address: Address, options: PlanOptions) -> bool:
    if options.targets and not any(matches(address, t) for t in options.targets):
        return False
    return not any(matches(address, e) for e in options.excludes)


def make_plan(desired: Sequence[Resource], live: Iterable[LiveResource], options: PlanOptions | None = None) -> Plan:
    options = options or PlanOptions()
    problems: list[Diagnostic] = []
    warnings: list[Diagnostic] = []
    live = list(live)

    wanted: dict[Address, Resource] = {}
    for res in desired:
        first = wanted.get(res.address)
        if first is not None:
            problems.append(
                error(
                    "plan.duplicate-name",
                    f"{res.address} is declared twice (first at {first.location or 'unknown'})",
                    location=res.location,
                    address=str(res.address),
                    hint="names are unique per server (and per agent and family for channels): rename or remove one",
                )
            )
            continue
        wanted[res.address] = res

    have: dict[Address, LiveResource] = {}
    duplicates: list[LiveResource] = []
    for item in live:
        if item.address in have:
            # Only the console accepts duplicate names; keep the first listed, the rest are
            # extras of a managed name.
            duplicates.append(item)
        else:
            have[item.address] = item

    bad = check_addresses(options, [*wanted, *have])
    if bad:
        raise DiagnosticsError(bad)
    for pattern in options.replace:
        if (Address.parse(pattern) if isinstance(pattern, str) else pattern) not in wanted:
            problems.append(
                error(
                    "plan.target-unknown",
                    f"--replace {pattern} matches no resource of the desired state"
                    f"{_suggest(pattern, wanted)}",
                    hint="--replace takes the full address of a declared resource; " + _ADDRESS_HINT,
                )
            )

    changes: list[Change] = []
    replaced_providers: set[Address] = set()
    force_replace = frozenset(Address.parse(a) if isinstance(a, str) else a for a in options.replace)
    take = {Address.parse(a) for a in options.take_ownership}
    unrecorded: dict[str, list[Address]] = {}

    # Parents first, so that a replaced provider is known when its models are planned.
    for res in sorted(wanted.values(), key=lambda r: (r.address.kind is ResourceKind.MODEL, str(r.address))):
        current = have.get(res.address)
        marked = _has_marker(res.address)
        ownership: Reason | None = None
        if current is not None and not current.deleted and marked:
            mine = options.owners.get(res.address.server, DEFAULT_OWNER)
            if current.managed and current.owner != mine:
                if res.address in take:
                    ownership = Reason.TAKE_OWNERSHIP
                else:
                    problems.append(
                        error(
                            "plan.owned-elsewhere",
                            f"{res.address} is declared here ({owner_label(mine)}) but owned by "
                            f"{owner_label(current.owner)}",
                            location=res.location,
                            address=str(res.address),
                            hint=f"remove it from one of the two desired states, or move it to this one with "
                            f"--take-ownership {res.address}",
                        )
                    )
                    continue
            elif not current.managed and options.adopt:
                ownership = Reason.ADOPT
        change = _plan_one(res, current, replaced_providers, force_replace, problems, warnings, ownership)
        if (
            change.action is Action.UPDATE
            and ownership is None
            and current is not None
            and not current.managed
            and marked
        ):
            # Read-only adoption: updated as usual, but the write must not mark it.
            change = replace(change, desired=replace(res, mark=False))
        if (
            res.address.kind is ResourceKind.PROVIDER
            and current is not None
            and current.managed
            and current.applied_keys is None
            and change.action is not Action.CREATE
        ):
            unrecorded.setdefault(res.address.server, []).append(res.address)
        if change.action is Action.REPLACE and res.address.kind is ResourceKind.PROVIDER:
            replaced_providers.add(res.address)
        changes.append(change)
    for server, addresses in sorted(unrecorded.items()):
        shown = ", ".join(str(a) for a in addresses[:3])
        if len(addresses) > 3:
            shown += f" and {len(addresses) - 3} more"
        warnings.append(
            warning(
                "plan.keys-unrecorded",
                f"{len(addresses)} provider(s) on server {server!r} hold no record of their declared "
                f"configuration keys yet ({shown}): a key removed from the desired state before that "
                "record exists stays on the server",
                hint="the record (key names only) is written with the next update of each provider",
            )
        )
    # Console channels carry no marker, so a scope cannot claim them: the plan says how an
    # `owner:` applies there, where a user might expect the marker's protection.
    scoped = {a.server for a in wanted if a.kind is ResourceKind.CHANNEL and options.owners.get(a.server)}
    for server in sorted(scoped):
        warnings.append(
            warning(
                "plan.channel-scope",
                f"server {server!r} is declared with owner: {options.owners[server]}, but console channels carry "
                "no ownership marker: a channel there is this scope's only because this desired state declares "
                "it, and a channel it does not declare is never deleted, whichever scope declares it",
                hint="two scopes must not declare a channel of the same name on one agent and family",
            )
        )
    for taken in take:
        current = have.get(taken)
        if taken not in wanted or current is None or current.deleted or not _has_marker(taken):
            problems.append(
                error(
                    "plan.take-ownership-unknown",
                    f"--take-ownership {taken}: no declared integration or provider exists at that address",
                    hint="name a resource this desired state declares and the server holds (models and "
                    "channels follow their provider and their declaration)",
                )
            )

    unmanaged: list[Address] = []
    orphaned: list[Address] = []
    elsewhere: list[tuple[Address, str]] = []
    # Extra channels holding a declared name: one channel per declared name, always (two
    # applies at once, or a person, made a second one).
    extras = [(item, Reason.DUPLICATE) for item in duplicates if item.address in wanted]
    for item in have.values():
        if item.address in wanted or item.deleted:
            continue
        parent = item.address.parent
        if parent is not None and parent in replaced_providers:
            # The server deletes it with its provider: a destroy the plan must show.
            extras.append((item, Reason.PARENT_REPLACED))
            continue
        if not item.managed:
            unmanaged.append(item.address)
        elif item.owner != options.owners.get(item.address.server, DEFAULT_OWNER):
            elsewhere.append((item.address, item.owner))
        elif item.address.server in options.prune_servers:
            extras.append((item, Reason.PRUNE))
        else:
            orphaned.append(item.address)
    for item in duplicates:
        if item.address not in wanted:
            unmanaged.append(item.address)

    deleted_providers = {item.address for item, _ in extras if item.address.kind is ResourceKind.PROVIDER}
    for item, reason in extras:
        parent = item.address.parent
        if parent is not None and parent in deleted_providers:
            continue  # the server deletes a provider's models with it
        changes.append(
            Change(
                item.address,
                Action.DELETE,
                reason,
                live_id=item.id,
                live_version=item.version,
                live_type=item.type,
            )
        )

    for flag, patterns in (("--target", options.targets), ("--exclude", options.excludes)):
        for pattern in patterns:
            if not any(matches(a, pattern) for a in [*wanted, *have]):
                problems.append(
                    error(
                        "plan.target-unknown",
                        f"{flag} {pattern} matches no resource, desired or live{_suggest(pattern, [*wanted, *have])}",
                        hint=_ADDRESS_HINT,
                    )
                )
    scoped_run = bool(options.targets or options.excludes)
    kept = [c for c in changes if _in_scope(c.address, options)] if scoped_run else changes
    if options.targets:
        # A targeted change brings the changes it depends on (a new model, its new provider).
        by_address = {c.address: c for c in changes}
        wanted_deps = {d for c in kept for d in c.depends_on if d in by_address}
        kept += [by_address[d] for d in wanted_deps if by_address[d] not in kept]
    changes = kept
    changes.sort(key=order_key)

    destructive = [str(c.address) for c in changes if c.action in (Action.DELETE, Action.REPLACE)]
    deletes = len(destructive)
    if options.max_deletes is not None and deletes > options.max_deletes:
        # The addresses are named, so that a refused plan says what it refused (a pipeline
        # shows only this message).
        named = ", ".join(destructive[:_MAX_NAMED])
        if deletes > _MAX_NAMED:
            named += f" and {deletes - _MAX_NAMED} more"
        problems.append(
            error(
                "plan.max-deletes",
                f"the plan deletes or replaces {deletes} resources, more than --max-deletes {options.max_deletes}: "
                f"{named}",
                hint="review the plan; raise --max-deletes if the deletes are intended",
            )
        )

    warnings.extend(_channel_limit_warnings(changes, live, options.channel_limits))
    if problems:
        raise DiagnosticsError(problems)
    return Plan(
        changes=tuple(changes),
        unmanaged=tuple(sorted(a for a in unmanaged if _in_scope(a, options))),
        orphaned=tuple(sorted(a for a in orphaned if _in_scope(a, options))),
        owned_elsewhere=tuple(sorted((a, o) for a, o in elsewhere if _in_scope(a, options))),
        diagnostics=tuple(w for w in warnings if w.address is None or _in_scope(Address.parse(w.address), options)),
        sources=dict(options.sources),
        servers=tuple(sorted({r.address.server for r in desired})),
    )


_NO_DEPENDS: tuple[Address, ...] = ()


def _change(
    res: Resource,
    current: LiveResource | None,
    action: Action,
    reason: Reason,
    fields: tuple[FieldChange, ...] = (),
) -> Change:
    """The change of a declared resource: creates and replaces list every field they set, and
    only changes that write carry a digest (they alone are matched against a saved plan).
    Built positionally, in one call: a plan makes one for every declared resource."""
    if action is Action.NOOP:
        digest = ""
    else:
        if not fields and (action is Action.CREATE or action is Action.REPLACE):
            fields = diff.creation_fields(res.body)
        digest = body_digest(res.body, [res.fingerprint or ""])
    parent = res.address.parent
    depends = _NO_DEPENDS if parent is None else (parent,)
    live_id = live_version = live_type = None
    if current is not None:
        live_id, live_version, live_type = current.id, current.version, current.type
    return Change(
        res.address, action, reason, fields, live_id, live_version, live_type, res, depends, res.location, digest
    )


def _path(field: FieldChange) -> str:
    return field.path


def _plan_one(
    res: Resource,
    current: LiveResource | None,
    replaced_providers: set[Address],
    force_replace: frozenset[Address],
    problems: list[Diagnostic],
    warnings: list[Diagnostic],
    ownership: Reason | None = None,
) -> Change:
    if current is None:
        return _change(res, current, Action.CREATE, Reason.NEW)
    if current.deleted:
        return _change(res, current, Action.CREATE, Reason.REVIVE)

    address = res.address
    fields = diff.resource_fields(res, current)
    if current.applied_keys is not None:
        fields += _removed_keys(res, current)
    reason = Reason.CHANGED
    # Write-only values are compared only through a fingerprint, and only when there are some.
    wo = diff.compared_write_only(res) if res.fingerprint is not None and res.write_only else ()
    if wo:
        if current.fingerprint is None and ownership is None:
            # Never written by reconciler (e.g. adopted after `export`): nothing to compare
            # with. Say so instead of rewriting secrets nobody asked to change; the
            # fingerprint is stored with the next update of the resource.
            warnings.append(
                warning(
                    "plan.write-only-unverified",
                    f"{address}: write-only values ({', '.join(wo)}) cannot be compared: "
                    "the server holds no fingerprint of them yet",
                    location=res.location,
                    address=str(address),
                    hint="they are written, and fingerprinted, with the next update of this resource",
                )
            )
        elif current.fingerprint != res.fingerprint:
            fields += tuple(FieldChange(p, "(sensitive)", "(sensitive)", True) for p in wo)
            if len(fields) == len(wo):
                reason = Reason.WRITE_ONLY_CHANGED
    if len(fields) > 1:
        fields = tuple(sorted(fields, key=_path))

    parent = address.parent
    if parent is not None and parent in replaced_providers:
        # Deleted with its provider and created anew: a replacement, showing what will differ.
        return _change(res, current, Action.REPLACE, Reason.PARENT_REPLACED, fields)

    desired_type = res.type
    live_type = current.type
    if desired_type is not None and live_type is not None and desired_type != live_type:
        # Every field that will differ, the type marked as the one forcing the replacement.
        fields = tuple(
            FieldChange(f.path, f.before, f.after, f.sensitive, True) if f.path == "type" else f for f in fields
        )
        if address.kind is ResourceKind.CHANNEL:
            return _guard_destroy(_change(res, current, Action.REPLACE, Reason.NO_UPDATE_API, fields), res, problems)
        if res.lifecycle.replace_on_type_change:
            return _guard_destroy(_change(res, current, Action.REPLACE, Reason.TYPE_CHANGED, fields), res, problems)
        problems.append(
            error(
                "plan.type-immutable",
                f"{address}: type cannot change from {live_type!r} to {desired_type!r}",
                location=res.location,
                address=str(address),
                hint=f"restore type {live_type!r}, or set `lifecycle: {{replace_on_type_change: true}}` "
                "to delete it and create it anew",
            )
        )
        return _change(res, current, Action.NOOP, Reason.UNCHANGED)

    if force_replace and address in force_replace:
        return _guard_destroy(_change(res, current, Action.REPLACE, Reason.REPLACE_REQUESTED, fields), res, problems)

    if ownership is not None:
        # Adoption and a change of owner write the marker (and the fingerprints of
        # write-only values, which are written with it).
        return _change(res, current, Action.UPDATE, ownership, fields)
    if not fields:
        return _change(res, current, Action.NOOP, Reason.UNCHANGED)
    if address.kind is ResourceKind.CHANNEL:
        return _guard_destroy(_change(res, current, Action.REPLACE, Reason.NO_UPDATE_API, fields), res, problems)
    return _change(res, current, Action.UPDATE, reason, fields)


def _channel_limit_warnings(
    changes: Sequence[Change], live: Sequence[LiveResource], limits: Mapping[str, int]
) -> list[Diagnostic]:
    """A warning for each agent that this plan would take past its server's channel limit: the
    console refuses every create past it (409), so the apply would fail part-way."""
    if not limits:
        return []
    count: dict[tuple[str, str], int] = {}
    for item in live:
        if item.address.kind is ResourceKind.CHANNEL and item.address.server in limits and not item.deleted:
            key = (item.address.server, item.address.scope[0])
            count[key] = count.get(key, 0) + 1
    creates: dict[tuple[str, str], int] = {}
    for change in changes:
        address = change.address
        if address.kind is not ResourceKind.CHANNEL or address.server not in limits:
            continue
        key = (address.server, address.scope[0])
        step = {Action.CREATE: 1, Action.DELETE: -1}.get(change.action, 0)
        count[key] = count.get(key, 0) + step
        creates[key] = creates.get(key, 0) + (change.action is Action.CREATE)
    out = []
    for (server, agent), total in sorted(count.items()):
        limit = limits[server]
        if total > limit and creates.get((server, agent)):
            out.append(
                warning(
                    "plan.channel-limit",
                    f"agent {agent!r} on server {server!r} would hold {total} channels after this apply, "
                    f"more than its limit of {limit}: the console refuses each create past the limit "
                    "(409 integration_limit_reached), so the apply would fail part-way",
                    hint=f"remove {total - limit} channel(s) from the agent (or declare fewer), or raise the "
                    f"limit of the team's console plan and `channel_limit:` of server {server!r}",
                )
            )
    return out


def _has_marker(address: Address) -> bool:
    """Whether the API lets this kind carry an ownership marker (models follow their provider,
    console channels have no tags)."""
    return address.kind in (ResourceKind.INTEGRATION, ResourceKind.PROVIDER)


def _removed_keys(res: Resource, current: LiveResource) -> tuple[FieldChange, ...]:
    """Configuration keys declared at the last apply, gone from the desired state now, and
    still on the server: the write removes them. Keys never declared (the server's own) are
    not in the record and so never touched."""
    if current.applied_keys is None or res.address.kind is not ResourceKind.PROVIDER:
        return ()
    declared = res.body.get("configuration") or {}
    live_config = current.body.get("configuration") or {}
    return tuple(
        diff.removal(f"configuration.{key}", live_config[key])
        for key in sorted(set(current.applied_keys) - set(declared))
        if key in live_config and not diff.covered(f"configuration.{key}", res.lifecycle.ignore_changes)
    )


def _guard_destroy(change: Change, res: Resource, problems: list[Diagnostic]) -> Change:
    if res.lifecycle.prevent_destroy:
        problems.append(
            error(
                "plan.prevent-destroy",
                f"{res.address} would be replaced (deleted, then created), but lifecycle.prevent_destroy is set",
                location=res.location,
                address=str(res.address),
                hint="undo the change that forces the replacement, or remove prevent_destroy",
            )
        )
    return change
