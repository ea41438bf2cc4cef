"""The Plan: pure data saying what `apply` will do, and why. Serializable without secrets.

A `Plan` is an ordered tuple of `Change`s. Each change names its resource's `Address`, an
`Action` (create, update, replace, delete, no-op), a `Reason` that says why, and for updates the
`FieldChange`s with before/after values. Values of sensitive fields are never held in the
serialized form: `FieldChange.before/after` are already masked when `sensitive` is set.
The desired `Resource` rides along in memory for `apply` (it holds `Sensitive` values) and is
dropped by `to_dict()`.

Order lives in one table, `ORDER`: deletes first and bottom-up (models before their providers),
then creates and updates top-down (providers before their models).

What an apply gives back is data too: one `Outcome` per change (`Done`, `Failed`, `Skipped`) and
the `ApplyResult` that holds them, here so that the views render it without importing `apply`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from reconciler.errors import Diagnostic, Location
from reconciler.model import Address, Resource, ResourceKind
from reconciler.records import quick_init
from reconciler.secrecy import masked

PLAN_FORMAT_VERSION = 1


class Action(str, Enum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"  # delete, then create
    DELETE = "delete"
    NOOP = "no-op"

    @property
    def symbol(self) -> str:
        return _SYMBOLS[self]


_SYMBOLS = {
    Action.CREATE: "+",
    Action.UPDATE: "~",
    Action.REPLACE: "-/+",
    Action.DELETE: "-",
    Action.NOOP: " ",
}


class Reason(str, Enum):
    """Why a change is planned. The value is the stable code; `text` is for people."""

    NEW = "new"
    CHANGED = "changed"
    WRITE_ONLY_CHANGED = "write_only_changed"
    REVIVE = "revive"
    TYPE_CHANGED = "type_changed"
    NO_UPDATE_API = "no_update_api"
    PRUNE = "prune"
    DUPLICATE = "duplicate"
    ADOPT = "adopt"
    TAKE_OWNERSHIP = "take_ownership"
    UNCHANGED = "unchanged"
    REPLACE_REQUESTED = "replace_requested"
    PARENT_REPLACED = "parent_replaced"

    @property
    def text(self) -> str:
        return _REASON_TEXT[self]


_REASON_TEXT = {
    Reason.NEW: "does not exist on the server",
    Reason.CHANGED: "fields differ from the desired state",
    Reason.WRITE_ONLY_CHANGED: "a write-only value changed (its fingerprint differs)",
    Reason.REVIVE: "a soft-deleted integration holds the name; it will be revived",
    Reason.TYPE_CHANGED: "the type cannot be changed in place; replacement allowed by lifecycle",
    Reason.NO_UPDATE_API: "the API cannot update a channel; it is disconnected and configured again",
    Reason.PRUNE: "managed by reconciler and no longer in the desired state (--prune)",
    Reason.DUPLICATE: "another channel with the same agent, family and name exists",
    Reason.ADOPT: "not yet owned: the ownership marker will be added",
    Reason.TAKE_OWNERSHIP: "owned by another scope: the marker moves to this one (--take-ownership)",
    Reason.UNCHANGED: "matches the desired state",
    Reason.REPLACE_REQUESTED: "its replacement was requested (--replace)",
    Reason.PARENT_REPLACED: "its provider is replaced; the server deletes it with the provider",
}


# Execution order: (phase, rank). Deletes run first, children before parents; then creates,
# replaces and updates, parents before children. Within one (phase, rank) changes are
# independent and may run in parallel or in one bulk call.
ORDER: Mapping[tuple[Action, ResourceKind], tuple[int, int]] = {
    (Action.DELETE, ResourceKind.MODEL): (0, 0),
    (Action.DELETE, ResourceKind.PROVIDER): (0, 1),
    (Action.DELETE, ResourceKind.INTEGRATION): (0, 1),
    (Action.DELETE, ResourceKind.CHANNEL): (0, 1),
    (Action.CREATE, ResourceKind.PROVIDER): (1, 0),
    (Action.UPDATE, ResourceKind.PROVIDER): (1, 0),
    (Action.REPLACE, ResourceKind.PROVIDER): (1, 0),
    (Action.CREATE, ResourceKind.INTEGRATION): (1, 0),
    (Action.UPDATE, ResourceKind.INTEGRATION): (1, 0),
    (Action.REPLACE, ResourceKind.INTEGRATION): (1, 0),
    (Action.CREATE, ResourceKind.CHANNEL): (1, 0),
    (Action.REPLACE, ResourceKind.CHANNEL): (1, 0),
    (Action.UPDATE, ResourceKind.CHANNEL): (1, 0),
    (Action.CREATE, ResourceKind.MODEL): (1, 1),
    (Action.UPDATE, ResourceKind.MODEL): (1, 1),
    (Action.REPLACE, ResourceKind.MODEL): (1, 1),
}


def order_key(change: Change) -> tuple[int, int, str]:
    phase, rank = ORDER.get((change.action, change.address.kind), (2, 0))
    return (phase, rank, str(change.address))


@quick_init
@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field that differs. `path` is dotted (`config.env_vars.PGHOST`, `tags`).

    `before`/`after` are JSON values; when `sensitive`, both are the mask `(sensitive)` (or
    None where absent) and the real values are nowhere in the plan. `forces_replacement`: in a
    replace, this field's change is what forces it (a changed type).
    """

    path: str
    before: Any
    after: Any
    sensitive: bool = False
    forces_replacement: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "before": self.before,
            "after": self.after,
            "sensitive": self.sensitive,
            "forces_replacement": self.forces_replacement,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FieldChange:
        return cls(
            data["path"], data["before"], data["after"], bool(data["sensitive"]), bool(data["forces_replacement"])
        )


