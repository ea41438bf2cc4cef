"""SQLite storage of the Kubiya emulator: one table of custom integrations, rows as the vendor's
server renders them (JSONB key order, ISO-8601 times), and the database's own errors.
"""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from datetime import datetime
from typing import Any

import orjson

from reconciler.sandbox.seed import Seed

TABLE = "kubiya_custom_integrations"

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    organization_id TEXT NOT NULL,
    name TEXT NOT NULL,
    integration_type TEXT NOT NULL,
    description TEXT,
    status TEXT NOT NULL,
    config TEXT NOT NULL,
    tags TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    created_by TEXT
);
-- The vendor's index covers soft-deleted rows too: this is what makes the name trap.
CREATE UNIQUE INDEX IF NOT EXISTS {TABLE}_org_name ON {TABLE} (organization_id, name);
CREATE INDEX IF NOT EXISTS {TABLE}_org_created ON {TABLE} (organization_id, created_at, seq);
"""

COLUMNS = (
    "id, organization_id, name, integration_type, description, status, config, tags, created_at, updated_at, created_by"
)


# --- Module interface used by app.py -----------------------------------------------------------


def reset(conn: sqlite3.Connection, seed: Seed) -> None:
    """Nothing is seeded: tokens are read from the seed on every request."""


class ServerError(Exception):
    """What the vendor's server would hit as an unhandled database error: a plain 500."""


# PostgreSQL's uuid input: hex digits in groups of four with optional hyphens between groups,
# optionally in braces.
_PG_UUID = re.compile(r"\{?[0-9a-fA-F]{4}(?:-?[0-9a-fA-F]{4}){7}\}?")


def canonical_id(raw: str) -> str:
    """The row key for a path id; a non-UUID id is the database's cast error."""
    if not _PG_UUID.fullmatch(raw) or raw.startswith("{") != raw.endswith("}"):
        raise ServerError(f"invalid input syntax for type uuid: {raw!r}")
    return str(uuid.UUID(raw.strip("{}").replace("-", "")))


def _jsonb(value: Any) -> Any:
    """The value as PostgreSQL's JSONB gives it back: object keys by length, then bytes."""
    if isinstance(value, dict):
        ordered = sorted(value, key=lambda k: (len(k.encode()), k.encode()))
        return {k: _jsonb(value[k]) for k in ordered}
    if isinstance(value, list):
        return [_jsonb(v) for v in value]
    return value


def dump(value: Any) -> str:
    return json.dumps(_jsonb(value), ensure_ascii=False, separators=(",", ":"))


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def row_dict(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "organization_id": row["organization_id"],
        "name": row["name"],
        "integration_type": row["integration_type"],
        "description": row["description"],
        "status": row["status"],
        "config": orjson.loads(row["config"]),
        "tags": orjson.loads(row["tags"]),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "created_by": row["created_by"],
    }


# The vendor's list order: newest first (a later insert first among equal timestamps).
NEWEST_FIRST = "ORDER BY created_at DESC, seq DESC"

# A row as `row_dict` renders it, made by SQLite as JSON text: the list of a large server is
# the sandbox's largest answer, and building a dict per row to encode it again took most of
# the time a plan of 50,000 resources waited for it.
ROW_JSON = (
    "json_object('id', id, 'organization_id', organization_id, 'name', name, "
    "'integration_type', integration_type, 'description', description, 'status', status, "
    "'config', json(config), 'tags', json(tags), 'created_at', created_at, "
    "'updated_at', updated_at, 'created_by', created_by)"
)


def json_list(conn: sqlite3.Connection, where: str, params: list[Any]) -> bytes:
    """The JSON array of the rows `where` selects (`... WHERE {where}`), newest first, each
    as `row_dict` renders it."""
    rows = conn.execute(
        f"SELECT {ROW_JSON} FROM {TABLE} WHERE {where} {NEWEST_FIRST}", params
    ).fetchall()
    return b"[" + ",".join(row[0] for row in rows).encode() + b"]"


def select_one(conn: sqlite3.Connection, organization: str, row_id: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        f"SELECT {COLUMNS} FROM {TABLE} WHERE id = ? AND organization_id = ?",
        (row_id, organization),
    ).fetchone()
    return row


def name_taken(conn: sqlite3.Connection, organization: str, name: str, except_id: str | None = None) -> bool:
    """The vendor's 409 check: it looks at rows that are not deleted only."""
    found = conn.execute(
        f"SELECT 1 FROM {TABLE} WHERE organization_id = ? AND name = ? AND status != 'deleted' AND id != ? LIMIT 1",
        (organization, name, except_id or ""),
    ).fetchone()
    return found is not None
