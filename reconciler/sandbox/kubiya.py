"""Sandbox emulator of the Kubiya Agent Control Plane's custom integrations.

`/api/v1/custom-integrations`, as in `shared/api-reference.md` section 1: FastAPI routes and
pydantic models shaped like the vendor's server (so that 422 bodies are FastAPI's own), one
SQLite table, tenancy by the organization of the caller's token (`Seed.kubiya_tokens`).

The vendor's quirks are reproduced on purpose:
- names are unique per organization among rows that are not `deleted` (409), while the unique
  index on (organization, name) also covers soft-deleted rows: creating or renaming into the
  name of a soft-deleted row answers a plain-text `500 Internal Server Error`, writing nothing;
- DELETE is a soft delete (`status: deleted`) unless `?hard_delete=true`; the list hides deleted
  rows unless a `status` filter is given; `tags=a,b` is an AND filter;
- PUT is partial (omitted or null fields are left alone) but `config` and `tags` are replaced
  whole; `integration_type` may be changed; nothing is masked;
- `config` is stored as the vendor's pydantic model dumps it: every key present, defaults
  filled, unknown keys dropped.

Where the reference is silent, the sandbox does what the vendor's FastAPI server (SQLAlchemy
over PostgreSQL) most plausibly does:
- `created_by` is null: the sandbox's tokens name an organization, not a user;
- `id` is a uuid4 string; `created_at` and `updated_at` are ISO-8601 UTC with microseconds
  (`2025-12-16T10:00:00.123456+00:00`); the list is ordered by `created_at` descending, ties
  broken by insertion order (newest first);
- `updated_at` changes on every PUT that changes a value (never going backwards, even under a
  frozen test clock, because clients use it as a version token); a PUT that changes nothing,
  and a soft DELETE of a deleted row, leave it as it was, as an ORM flush of an unchanged row
  writes nothing;
- a path id that is not a UUID (in any form PostgreSQL's `uuid` type accepts) fails the
  database cast: plain-text 500, like the name trap. A UUID in another accepted form
  (upper case, braces, no hyphens) finds the row;
- strings PostgreSQL cannot store (a NUL character, a lone surrogate) anywhere in a write:
  plain-text 500, nothing written;
- auth comes before body validation, except malformed JSON, which FastAPI rejects (422)
  before any dependency runs. The token is found as the vendor finds it (`Bearer `,
  `UserKey `, `Baerer `, a bare token, or a `UserKey` header; schemes are case-sensitive), and
  a 401 carries the vendor's texts: no token → `Authorization header is required`, an unknown
  one → `Invalid or expired authentication token` (its hint too), with no `WWW-Authenticate`;
- a body over 1 MiB answers 413 `{"detail": "Request Entity Too Large"}`, as the
  ingress in front of the real server would, before auth or parsing.
"""

from __future__ import annotations

import enum
import json
import re
import sqlite3
import uuid
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from reconciler.sandbox.seed import Seed

PREFIX = "/api/v1/custom-integrations"
MAX_BODY_BYTES = 1024 * 1024
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

_COLUMNS = (
    "id, organization_id, name, integration_type, description, status, config, tags, created_at, updated_at, created_by"
)


