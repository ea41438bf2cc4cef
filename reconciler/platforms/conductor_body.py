"""What a Conductor write carries: the bulk-save item of a provider with the reconciler's own
tags, the configuration to send (the desired keys over the server's, never a mask), the keys
recorded at the last apply and those dropped since, what a write keeps of the server's row under
`ignore_changes`, the version a row shows; and how a saved provider is checked afterwards."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler import diff
from reconciler.errors import PlatformError
from reconciler.kinds import keep_ignored
from reconciler.kinds.conductor import MASK, OWN_TAG_KEYS, plain_tags, tag_pairs
from reconciler.model import (
    FINGERPRINT_TAG_KEY,
    KEYS_TAG_KEY,
    MANAGED_TAG_KEY,
    Address,
    LiveResource,
    Resource,
    marker_value,
    reveal,
)
from reconciler.outcomes import Outcome, Skipped, failed
from reconciler.plan import Change


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


# What a save keeps as the server has it when `ignore_changes` names it: these fields whole,
# and the configuration whole or key by key.
KEPT = ("description", "enabled", "configuration")


def keep_ignored_of_row(
    payload: dict[str, Any], declared: Mapping[str, Any], row: Mapping[str, Any], ignored: Sequence[str]
) -> None:
    """`keep_ignored` for a provider or model save, against the server's row as a write may
    send it back: its configuration with every masked value replaced by the declared one, or
    left out where none is declared (the API masks secrets on read, and a mask sent back
    would be stored in place of the secret)."""
    kept = {k: row[k] for k in KEPT if k in row}
    kept["configuration"] = kept_whole(declared.get("configuration"), row.get("configuration"))
    keep_ignored(payload, kept, ignored, copy=("configuration",), copy_whole=KEPT)


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


def bulk_item(provider: Resource, models: list[Change], row: Mapping[str, Any] | None, owner: str) -> dict[str, Any]:
    """A bulk-save item: the desired provider, with what the plan leaves alone kept as the
    server has it (configuration keys the desired state does not name, paths under
    `ignore_changes`), so that a write never changes what the plan did not show. `owner`: the
    ownership scope its marker names."""
    body = provider.body
    tags = own_tags(provider, owner)
    tags = [*body.get("tags", []), *tags]
    item: dict[str, Any] = {
        "name": provider.address.name,
        "type": body["type"],
        "description": body.get("description", ""),
        "enabled": body.get("enabled", True),
        "configuration": merged(
            body.get("configuration"),
            row.get("configuration") if row else None,
            dropped_keys(provider, row),
        ),
        "tags": tags,
        "apis": [
            {
                "integrationName": provider.address.name,
                "api": m.address.name,
                "description": m.desired.body.get("description", "") if m.desired else "",
                "enabled": m.desired.body.get("enabled", True) if m.desired else True,
            }
            for m in models
        ],
    }
    if body.get("category"):
        # Sent only when known: the enum has no value for every type (aws, gcp).
        item["category"] = body["category"]
    ignored = provider.lifecycle.ignore_changes
    if row is not None and ignored:
        keep_ignored_of_row(item, body, row, ignored)
        if any(p.partition(".")[0] == "tags" for p in ignored):
            kept = plain_tags(row.get("tags"))
            item["tags"] = [*kept, *(t for t in tags if t["key"] in OWN_TAG_KEYS)]
    return item

def own_tags(provider: Resource, owner: str) -> list[dict[str, str]]:
    """The reconciler's tags of a provider: this scope's marker, the fingerprint of its
    write-only values, and the names (never the values) of its declared configuration keys.
    None of them (an empty list) on an update that must not mark (read-only adoption): those
    are an owner's tags, and the provider stays unmanaged."""
    if not provider.mark:
        return []
    tags = [
        {"key": MANAGED_TAG_KEY, "value": marker_value(owner)},
        {"key": KEYS_TAG_KEY, "value": ",".join(sorted(provider.body.get("configuration") or {}))},
    ]
    if provider.fingerprint:
        tags.append({"key": FINGERPRINT_TAG_KEY, "value": provider.fingerprint})
    return tags


def batch_failed(providers: list[Change], riders: Mapping[Address, list[Change]], exc: PlatformError) -> list[Outcome]:
    """A bulk save that failed as a whole: its providers failed, the models riding with them
    skipped."""
    out: list[Outcome] = []
    for c in providers:
        out.append(failed(c, exc))
        out.extend(Skipped(m, f"depends on {c.address}, which did not succeed") for m in riders[c.address])
    return out


def differs(change: Change, current: LiveResource | None) -> bool:
    """Whether a provider just saved differs, as the plan compares, from what the save carried:
    its fields (what `ignore_changes` leaves alone excepted) and, when this apply marks it, the
    fingerprint of its write-only values."""
    desired = change.desired
    assert desired is not None
    if current is None:
        return True
    if diff.resource_fields(desired, current):
        return True
    wo = diff.compared_write_only(desired)
    return bool(desired.mark and wo and desired.fingerprint is not None and current.fingerprint != desired.fingerprint)
