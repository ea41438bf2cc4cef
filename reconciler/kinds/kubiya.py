"""Kubiya custom integrations: fields, the server's defaults, and the canonical body.

Canonical body (desired and live alike): `type`, `description` ("" for none: the API cannot
clear it to null, so null and "" are the same), `config` as the server stores it (every key
present, unknown keys dropped, each file completed with `FILE_DEFAULTS`, a connection test with
`TEST_DEFAULTS`), `tags` sorted without any ownership marker, `status` (`active` or
`inactive`).
"""

from __future__ import annotations

import itertools
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
    """The tags, sorted, without any ownership marker (a list already so is kept: see
    `canonical_config`)."""
    plain = [t for t in tags or [] if owner_of_kubiya_tag(t) is None]
    if type(tags) is list and len(plain) == len(tags) and all(a <= b for a, b in itertools.pairwise(tags)):
        return tags
    plain.sort()
    return plain


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
    if type(test) is dict and len(test) == 3 and "command" in test and enabled is not None and timeout is not None:
        return test  # already complete: shared, see `canonical_config`
    return {
        "enabled": TEST_DEFAULTS["enabled"] if enabled is None else enabled,
        "command": test.get("command"),
        "timeout": TEST_DEFAULTS["timeout"] if timeout is None else timeout,
    }


def _canonical_files(files: Any) -> list[dict[str, Any]]:
    records = [canonical_file(f) for f in files or []]
    # Records already complete: the list is kept (see `canonical_config`).
    if type(files) is list and all(type(f) is dict for f in files) and records == files:
        return files
    return records


def canonical_config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The config as the server stores it: all keys, defaults filled, unknown keys dropped.

    A part already in that shape (a plain dict or list: a row just decoded, a body just built)
    is kept, not copied: bodies are never changed in place, and a plan of 25,000
    integrations holds each config twice (declared and live), so copies would cost megabytes.
    """
    config = config or {}
    env_vars = config.get("env_vars")
    secrets = config.get("secrets")
    files = config.get("files")
    out = {
        "env_vars": env_vars if type(env_vars) is dict else dict(env_vars or {}),
        "secrets": secrets if type(secrets) is list else list(secrets or []),
        "files": _canonical_files(files),
        "context_prompt": config.get("context_prompt"),
        "connection_test": canonical_test(config.get("connection_test")),
    }
    if type(config) is dict and len(config) == len(out) and all(config.get(k) is v for k, v in out.items()):
        return config
    return out


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