class _SizeLimitedRoute(APIRoute):
    """Rejects an oversized body before FastAPI parses it or any dependency runs."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def limited(request: Request) -> Response:
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
                return _too_large()
            # FastAPI reads the body again from the same Request object, which caches it.
            if len(await request.body()) > MAX_BODY_BYTES:
                return _too_large()
            return await handler(request)

        return limited


router = APIRouter(prefix=PREFIX, route_class=_SizeLimitedRoute)


# --- Models: the vendor's request models, field for field -------------------------------------


class CustomIntegrationStatus(enum.StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    DELETED = "deleted"


class FileConfig(BaseModel):
    path: str
    content: str | None = None
    secret_ref: str | None = None
    mode: str | None = "0644"
    description: str | None = None


class ConnectionTest(BaseModel):
    enabled: bool = True
    command: str
    timeout: int = 5


class CustomIntegrationConfig(BaseModel):
    env_vars: dict[str, str] = Field(default_factory=dict)
    secrets: list[str] = Field(default_factory=list)
    files: list[FileConfig] = Field(default_factory=list)
    context_prompt: str | None = None
    connection_test: ConnectionTest | None = None


class CreateCustomIntegrationRequest(BaseModel):
    name: str = Field(..., min_length=1, max_length=255)
    integration_type: str = Field(..., min_length=1, max_length=100)
    description: str | None = None
    config: CustomIntegrationConfig
    tags: list[str] = Field(default_factory=list)


class UpdateCustomIntegrationRequest(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=255)
    integration_type: str | None = Field(None, min_length=1, max_length=100)
    description: str | None = None
    config: CustomIntegrationConfig | None = None
    status: CustomIntegrationStatus | None = None
    tags: list[str] | None = None


# --- Module interface used by app.py -----------------------------------------------------------


def reset(conn: sqlite3.Connection, seed: Seed) -> None:
    """Nothing is seeded: tokens are read from the seed on every request."""


def http_error(request: Request, status: int, message: str) -> Response:
    return JSONResponse({"detail": message}, status_code=status)


# --- Helpers -----------------------------------------------------------------------------------


class _ServerError(Exception):
    """What the vendor's server would hit as an unhandled database error: a plain 500."""


def _internal_error() -> Response:
    return PlainTextResponse("Internal Server Error", status_code=500)


def _too_large() -> Response:
    return JSONResponse({"detail": "Request Entity Too Large"}, status_code=413)


def _not_found() -> HTTPException:
    return HTTPException(status_code=404, detail="Custom integration not found")


def _conflict(name: str) -> HTTPException:
    return HTTPException(status_code=409, detail=f"Custom integration with name '{name}' already exists")


def _unauthorized(message: str, hint: str) -> HTTPException:
    # The vendor's texts and shape (`app/middleware/auth.py`); no WWW-Authenticate header.
    return HTTPException(status_code=401, detail={"error": "Unauthorized", "message": message, "hint": hint})


def _token_of(request: Request) -> str | None:
    """The token as the vendor's `extract_token_from_headers` finds it: `Authorization` with
    `Bearer `, `UserKey ` or the misspelt `Baerer `, or a bare token holding no space; else a
    `UserKey` header."""
    header = request.headers.get("authorization")
    if header:
        for scheme in ("Bearer ", "UserKey ", "Baerer "):
            if header.startswith(scheme):
                return header[len(scheme) :]
        if " " not in header:
            return header
    return request.headers.get("userkey") or None


async def organization_of(request: Request) -> str:
    """The organization of the caller's token, or a 401."""
    token = _token_of(request)
    if not token:
        raise _unauthorized("Authorization header is required", "Include 'Authorization: Bearer <token>' header")
    organization = request.app.state.sandbox.seed.kubiya_tokens.get(token)
    if organization is None:
        raise _unauthorized("Invalid or expired authentication token", "Ensure you're using a valid Kubiya API token")
    return str(organization)


Organization = Annotated[str, Depends(organization_of)]

# PostgreSQL's uuid input: hex digits in groups of four with optional hyphens between groups,
# optionally in braces.
_PG_UUID = re.compile(r"\{?[0-9a-fA-F]{4}(?:-?[0-9a-fA-F]{4}){7}\}?")


def _canonical_id(raw: str) -> str:
    """The row key for a path id; a non-UUID id is the database's cast error."""
    if not _PG_UUID.fullmatch(raw) or raw.startswith("{") != raw.endswith("}"):
        raise _ServerError(f"invalid input syntax for type uuid: {raw!r}")
    return str(uuid.UUID(raw.strip("{}").replace("-", "")))


