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

`make_plan` runs these as named steps, in the order their diagnostics are reported. The change
of one declared resource is `planchange`'s; address patterns are matched and checked by
`targeting`; the plan-wide refusals and warnings are in `planchecks`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from reconciler import planchecks
from reconciler.errors import Diagnostic, DiagnosticsError, error
from reconciler.model import DEFAULT_OWNER, Address, LiveResource, Resource, ResourceKind, owner_label
from reconciler.plan import Action, Change, Plan, Reason, order_key
from reconciler.planchange import plan_one
from reconciler.targeting import ADDRESS_HINT, check_addresses, in_scope, matches, suggest


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


def make_plan(desired: Sequence[Resource], live: Iterable[LiveResource], options: PlanOptions | None = None) -> Plan:
    """The plan that takes `live` to `desired`. Raises DiagnosticsError with every plan error."""
    options = options or PlanOptions()
    problems: list[Diagnostic] = []
    warnings: list[Diagnostic] = []
    live = list(live)
    wanted = _index_desired(desired, problems)
    have, duplicates = _index_live(live)
    _check_requests(options, wanted, have, problems)

    changes, replaced_providers, unrecorded = _plan_declared(wanted, have, options, problems, warnings)
    warnings += planchecks.keys_unrecorded(unrecorded)
    warnings += planchecks.channel_scope(list(wanted), options.owners)
    _check_taken(options, wanted, have, problems)

    undeclared = _plan_undeclared(wanted, have, duplicates, replaced_providers, options)
    changes += undeclared.deletes
    _check_patterns_match(options, wanted, have, problems)
    changes = _scoped(changes, options)
    changes.sort(key=order_key)
    problems += planchecks.max_deletes(changes, options.max_deletes)

    warnings += planchecks.channel_limits(changes, live, options.channel_limits)
    if problems:
        raise DiagnosticsError(problems)
    targets, excludes = options.targets, options.excludes
    return Plan(
        changes=tuple(changes),
        unmanaged=tuple(sorted(a for a in undeclared.unmanaged if in_scope(a, targets, excludes))),
        orphaned=tuple(sorted(a for a in undeclared.orphaned if in_scope(a, targets, excludes))),
        owned_elsewhere=tuple(sorted((a, o) for a, o in undeclared.elsewhere if in_scope(a, targets, excludes))),
        diagnostics=tuple(
            w for w in warnings if w.address is None or in_scope(Address.parse(w.address), targets, excludes)
        ),
        sources=dict(options.sources),
        servers=tuple(sorted({r.address.server for r in desired})),
    )


def _index_desired(desired: Sequence[Resource], problems: list[Diagnostic]) -> dict[Address, Resource]:
    """The declared resources by address; a second declaration of one address is a plan error."""
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
    return wanted


def _index_live(live: Sequence[LiveResource]) -> tuple[dict[Address, LiveResource], list[LiveResource]]:
    """The live resources by address, and the extra ones listed under an address already seen."""
    have: dict[Address, LiveResource] = {}
    duplicates: list[LiveResource] = []
    for item in live:
        if item.address in have:
            # Only the console accepts duplicate names; keep the first listed, the rest are
            # extras of a managed name.
            duplicates.append(item)
        else:
            have[item.address] = item
    return have, duplicates


def _check_requests(
    options: PlanOptions,
    wanted: Mapping[Address, Resource],
    have: Mapping[Address, LiveResource],
    problems: list[Diagnostic],
) -> None:
    """Raises for a malformed address given to a flag; a `--replace` of no declared resource is
    a plan error."""
    flags = (
        ("--target", options.targets),
        ("--exclude", options.excludes),
        ("--replace", options.replace),
        ("--take-ownership", options.take_ownership),
    )
    bad = check_addresses(flags, [*wanted, *have])
    if bad:
        raise DiagnosticsError(bad)
    for pattern in options.replace:
        if (Address.parse(pattern) if isinstance(pattern, str) else pattern) not in wanted:
            problems.append(
                error(
                    "plan.target-unknown",
                    f"--replace {pattern} matches no resource of the desired state{suggest(pattern, wanted)}",
                    hint="--replace takes the full address of a declared resource; " + ADDRESS_HINT,
                )
            )


