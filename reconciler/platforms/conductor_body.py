"""What a Conductor write carries: the configuration to send (the desired keys over the
server's, never a mask), the keys recorded at the last apply and those dropped since, what a
write keeps of the server's row under `ignore_changes`, and the version a row shows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.kinds.conductor import MASK, tag_pairs
from reconciler.model import KEYS_TAG_KEY, Resource, reveal


def version_of(row: Mapping[str, Any]) -> str:
    """The version token of a provider or model: `updateTime` (current servers) or `updatedOn`
    (older ones, and the Java and Python SDKs' models); "" when the server sends neither (the
    stale-write check is then off, and the plan says so)."""
    for key in ("updateTime", "updatedOn"):
        value = row.get(key)
        if value is not None and value != "":
            return str(value)
    return ""


def applied_keys(tags: Sequence[Mapping[str, str]]) -> tuple[str, ...] | None:
    """The configuration key names recorded at the last apply (every record, should an
    interrupted write have left two), or None when there is no record."""
    records = [t["value"] for t in tags if t["key"] == KEYS_TAG_KEY]
    if not records:
        return None
    return tuple(sorted({k for value in records for k in value.split(",") if k}))


# The bulk save's item keeps these as the server has them when `ignore_changes` names them.
ITEM_KEPT = ("description", "enabled", "configuration")
# A model's save keeps these whole, and keys of its configuration one by one.
MODEL_KEPT = ("description", "enabled")


def row_kept(row: Mapping[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    """What a write may keep of a server row: the named fields it has, and its configuration."""
    kept = {k: row[k] for k in fields if k in row}
    kept["configuration"] = row.get("configuration") or {}
    return kept


def merged(desired: Any, live: Any, dropped: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The configuration to write: the desired keys (secrets revealed) over the live ones the
    desired state does not name, less `dropped` (declared at the last apply, gone now). A
    masked live value is never sent back: what a server does with the mask is not published,
    and storing it literally would destroy the secret."""
    out: dict[str, Any] = {}
    if isinstance(live, Mapping):
        out = {k: v for k, v in live.items() if v != MASK}
    for key in dropped:
        out.pop(key, None)
    out.update(reveal(desired or {}))
    return out


def kept_whole(desired: Any, live: Any) -> dict[str, Any]:
    """The configuration to write when `ignore_changes` names it whole: the server's own. The
    API replaces it on every save and masks its secrets on read, so a masked key carries the
    declared value where there is one (the mask itself is never sent back) and is otherwise
    left out."""
    declared = desired if isinstance(desired, Mapping) else {}
    out: dict[str, Any] = {}
    for key, value in (live if isinstance(live, Mapping) else {}).items():
        if value != MASK:
            out[key] = value
        elif key in declared:
            out[key] = reveal(declared[key])
    return out


def dropped_keys(provider: Resource, row: Mapping[str, Any] | None) -> frozenset[str]:
    """Configuration keys the last apply declared and the desired state no longer does (the
    planner shows each as `- configuration.KEY`); keys under `ignore_changes` stay."""
    if row is None:
        return frozenset()
    recorded = applied_keys(tag_pairs(row.get("tags"))) or ()
    declared = provider.body.get("configuration") or {}
    ignored = provider.lifecycle.ignore_changes
    return frozenset(
        k
        for k in recorded
        if k not in declared
        and not any(p in ("configuration", f"configuration.{k}") for p in ignored)
    )


def value_at(body: Mapping[str, Any], path: str) -> Any:
    value: Any = body
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value