def _storable(value: Any) -> bool:
    """False when PostgreSQL would refuse a string inside `value` (NUL, lone surrogate)."""
    if isinstance(value, str):
        if "\x00" in value:
            return False
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_storable(k) and _storable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_storable(v) for v in value)
    return True


def _jsonb(value: Any) -> Any:
    """The value as PostgreSQL's JSONB gives it back: object keys by length, then bytes."""
    if isinstance(value, dict):
        ordered = sorted(value, key=lambda k: (len(k.encode()), k.encode()))
        return {k: _jsonb(value[k]) for k in ordered}
    if isinstance(value, list):
        return [_jsonb(v) for v in value]
    return value


def _dump(value: Any) -> str:
    return json.dumps(_jsonb(value), ensure_ascii=False, separators=(",", ":"))


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def _now(request: Request) -> datetime:
    return datetime.fromtimestamp(request.app.state.sandbox.clock(), UTC)


def _row_dict(row: sqlite3.Row) -> dict[str, Any]:
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


def _select_one(conn: sqlite3.Connection, organization: str, row_id: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        f"SELECT {_COLUMNS} FROM {TABLE} WHERE id = ? AND organization_id = ?",
        (row_id, organization),
    ).fetchone()
    return row


def _name_taken(conn: sqlite3.Connection, organization: str, name: str, except_id: str | None = None) -> bool:
    """The vendor's 409 check: it looks at rows that are not deleted only."""
    found = conn.execute(
        f"SELECT 1 FROM {TABLE} WHERE organization_id = ? AND name = ? AND status != 'deleted' AND id != ? LIMIT 1",
        (organization, name, except_id or ""),
    ).fetchone()
    return found is not None


def _db(request: Request) -> Any:
    return request.app.state.sandbox.db


# --- Routes ------------------------------------------------------------------------------------


@router.get("")
async def list_custom_integrations(
    request: Request,
    organization: Organization,
    integration_type: Annotated[str | None, Query()] = None,
    status: Annotated[CustomIntegrationStatus | None, Query()] = None,
    tags: Annotated[str | None, Query()] = None,
) -> Response:
    sql = f"SELECT {_COLUMNS} FROM {TABLE} WHERE organization_id = ?"
    params: list[Any] = [organization]
    # Falsy filters are no filters, as in the vendor's `if integration_type:`.
    if integration_type:
        sql += " AND integration_type = ?"
        params.append(integration_type)
    if status:
        sql += " AND status = ?"
        params.append(status.value)
    else:
        sql += " AND status != 'deleted'"
    sql += " ORDER BY created_at DESC, seq DESC"
    with _db(request).transaction() as conn:
        rows = conn.execute(sql, params).fetchall()
    items = [_row_dict(row) for row in rows]
    if tags:
        # JSONB containment per tag: every listed tag must be present (empty items included).
        wanted = [t.strip() for t in tags.split(",")]
        items = [item for item in items if all(t in item["tags"] for t in wanted)]
    # orjson: a list of thousands of integrations is the sandbox's largest answer.
    return Response(orjson.dumps(items), media_type="application/json")


@router.get("/{integration_id}")
async def get_custom_integration(request: Request, integration_id: str, organization: Organization) -> Response:
    try:
        row_id = _canonical_id(integration_id)
    except _ServerError:
        return _internal_error()
    with _db(request).transaction() as conn:
        row = _select_one(conn, organization, row_id)
    if row is None:
        raise _not_found()
    return JSONResponse(_row_dict(row))


