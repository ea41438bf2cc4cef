"""Kubiya custom integrations: fields, the server's defaults, and the canonical body.

Canonical body (desired and live alike): `type`, `description` ("" for none: the API cannot
clear it to null, so null and "" are the same), `config` as the server stores it (every key
present, unknown keys dropped, each file completed with `FILE_DEFAULTS`, a connection test with
`TEST_DEFAULTS`), `tags` sorted without any ownership marker, `status` (`active` or
`inactive`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.kinds.spec import KindSpec
from reconciler.model import ResourceKind, owner_of_kubiya_tag

# What the server fills into each `config.files` record left without it (an empty mode too).
FILE_DEFAULTS: Mapping[str, Any] = {"content": None, "secret_ref": None, "mode": "0644", "description": None}
# What the server fills into a `config.connection_test` left without it.
TEST_DEFAULTS: Mapping[str, Any] = {"enabled": True, "timeout": 5}
CONFIG_FIELDS = ("env_vars", "secrets", "files", "context_prompt", "connection_test")
FIELDS = ("type", "description", "config", "tags", "status")
DEFAULT_STATUS = "active"
STATUSES = ("active", "inactive")


def plain_tags(tags: Any) -> list[str]:
    """The tags, sorted, without any ownership marker."""
    return sorted(t for t in tags or [] if owner_of_kubiya_tag(t) is None)


def canonical_file(entry: Mapping[str, Any]) -> dict[str, Any]:
    """One `config.files` record as the server stores it."""
    record = {"path": entry.get("path")}
    for key, default in FILE_DEFAULTS.items():
        # An empty mode is the default too, as the server stores it.
        record[key] = entry.get(key) or default if key == "mode" else entry.get(key, default)
    return record


def canonical_test(test: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A connection test as the server stores it (None: no test)."""
    if test is None:
        return None
    enabled = test.get("enabled")
    timeout = test.get("timeout")
    return {
        "enabled": TEST_DEFAULTS["enabled"] if enabled is None else enabled,
        "command": test.get("command"),
        "timeout": TEST_DEFAULTS["timeout"] if timeout is None else timeout,
    }


def canonical_config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The config as the server stores it: all keys, defaults filled, unknown keys dropped."""
    config = config or {}
    return {
        "env_vars": dict(config.get("env_vars") or {}),
        "secrets": list(config.get("secrets") or []),
        "files": [canonical_file(f) for f in config.get("files") or []],
        "context_prompt": config.get("context_prompt"),
        "connection_test": canonical_test(config.get("connection_test")),
    }


def canonical(body: Mapping[str, Any]) -> dict[str, Any]:
    """The integration body as the adapter's read produces it."""
    out = dict(body)
    out["description"] = body.get("description") or ""
    out["config"] = canonical_config(body.get("config"))
    out["tags"] = plain_tags(body.get("tags"))
    out["status"] = body.get("status") or DEFAULT_STATUS
    return out


INTEGRATION = KindSpec(
    kind=ResourceKind.INTEGRATION,
    fields=FIELDS,
    canonical=canonical,
    # `status` is declared, not ignored: it switches the integration on and off.
    ignorable=("type", "description", "config", "tags"),
    sub_fields={"config": CONFIG_FIELDS},
    defaults={"description": "", "status": DEFAULT_STATUS},
    record_defaults={"config.files": FILE_DEFAULTS},
    read_back=FIELDS,
    replace_on=("type",),
)