def _plan_declared(
    wanted: Mapping[Address, Resource],
    have: Mapping[Address, LiveResource],
    options: PlanOptions,
    problems: list[Diagnostic],
    warnings: list[Diagnostic],
) -> tuple[list[Change], set[Address], dict[str, list[Address]]]:
    """A change for every declared resource, the providers it replaces, and the managed
    providers (per server) that hold no record of their declared keys yet."""
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
                if res.address not in take:
                    problems.append(_owned_elsewhere(res, mine, current.owner))
                    continue
                ownership = Reason.TAKE_OWNERSHIP
            elif not current.managed and options.adopt:
                ownership = Reason.ADOPT
        change = plan_one(res, current, replaced_providers, force_replace, problems, warnings, ownership)
        if (
            change.action is Action.UPDATE
            and ownership is None
            and current is not None
            and not current.managed
            and marked
        ):
            # Read-only adoption: updated as usual, but the write must not mark it.
            change = replace(change, desired=replace(res, mark=False))
        if res.address.kind is ResourceKind.PROVIDER and current is not None:
            if current.managed and current.applied_keys is None and change.action is not Action.CREATE:
                unrecorded.setdefault(res.address.server, []).append(res.address)
            if change.action is Action.REPLACE:
                replaced_providers.add(res.address)
        changes.append(change)
    return changes, replaced_providers, unrecorded


def _owned_elsewhere(res: Resource, mine: str, owner: str) -> Diagnostic:
    return error(
        "plan.owned-elsewhere",
        f"{res.address} is declared here ({owner_label(mine)}) but owned by {owner_label(owner)}",
        location=res.location,
        address=str(res.address),
        hint=f"remove it from one of the two desired states, or move it to this one with "
        f"--take-ownership {res.address}",
    )


def _check_taken(
    options: PlanOptions,
    wanted: Mapping[Address, Resource],
    have: Mapping[Address, LiveResource],
    problems: list[Diagnostic],
) -> None:
    """A `--take-ownership` must name a declared resource the server holds, of a marked kind."""
    for taken in {Address.parse(a) for a in options.take_ownership}:
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


@dataclass
class _Undeclared:
    """What the plan makes of the live resources nobody declares: the deletes, and the lists."""

    deletes: list[Change] = field(default_factory=list)
    unmanaged: list[Address] = field(default_factory=list)
    orphaned: list[Address] = field(default_factory=list)
    elsewhere: list[tuple[Address, str]] = field(default_factory=list)


def _plan_undeclared(
    wanted: Mapping[Address, Resource],
    have: Mapping[Address, LiveResource],
    duplicates: Sequence[LiveResource],
    replaced_providers: set[Address],
    options: PlanOptions,
) -> _Undeclared:
    out = _Undeclared()
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
            out.unmanaged.append(item.address)
        elif item.owner != options.owners.get(item.address.server, DEFAULT_OWNER):
            out.elsewhere.append((item.address, item.owner))
        elif item.address.server in options.prune_servers:
            extras.append((item, Reason.PRUNE))
        else:
            out.orphaned.append(item.address)
    out.unmanaged += [item.address for item in duplicates if item.address not in wanted]

    deleted_providers = {item.address for item, _ in extras if item.address.kind is ResourceKind.PROVIDER}
    for item, reason in extras:
        parent = item.address.parent
        if parent is not None and parent in deleted_providers:
            continue  # the server deletes a provider's models with it
        out.deletes.append(
            Change(
                item.address,
                Action.DELETE,
                reason,
                live_id=item.id,
                live_version=item.version,
                live_type=item.type,
            )
        )
    return out


def _check_patterns_match(
    options: PlanOptions,
    wanted: Mapping[Address, Resource],
    have: Mapping[Address, LiveResource],
    problems: list[Diagnostic],
) -> None:
    """A `--target` or `--exclude` that matches nothing, desired or live, is a plan error."""
    for flag, patterns in (("--target", options.targets), ("--exclude", options.excludes)):
        for pattern in patterns:
            if not any(matches(a, pattern) for a in [*wanted, *have]):
                problems.append(
                    error(
                        "plan.target-unknown",
                        f"{flag} {pattern} matches no resource, desired or live{suggest(pattern, [*wanted, *have])}",
                        hint=ADDRESS_HINT,
                    )
                )


def _scoped(changes: list[Change], options: PlanOptions) -> list[Change]:
    """The changes inside `--target`/`--exclude`, with the changes a targeted one depends on."""
    targets, excludes = options.targets, options.excludes
    if not (targets or excludes):
        return changes
    kept = [c for c in changes if in_scope(c.address, targets, excludes)]
    if targets:
        # A targeted change brings the changes it depends on (a new model, its new provider).
        by_address = {c.address: c for c in changes}
        wanted_deps = {d for c in kept for d in c.depends_on if d in by_address}
        kept += [by_address[d] for d in wanted_deps if by_address[d] not in kept]
    return kept


def _has_marker(address: Address) -> bool:
    """Whether the API lets this kind carry an ownership marker (models follow their provider,
    console channels have no tags)."""
    return address.kind in (ResourceKind.INTEGRATION, ResourceKind.PROVIDER)