@quick_init
@dataclass(frozen=True, slots=True)
class Change:
    """One planned step.

    `live_id`: the server's key of the existing resource (None for a create). `live_version`:
    the version token of the live copy the plan was made against, checked again before a write.
    `desired`: the desired resource (None for a delete); holds secrets, never serialized.
    `depends_on`: changes that must succeed first (a model on its provider).
    `digest`: a digest of everything this change will write, so that a saved plan can be
    matched to a fresh one without holding any secret.
    """

    address: Address
    action: Action
    reason: Reason
    fields: tuple[FieldChange, ...] = ()
    live_id: str | None = None
    live_version: str | None = None
    live_type: str | None = None
    desired: Resource | None = field(default=None, compare=False, repr=False)
    depends_on: tuple[Address, ...] = ()
    location: Location | None = None
    digest: str = ""

    @property
    def type(self) -> str | None:
        if self.desired is not None and self.desired.type:
            return self.desired.type
        return self.live_type

    def to_dict(self) -> dict[str, Any]:
        loc = self.location
        return {
            "address": str(self.address),
            "kind": self.address.kind.value,
            "server": self.address.server,
            "name": self.address.name,
            "action": self.action.value,
            "reason": self.reason.value,
            "reason_text": self.reason.text,
            "fields": [f.to_dict() for f in self.fields],
            "paths": [f.path for f in self.fields],
            "live_id": self.live_id,
            "live_version": self.live_version,
            "type": self.type,
            "depends_on": [str(a) for a in self.depends_on],
            "location": None if loc is None else {"file": loc.file, "line": loc.line, "column": loc.column},
            "digest": self.digest,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Change:
        """A change read back from a plan document (`schemas/plan.schema.json`, already
        validated); it carries no desired resource, so it can be compared, not applied."""
        loc = data.get("location")
        return cls(
            Address.parse(data["address"]),
            Action(data["action"]),
            Reason(data["reason"]),
            tuple(FieldChange.from_dict(f) for f in data["fields"]),
            live_id=data["live_id"],
            live_version=data["live_version"],
            live_type=data["type"],
            depends_on=tuple(Address.parse(a) for a in data["depends_on"]),
            location=None if loc is None else Location(loc["file"], loc["line"], loc["column"]),
            digest=data["digest"],
        )


@dataclass(frozen=True, slots=True)
class Summary:
    add: int = 0
    change: int = 0
    replace: int = 0
    destroy: int = 0

    @property
    def total(self) -> int:
        return self.add + self.change + self.replace + self.destroy

    def to_dict(self) -> dict[str, int]:
        return {"add": self.add, "change": self.change, "replace": self.replace, "destroy": self.destroy}


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything `apply` will do, in order, plus what it saw and will not touch.

    `changes` includes no-ops (views may hide them). `unmanaged`: live resources not in the
    desired state and not marked as the reconciler's: listed, never touched. `orphaned`: marked
    ones missing from the desired state while pruning is off. `owned_elsewhere`: resources
    another ownership scope owns (see `model.marker_value`). `diagnostics`:
    warnings found while planning (errors stop planning instead). `sources`: the desired-state
    files and variables the plan was made from, so that `apply PLANFILE` can load them again.
    """

    changes: tuple[Change, ...]
    unmanaged: tuple[Address, ...] = ()
    # Managed resources missing from the desired state, left alone because pruning is off.
    orphaned: tuple[Address, ...] = ()
    # Resources another ownership scope's marker names, with that scope: never touched.
    owned_elsewhere: tuple[tuple[Address, str], ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    sources: Mapping[str, Any] = field(default_factory=dict)
    servers: tuple[str, ...] = ()

    @property
    def actionable(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.action is not Action.NOOP)

    @property
    def has_changes(self) -> bool:
        return any(c.action is not Action.NOOP for c in self.changes)

    def summary(self) -> Summary:
        counts = {a: 0 for a in Action}
        for c in self.changes:
            counts[c.action] += 1
        return Summary(counts[Action.CREATE], counts[Action.UPDATE], counts[Action.REPLACE], counts[Action.DELETE])

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": PLAN_FORMAT_VERSION,
            "summary": self.summary().to_dict(),
            "changes": [c.to_dict() for c in self.changes],
            "unmanaged": sorted(str(a) for a in self.unmanaged),
            "orphaned": sorted(str(a) for a in self.orphaned),
            "owned_elsewhere": {str(a): owner for a, owner in sorted(self.owned_elsewhere)},
            "diagnostics": [d.to_dict() for d in self.diagnostics],
            "sources": {"paths": [], "variables": {}, "variables_salt": "", "var_files": [], **self.sources},
            "servers": list(self.servers),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        """The plan of a document written by `to_dict` (a saved plan, validated against
        `schemas/plan.schema.json` first). Changes carry no desired resources."""
        return cls(
            changes=tuple(Change.from_dict(c) for c in data["changes"]),
            unmanaged=tuple(Address.parse(a) for a in data["unmanaged"]),
            orphaned=tuple(Address.parse(a) for a in data["orphaned"]),
            owned_elsewhere=tuple(
                (Address.parse(a), str(owner)) for a, owner in sorted((data.get("owned_elsewhere") or {}).items())
            ),
            diagnostics=tuple(Diagnostic.from_dict(d) for d in data["diagnostics"]),
            sources=dict(data["sources"]),
            servers=tuple(data["servers"]),
        )


# `json.dumps(value, sort_keys=True, default=str)`, its encoder made once: with options,
# json.dumps makes a new one per call, and a plan digests every resource.
_digest_text = json.JSONEncoder(sort_keys=True, default=str).encode


def body_digest(body: Mapping[str, Any], secret_digests: Iterable[str] = ()) -> str:
    """A digest of a desired body: masked values plus keyed digests of the secret ones."""
    h = hashlib.sha256()
    h.update(_digest_text(masked(body)).encode())
    for d in secret_digests:
        h.update(d.encode())
    return h.hexdigest()[:24]