@router.post("", status_code=201)
async def create_custom_integration(
    request: Request, body: CreateCustomIntegrationRequest, organization: Organization
) -> Response:
    config = body.config.model_dump()
    now = _iso(_now(request))
    try:
        with _db(request).transaction() as conn:
            if _name_taken(conn, organization, body.name):
                raise _conflict(body.name)
            values = [body.name, body.integration_type, body.description, config, body.tags]
            if not _storable(values):
                raise _ServerError("a string the database cannot store")
            row_id = str(uuid.uuid4())
            conn.execute(
                f"INSERT INTO {TABLE} ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row_id,
                    organization,
                    body.name,
                    body.integration_type,
                    body.description,
                    CustomIntegrationStatus.ACTIVE.value,
                    _dump(config),
                    _dump(body.tags),
                    now,
                    now,
                    None,
                ),
            )
            row = _select_one(conn, organization, row_id)
    except (sqlite3.IntegrityError, _ServerError):
        # IntegrityError: the name of a soft-deleted row passed the 409 check, not the index.
        return _internal_error()
    assert row is not None
    return JSONResponse(_row_dict(row), status_code=201)


@router.put("/{integration_id}")
async def update_custom_integration(
    request: Request,
    integration_id: str,
    body: UpdateCustomIntegrationRequest,
    organization: Organization,
) -> Response:
    try:
        row_id = _canonical_id(integration_id)
    except _ServerError:
        return _internal_error()
    config = body.config.model_dump() if body.config is not None else None
    changes: dict[str, Any] = {}
    if body.name is not None:
        changes["name"] = body.name
    if body.integration_type is not None:
        changes["integration_type"] = body.integration_type
    if body.description is not None:
        changes["description"] = body.description
    if config is not None:
        changes["config"] = _dump(config)
    if body.status is not None:
        changes["status"] = body.status.value
    if body.tags is not None:
        changes["tags"] = _dump(body.tags)
    try:
        with _db(request).transaction() as conn:
            row = _select_one(conn, organization, row_id)
            if row is None:
                raise _not_found()
            if body.name is not None and _name_taken(conn, organization, body.name, row_id):
                raise _conflict(body.name)
            values = [body.name, body.integration_type, body.description, config, body.tags]
            if not _storable(values):
                raise _ServerError("a string the database cannot store")
            # The vendor's ORM writes only the columns whose value differs (JSON compared as
            # values): a PUT that changes nothing issues no UPDATE, so `updated_at` stays.
            changes = {
                column: value
                for column, value in changes.items()
                if (orjson.loads(value) if column in ("config", "tags") else value)
                != (orjson.loads(row[column]) if column in ("config", "tags") else row[column])
            }
            if changes:
                previous = datetime.fromisoformat(row["updated_at"])
                moment = max(_now(request), previous + timedelta(microseconds=1))
                changes["updated_at"] = _iso(moment)
                assignments = ", ".join(f"{column} = ?" for column in changes)
                conn.execute(f"UPDATE {TABLE} SET {assignments} WHERE id = ?", [*changes.values(), row_id])
                row = _select_one(conn, organization, row_id)
    except (sqlite3.IntegrityError, _ServerError):
        # IntegrityError: a rename into the name of a soft-deleted row.
        return _internal_error()
    assert row is not None
    return JSONResponse(_row_dict(row))


@router.delete("/{integration_id}", status_code=204)
async def delete_custom_integration(
    request: Request,
    integration_id: str,
    organization: Organization,
    hard_delete: Annotated[bool, Query()] = False,
) -> Response:
    try:
        row_id = _canonical_id(integration_id)
    except _ServerError:
        return _internal_error()
    with _db(request).transaction() as conn:
        row = _select_one(conn, organization, row_id)
        if row is None:
            raise _not_found()
        if hard_delete:
            conn.execute(f"DELETE FROM {TABLE} WHERE id = ?", (row_id,))
        elif row["status"] != CustomIntegrationStatus.DELETED.value:
            previous = datetime.fromisoformat(row["updated_at"])
            moment = max(_now(request), previous + timedelta(microseconds=1))
            conn.execute(
                f"UPDATE {TABLE} SET status = ?, updated_at = ? WHERE id = ?",
                (CustomIntegrationStatus.DELETED.value, _iso(moment), row_id),
            )
    return Response(status_code=204)
