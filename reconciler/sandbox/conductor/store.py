"""SQLite storage of the Conductor emulator: providers, their APIs, and their JSON renderings.

Two tables, both keyed by organization first (one tenant never reads another's rows):
`conductor_provider` (one row per provider; `configuration` and `tags` as JSON text) and
`conductor_api` (one row per integration API, deleted with its provider by a foreign-key
cascade). Upserts are `INSERT ... ON CONFLICT DO UPDATE`, never `INSERT OR REPLACE`, which
would delete the row and cascade its APIs away. Bulk writes go through `executemany`.

Version token: a provider's `updateTime` moves forward on every accepted write to the
provider (single or bulk upsert, even one that changes nothing), to its tags (PUT or DELETE
`/tags`, even when no pair was added or removed), and to any of its APIs (upsert or DELETE of
an API). It is `max(now, previous + 1)` in epoch milliseconds, so two writes within the same
millisecond, or under a frozen test clock, still give two different values. An API's own
`updateTime` follows the same rule for writes to that API.

Secrets: values are stored as sent. On read, every secret key (see `catalog`) with a
non-null value reads as `"********"`. What a real server does with the mask sent back is not
published; the sandbox takes the harmful reading and stores it as sent, in place of the secret,
so that a client sending a read value back is caught by its own tests.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from reconciler.sandbox.conductor.auth import Principal
from reconciler.sandbox.conductor.catalog import MASK, READ_DEFAULTS, Catalog
from reconciler.sandbox.conductor.model import ApiInput, ProviderInput, Tag

SCHEMA = """
CREATE TABLE IF NOT EXISTS conductor_provider (
    org TEXT NOT NULL,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    category TEXT NOT NULL,
    description TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    configuration TEXT NOT NULL,
    tags TEXT,
    create_time INTEGER NOT NULL,
    update_time INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (org, name)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS conductor_api (
    org TEXT NOT NULL,
    provider TEXT NOT NULL,
    api TEXT NOT NULL,
    description TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    configuration TEXT NOT NULL,
    max_tokens INTEGER,
    frequency TEXT,
    create_time INTEGER NOT NULL,
    update_time INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (org, provider, api),
    FOREIGN KEY (org, provider) REFERENCES conductor_provider (org, name) ON DELETE CASCADE
) WITHOUT ROWID;
"""

# `tags` NULL on the incoming row means "leave the stored tags alone" (NULL reads as []).
_UPSERT_PROVIDER = """
INSERT INTO conductor_provider (org, name, type, category, description, enabled, configuration,
    tags, create_time, update_time, created_by, updated_by)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (org, name) DO UPDATE SET
    category = excluded.category,
    description = excluded.description,
    enabled = excluded.enabled,
    configuration = excluded.configuration,
    tags = COALESCE(excluded.tags, conductor_provider.tags),
    update_time = MAX(excluded.update_time, conductor_provider.update_time + 1),
    updated_by = excluded.updated_by
"""

_UPSERT_API = """
INSERT INTO conductor_api (org, provider, api, description, enabled, configuration, max_tokens,
    frequency, create_time, update_time, created_by, updated_by)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (org, provider, api) DO UPDATE SET
    description = excluded.description,
    enabled = excluded.enabled,
    configuration = excluded.configuration,
    max_tokens = excluded.max_tokens,
    frequency = excluded.frequency,
    update_time = MAX(excluded.update_time, conductor_api.update_time + 1),
    updated_by = excluded.updated_by
"""

# A bulk item's API has no configuration: an existing API keeps its own.
_UPSERT_BULK_API = """
INSERT INTO conductor_api (org, provider, api, description, enabled, configuration, max_tokens,
    frequency, create_time, update_time, created_by, updated_by)
VALUES (?, ?, ?, ?, ?, '{}', NULL, NULL, ?, ?, ?, ?)
ON CONFLICT (org, provider, api) DO UPDATE SET
    description = excluded.description,
    enabled = excluded.enabled,
    update_time = MAX(excluded.update_time, conductor_api.update_time + 1),
    updated_by = excluded.updated_by
"""

_TOUCH_PROVIDER = """
UPDATE conductor_provider SET update_time = MAX(?, update_time + 1), updated_by = ?
WHERE org = ? AND name = ?
"""


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _tags_json(tags: Iterable[Tag] | None) -> str | None:
    return None if tags is None else _dumps([t.to_json() for t in tags])


def _read_tags(text: str | None) -> list[dict[str, str]]:
    return [] if text is None else list(orjson.loads(text))


# ---- reads -----------------------------------------------------------------------------------


def provider_type(conn: sqlite3.Connection, org: str, name: str) -> str | None:
    row = conn.execute("SELECT type FROM conductor_provider WHERE org = ? AND name = ?", (org, name)).fetchone()
    return None if row is None else str(row[0])


def provider_types(conn: sqlite3.Connection, org: str, names: Iterable[str]) -> dict[str, str]:
    """The stored type of each of `names` that exists."""
    rows = conn.execute(
        "SELECT name, type FROM conductor_provider WHERE org = ? AND name IN (SELECT value FROM json_each(?))",
        (org, _dumps(sorted(set(names)))),
    )
    return {str(r[0]): str(r[1]) for r in rows}


def _present_configuration(catalog: Catalog, stored: str, defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    config: dict[str, Any] = orjson.loads(stored)
    if defaults:
        for key, value in defaults.items():
            config.setdefault(key, value)
    for key, value in config.items():
        if value is not None and catalog.is_secret(key):
            config[key] = MASK
    return config


def _provider_json(
    catalog: Catalog, row: sqlite3.Row, models_count: int, apis: list[dict[str, Any]] | None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": row["name"],
        "type": row["type"],
        "description": row["description"],
        "enabled": bool(row["enabled"]),
        "configuration": _present_configuration(catalog, row["configuration"], READ_DEFAULTS.get(row["type"])),
        "tags": _read_tags(row["tags"]),
        "modelsCount": models_count,
        "createTime": row["create_time"],
        "updateTime": row["update_time"],
        "createdBy": row["created_by"],
        "updatedBy": row["updated_by"],
    }
    if row["category"]:
        # A provider without a category (its type's is not published) has none on read.
        out["category"] = row["category"]
    if apis is not None:
        out["apis"] = apis
    return out


def _api_json(catalog: Catalog, row: sqlite3.Row) -> dict[str, Any]:
    out: dict[str, Any] = {
        "integrationName": row["provider"],
        "api": row["api"],
        "description": row["description"],
        "configuration": _present_configuration(catalog, row["configuration"]),
        "enabled": bool(row["enabled"]),
        # No call of the API sets tags on an integration API.
        "tags": [],
        "createTime": row["create_time"],
        "updateTime": row["update_time"],
        "createdBy": row["created_by"],
        "updatedBy": row["updated_by"],
    }
    if row["max_tokens"] is not None:
        out["maxTokens"] = row["max_tokens"]
    if row["frequency"] is not None:
        out["frequency"] = row["frequency"]
    return out


def get_provider(conn: sqlite3.Connection, catalog: Catalog, org: str, name: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT * FROM conductor_provider WHERE org = ? AND name = ?", (org, name)).fetchone()
    if row is None:
        return None
    (count,) = conn.execute("SELECT COUNT(*) FROM conductor_api WHERE org = ? AND provider = ?", (org, name)).fetchone()
    return _provider_json(catalog, row, int(count), None)


def list_providers(
    conn: sqlite3.Connection,
    catalog: Catalog,
    org: str,
    *,
    category: str | None,
    active_only: bool,
    with_apis: bool,
) -> list[dict[str, Any]]:
    """Providers by name; with `with_apis`, each with its APIs (enabled ones if `active_only`)."""
    sql = "SELECT * FROM conductor_provider WHERE org = ?"
    params: list[Any] = [org]
    if category is not None:
        sql += " AND category = ?"
        params.append(category)
    if active_only:
        sql += " AND enabled = 1"
    rows = conn.execute(sql + " ORDER BY name", params).fetchall()
    counts = {
        str(r[0]): int(r[1])
        for r in conn.execute("SELECT provider, COUNT(*) FROM conductor_api WHERE org = ? GROUP BY provider", (org,))
    }
    apis: dict[str, list[dict[str, Any]]] | None = None
    if with_apis:
        apis = {str(r["name"]): [] for r in rows}
        api_sql = "SELECT * FROM conductor_api WHERE org = ?"
        if active_only:
            api_sql += " AND enabled = 1"
        for api_row in conn.execute(api_sql + " ORDER BY provider, api", (org,)):
            bucket = apis.get(api_row["provider"])
            if bucket is not None:
                bucket.append(_api_json(catalog, api_row))
    return [
        _provider_json(catalog, row, counts.get(row["name"], 0), None if apis is None else apis[row["name"]])
        for row in rows
    ]


def get_api(conn: sqlite3.Connection, catalog: Catalog, org: str, provider: str, api: str) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT * FROM conductor_api WHERE org = ? AND provider = ? AND api = ?",
        (org, provider, api),
    ).fetchone()
    return None if row is None else _api_json(catalog, row)


def list_apis(
    conn: sqlite3.Connection, catalog: Catalog, org: str, provider: str, *, active_only: bool
) -> list[dict[str, Any]]:
    sql = "SELECT * FROM conductor_api WHERE org = ? AND provider = ?"
    if active_only:
        sql += " AND enabled = 1"
    rows = conn.execute(sql + " ORDER BY api", (org, provider))
    return [_api_json(catalog, row) for row in rows]


def get_tags(conn: sqlite3.Connection, org: str, name: str) -> list[Tag] | None:
    row = conn.execute("SELECT tags FROM conductor_provider WHERE org = ? AND name = ?", (org, name)).fetchone()
    if row is None:
        return None
    return [Tag(t["key"], t["value"]) for t in _read_tags(row[0])]


# ---- writes ----------------------------------------------------------------------------------


def _provider_row(org: str, who: Principal, now_ms: int, p: ProviderInput, config_json: str) -> tuple[Any, ...]:
    return (
        org, p.name, p.type, p.category, p.description, int(p.enabled), config_json,
        _tags_json(p.tags), now_ms, now_ms, who.key_id, who.key_id,
    )  # fmt: skip


def _api_row(org: str, who: Principal, now_ms: int, provider: str, a: ApiInput, config_json: str) -> tuple[Any, ...]:
    return (
        org, provider, a.api, a.description, int(a.enabled), config_json, a.max_tokens,
        a.frequency, now_ms, now_ms, who.key_id, who.key_id,
    )  # fmt: skip


def save_provider(
    conn: sqlite3.Connection, catalog: Catalog, org: str, who: Principal, now_ms: int,
    provider: ProviderInput,
) -> None:  # fmt: skip
    """Upsert one provider (its type already checked against the stored one)."""
    conn.execute(_UPSERT_PROVIDER, _provider_row(org, who, now_ms, provider, _dumps(provider.configuration)))


def save_providers(
    conn: sqlite3.Connection, catalog: Catalog, org: str, who: Principal, now_ms: int,
    providers: Iterable[ProviderInput],
) -> None:  # fmt: skip
    """Upsert providers and their APIs in order, as two `executemany` batches.

    Rows are upserted in array order, so a name listed twice ends as its last occurrence
    (each occurrence still moves `updateTime`). An API listed again keeps its configuration (see `_UPSERT_BULK_API`).
    """
    provider_rows: list[tuple[Any, ...]] = []
    api_rows: list[tuple[Any, ...]] = []
    for p in providers:
        config_json = _dumps(p.configuration)
        provider_rows.append(_provider_row(org, who, now_ms, p, config_json))
        api_rows.extend(
            (org, p.name, a.api, a.description, int(a.enabled), now_ms, now_ms, who.key_id, who.key_id) for a in p.apis
        )
    conn.executemany(_UPSERT_PROVIDER, provider_rows)
    conn.executemany(_UPSERT_BULK_API, api_rows)


def delete_provider(conn: sqlite3.Connection, org: str, name: str) -> None:
    conn.execute("DELETE FROM conductor_provider WHERE org = ? AND name = ?", (org, name))


def save_api(
    conn: sqlite3.Connection, catalog: Catalog, org: str, who: Principal, now_ms: int,
    provider: str, api: ApiInput,
) -> None:  # fmt: skip
    """Upsert one API of an existing provider, and move the provider's `updateTime`."""
    conn.execute(_UPSERT_API, _api_row(org, who, now_ms, provider, api, _dumps(api.configuration)))
    touch_provider(conn, org, who, now_ms, provider)


def delete_api(conn: sqlite3.Connection, org: str, who: Principal, now_ms: int, provider: str, api: str) -> None:
    conn.execute("DELETE FROM conductor_api WHERE org = ? AND provider = ? AND api = ?", (org, provider, api))
    touch_provider(conn, org, who, now_ms, provider)


def touch_provider(conn: sqlite3.Connection, org: str, who: Principal, now_ms: int, name: str) -> None:
    conn.execute(_TOUCH_PROVIDER, (now_ms, who.key_id, org, name))


def set_tags(conn: sqlite3.Connection, org: str, who: Principal, now_ms: int, name: str, tags: list[Tag]) -> None:
    conn.execute(
        "UPDATE conductor_provider SET tags = ?, update_time = MAX(?, update_time + 1),"
        " updated_by = ? WHERE org = ? AND name = ?",
        (_tags_json(tags), now_ms, who.key_id, org, name),
    )
