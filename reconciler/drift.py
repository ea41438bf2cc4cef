"""Drift: what changed on the servers behind git's back, derived from a Plan.

A drift report is the plan read the other way round. A resource the plan would update or
replace has *changed* on the server (field by field); one it would create is *missing* (deleted
on the server, soft-deleted, or never applied); live resources the desired state does not
declare are *unmanaged* (not the reconciler's), *orphaned* (marked as this scope's but gone
from the desired state) or *owned elsewhere* (another ownership scope's: listed, not drift).
An extra channel holding a declared name is a *duplicate*. Items are sorted so that two reports of the same drift are
byte-identical and can be de-duplicated.

The plan's rules hold here unchanged: field values come from the plan's `FieldChange`s, already
masked by the one sensitivity rule; a drifted resource that apply would replace says so, with
the fields that force it marked, and a model replaced or destroyed with its provider says why.
Each item carries the plan's action (`action`), so that the report counts replacements as the
plan does.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from reconciler.errors import Diagnostic
from reconciler.model import owner_label
from reconciler.plan import Action, Change, FieldChange, Plan, Reason


class DriftKind(str, Enum):
    CHANGED = "changed"
    MISSING = "missing"
    DUPLICATE = "duplicate"
    ORPHANED = "orphaned"
    UNMANAGED = "unmanaged"
    # Another ownership scope's: listed for information, never drift of this scope.
    OWNED_ELSEWHERE = "owned_elsewhere"


@dataclass(frozen=True)
class DriftItem:
    """One drifted resource. `fields` (for `changed`) hold live values as `before` and desired
    ones as `after`, secrets masked. `detail` says what was found, in words."""

    address: str
    kind: DriftKind
    detail: str
    fields: tuple[FieldChange, ...] = ()
    # What apply would do about it: the plan's action (`update`, `replace`, `create`, `delete`),
    # or None for what apply leaves alone (unmanaged, owned elsewhere, orphaned without --prune).
    action: Action | None = None

    @property
    def replaced(self) -> bool:
        return self.action is Action.REPLACE

    def to_dict(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "kind": self.kind.value,
            "action": None if self.action is None else self.action.value,
            "detail": self.detail,
            "fields": [
                {
                    "path": f.path,
                    "live": f.before,
                    "desired": f.after,
                    "sensitive": f.sensitive,
                    "forces_replacement": f.forces_replacement,
                }
                for f in self.fields
            ],
        }


_ORDER = {k: i for i, k in enumerate(DriftKind)}


@dataclass(frozen=True)
class DriftReport:
    items: tuple[DriftItem, ...]
    servers: tuple[str, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()

    @property
    def drifted(self) -> bool:
        return any(i.kind is not DriftKind.OWNED_ELSEWHERE for i in self.items)

    def count(self, kind: DriftKind) -> int:
        return sum(1 for i in self.items if i.kind is kind)

    def counts(self) -> dict[str, int]:
        return {k.value: self.count(k) for k in DriftKind}

    @property
    def replacements(self) -> int:
        """Drifted resources apply would replace (deleted, then created), as the plan counts them."""
        return sum(1 for i in self.items if i.replaced)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "reconciler-drift",
            "drifted": self.drifted,
            "counts": self.counts(),
            "replacements": self.replacements,
            "servers": sorted(self.servers),
            "items": [i.to_dict() for i in self.items],
        }


def from_plan(plan: Plan, *, include_unmanaged: bool = True) -> DriftReport:
    items = [item for item in map(_change_item, plan.actionable) if item is not None]
    for orphan in plan.orphaned:
        items.append(DriftItem(str(orphan), DriftKind.ORPHANED, "managed by reconciler, not in the desired state"))
    for other, owner in plan.owned_elsewhere:
        items.append(DriftItem(str(other), DriftKind.OWNED_ELSEWHERE, f"owned by {owner_label(owner)} (not touched)"))
    if include_unmanaged:
        for other in plan.unmanaged:
            items.append(DriftItem(str(other), DriftKind.UNMANAGED, "exists on the server, not in the desired state"))
    items.sort(key=lambda i: (_ORDER[i.kind], i.address))
    return DriftReport(tuple(items), plan.servers, plan.diagnostics)


def _change_item(change: Change) -> DriftItem | None:
    """What one change of the plan says about drift (None: nothing, e.g. a delete of another kind)."""
    address = str(change.address)
    action = change.action
    if change.reason in (Reason.ADOPT, Reason.TAKE_OWNERSHIP):
        return DriftItem(address, DriftKind.CHANGED, change.reason.text, change.fields, action)
    if change.reason is Reason.PARENT_REPLACED and action is Action.DELETE:
        detail = f"not in the desired state; destroyed with its provider: {change.reason.text}"
        return DriftItem(address, DriftKind.ORPHANED, detail, action=action)
    if action in (Action.UPDATE, Action.REPLACE):
        paths = ", ".join(f.path for f in change.fields)
        parts = [f"differs from the desired state: {paths or 'fields'}"] if paths or action is Action.UPDATE else []
        if action is Action.REPLACE:
            parts.append(f"it will be replaced: {change.reason.text}")
        return DriftItem(address, DriftKind.CHANGED, "; ".join(parts), change.fields, action)
    if action is Action.CREATE:
        detail = (
            "soft-deleted on the server"
            if change.reason is Reason.REVIVE
            else "declared in the desired state but absent from the server"
        )
        return DriftItem(address, DriftKind.MISSING, detail, action=action)
    if change.reason is Reason.DUPLICATE:
        detail = "a second channel of a declared name (the extra is removed)"
        return DriftItem(address, DriftKind.DUPLICATE, detail, action=action)
    if action is Action.DELETE:
        return DriftItem(address, DriftKind.ORPHANED, "managed by reconciler, not in the desired state", action=action)
    return None
