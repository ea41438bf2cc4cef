"""Conductor integration providers and their models (integration APIs): fields, defaults and
the canonical bodies.

Provider body: `type`, `category`, `description` ("" for none), `enabled` (default true),
`configuration`, `tags` as a sorted list of `{key, value}` without the reconciler's own tags.
Model body: `description`, `enabled`, `configuration`. The server adds keys of its own to a
configuration (`organizationId`), so `configuration` is an open path; its secret keys come from
the catalog (`reconciler.kinds.catalog.secret_keys`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.kinds.spec import KindSpec
from reconciler.model import FINGERPRINT_TAG_KEY, KEYS_TAG_KEY, MANAGED_TAG_KEY, ResourceKind

# The tag keys the reconciler writes on a provider: its marker, the fingerprint of write-only
# values, the names of the configuration keys last declared.
OWN_TAG_KEYS = frozenset({MANAGED_TAG_KEY, FINGERPRINT_TAG_KEY, KEYS_TAG_KEY})
# What every password-type value reads back as.
MASK = "********"
PROVIDER_FIELDS = ("type", "category", "description", "enabled", "configuration", "tags")
MODEL_FIELDS = ("description", "enabled", "configuration")
OPEN_PATHS = ("configuration",)


def tag_pairs(raw: Any) -> list[dict[str, str]]:
    """Tags as a sorted list of distinct `{key, value}` (items that are no record skipped)."""
    pairs = {(str(t.get("key")), str(t.get("value"))) for t in raw or [] if isinstance(t, Mapping)}
    return [{"key": k, "value": v} for k, v in sorted(pairs)]


def plain_tags(raw: Any) -> list[dict[str, str]]:
    """The tags without the reconciler's own."""
    return [t for t in tag_pairs(raw) if t["key"] not in OWN_TAG_KEYS]


def canonical_provider(body: Mapping[str, Any]) -> dict[str, Any]:
    """The provider body as the adapter's read produces it."""
    out = dict(body)
    out["tags"] = plain_tags(body.get("tags"))
    out["description"] = body.get("description") or ""
    out.setdefault("enabled", True)
    out["configuration"] = dict(body.get("configuration") or {})
    return out


def canonical_model(body: Mapping[str, Any]) -> dict[str, Any]:
    """The model body as the adapter's read produces it."""
    out = dict(body)
    out["description"] = body.get("description") or ""
    out.setdefault("enabled", True)
    out["configuration"] = dict(body.get("configuration") or {})
    return out


PROVIDER = KindSpec(
    kind=ResourceKind.PROVIDER,
    fields=PROVIDER_FIELDS,
    canonical=canonical_provider,
    ignorable=PROVIDER_FIELDS,
    defaults={"description": "", "enabled": True, "configuration": {}},
    read_back=PROVIDER_FIELDS,
    # Its secret fields depend on the type and the server: `catalog.secret_keys(type, learned)`
    # names the configuration keys that hold secrets (write-only, masked on read).
    open_paths=OPEN_PATHS,
    replace_on=("type",),
)

MODEL = KindSpec(
    kind=ResourceKind.MODEL,
    fields=MODEL_FIELDS,
    canonical=canonical_model,
    ignorable=MODEL_FIELDS,
    defaults={"description": "", "enabled": True, "configuration": {}},
    read_back=MODEL_FIELDS,
    open_paths=OPEN_PATHS,
)
