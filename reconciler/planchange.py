"""The change of one declared resource against what the server holds: a create (or a revive of
a soft-deleted row), an update, a replacement (a changed type where allowed, a replaced parent,
`--replace`, a console channel, which has no update), or a no-op; with the fields that differ,
write-only values compared through their fingerprint, and the reason. The planner calls it
once per declared resource, so it allocates no more than the change it returns.
"""

from __future__ import annotations

from reconciler import diff, planchecks
from reconciler.errors import Diagnostic, error, warning
from reconciler.model import Address, LiveResource, Resource, ResourceKind
from reconciler.plan import Action, Change, FieldChange, Reason, body_digest

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


def plan_one(
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
    if res.fingerprint is not None and res.write_only:
        fields, reason = _write_only(res, current, ownership, fields, warnings)
    if len(fields) > 1:
        fields = tuple(sorted(fields, key=_path))

    parent = address.parent
    if parent is not None and parent in replaced_providers:
        # Deleted with its provider and created anew: a replacement, showing what will differ.
        return _change(res, current, Action.REPLACE, Reason.PARENT_REPLACED, fields)

    desired_type = res.type
    live_type = current.type
    if desired_type is not None and live_type is not None and desired_type != live_type:
        return _type_changed(res, current, fields, problems)

    if force_replace and address in force_replace:
        return planchecks.guard_destroy(
            _change(res, current, Action.REPLACE, Reason.REPLACE_REQUESTED, fields), res, problems
        )

    if ownership is not None:
        # Adoption and a change of owner write the marker (and the fingerprints of
        # write-only values, which are written with it).
        return _change(res, current, Action.UPDATE, ownership, fields)
    if not fields:
        return _change(res, current, Action.NOOP, Reason.UNCHANGED)
    if address.kind is ResourceKind.CHANNEL:
        return planchecks.guard_destroy(
            _change(res, current, Action.REPLACE, Reason.NO_UPDATE_API, fields), res, problems
        )
    return _change(res, current, Action.UPDATE, reason, fields)


def _write_only(
    res: Resource,
    current: LiveResource,
    ownership: Reason | None,
    fields: tuple[FieldChange, ...],
    warnings: list[Diagnostic],
) -> tuple[tuple[FieldChange, ...], Reason]:
    """The fields with the write-only values that changed, compared through their fingerprint,
    and the reason of an update that changes nothing else."""
    wo = diff.compared_write_only(res)
    if not wo:
        return fields, Reason.CHANGED
    if current.fingerprint is None and ownership is None:
        # Never written by reconciler (e.g. adopted after `export`): nothing to compare
        # with. Say so instead of rewriting secrets nobody asked to change; the
        # fingerprint is stored with the next update of the resource.
        warnings.append(
            warning(
                "plan.write-only-unverified",
                f"{res.address}: write-only values ({', '.join(wo)}) cannot be compared: "
                "the server holds no fingerprint of them yet",
                location=res.location,
                address=str(res.address),
                hint="they are written, and fingerprinted, with the next update of this resource",
            )
        )
    elif current.fingerprint != res.fingerprint:
        fields += tuple(FieldChange(p, "(sensitive)", "(sensitive)", True) for p in wo)
        if len(fields) == len(wo):
            return fields, Reason.WRITE_ONLY_CHANGED
    return fields, Reason.CHANGED


def _type_changed(
    res: Resource, current: LiveResource, fields: tuple[FieldChange, ...], problems: list[Diagnostic]
) -> Change:
    """A changed type: a replacement where allowed (always for a channel), else a plan error."""
    # Every field that will differ, the type marked as the one forcing the replacement.
    fields = tuple(
        FieldChange(f.path, f.before, f.after, f.sensitive, True) if f.path == "type" else f for f in fields
    )
    if res.address.kind is ResourceKind.CHANNEL:
        return planchecks.guard_destroy(
            _change(res, current, Action.REPLACE, Reason.NO_UPDATE_API, fields), res, problems
        )
    if res.lifecycle.replace_on_type_change:
        return planchecks.guard_destroy(
            _change(res, current, Action.REPLACE, Reason.TYPE_CHANGED, fields), res, problems
        )
    problems.append(
        error(
            "plan.type-immutable",
            f"{res.address}: type cannot change from {current.type!r} to {res.type!r}",
            location=res.location,
            address=str(res.address),
            hint=f"restore type {current.type!r}, or set `lifecycle: {{replace_on_type_change: true}}` "
            "to delete it and create it anew",
        )
    )
    return _change(res, current, Action.NOOP, Reason.UNCHANGED)


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
