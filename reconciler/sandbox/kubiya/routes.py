"""The Kubiya emulator's routes under `/api/v1/custom-integrations`: the body-size limit, the
caller's organization from its token, and the five handlers.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.routing import APIRoute

from reconciler.sandbox.kubiya.model import (
    CreateCustomIntegrationRequest,
    CustomIntegrationStatus,
    UpdateCustomIntegrationRequest,
    storable,
)
from reconciler.sandbox.kubiya.store import (
    COLUMNS,
    NEWEST_FIRST,
    TABLE,
    ServerError,
    canonical_id,
    dump,
    iso,
    json_list,
    name_taken,
    row_dict,
    select_one,
)

PREFIX = "/api/v1/custom-integrations"
MAX_BODY_BYTES = 1024 * 1024


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


def http_error(request: Request, status: int, message: str) -> Response:
    return JSONResponse({"detail": message}, status_code=status)


# --- Helpers -----------------------------------------------------------------------------------


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


def _now(request: Request) -> datetime:
    return datetime.fromtimestamp(request.app.state.sandbox.clock(), UTC)


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
    where = "organization_id = ?"
    params: list[Any] = [organization]
    # Falsy filters are no filters, as in the vendor's `if integration_type:`.
    if integration_type:
        where += " AND integration_type = ?"
        params.append(integration_type)
    if status:
        where += " AND status = ?"
        params.append(status.value)
    else:
        where += " AND status != 'deleted'"
    if not tags:
        with _db(request).transaction() as conn:
            return Response(json_list(conn, where, params), media_type="application/json")
    with _db(request).transaction() as conn:
        rows = conn.execute(f"SELECT {COLUMNS} FROM {TABLE} WHERE {where} {NEWEST_FIRST}", params).fetchall()
    items = [row_dict(row) for row in rows]
    # JSONB containment per tag: every listed tag must be present (empty items included).
    wanted = [t.strip() for t in tags.split(",")]
    items = [item for item in items if all(t in item["tags"] for t in wanted)]
    return Response(orjson.dumps(items), media_type="application/json")


@router.get("/{integration_id}")
async def get_custom_integration(request: Request, integration_id: str, organization: Organization) -> Response:
    try:
        row_id = canonical_id(integration_id)
    except ServerError:
        return _internal_error()
    with _db(request).transaction() as conn:
        row = select_one(conn, organization, row_id)
    if row is None:
        raise _not_found()
    return JSONResponse(row_dict(row))


@router.post("", status_code=201)
async def create_custom_integration(
    request: Request, body: CreateCustomIntegrationRequest, organization: Organization
) -> Response:
    config = body.config.model_dump()
    now = iso(_now(request))
    try:
        with _db(request).transaction() as conn:
            if name_taken(conn, organization, body.name):
                raise _conflict(body.name)
            values = [body.name, body.integration_type, body.description, config, body.tags]
            if not storable(values):
                raise ServerError("a string the database cannot store")
            row_id = str(uuid.uuid4())
            conn.execute(
                f"INSERT INTO {TABLE} ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row_id,
                    organization,
                    body.name,
                    body.integration_type,
                    body.description,
                    CustomIntegrationStatus.ACTIVE.value,
                    dump(config),
                    dump(body.tags),
                    now,
                    now,
                    None,
                ),
            )
            row = select_one(conn, organization, row_id)
    except (sqlite3.IntegrityError, ServerError):
        # IntegrityError: the name of a soft-deleted row passed the 409 check, not the index.
        return _internal_error()
    assert row is not None
    return JSONResponse(row_dict(row), status_code=201)


@router.put("/{integration_id}")
async def update_custom_integration(
    request: Request,
    integration_id: str,
    body: UpdateCustomIntegrationRequest,
    organization: Organization,
) -> Response:
    try:
        row_id = canonical_id(integration_id)
    except ServerError:
        return _internal_error()
    config = body.config.model_dump() if body.config is not None else None
    changes = _given_columns(body, config)
    try:
        with _db(request).transaction() as conn:
            row = select_one(conn, organization, row_id)
            if row is None:
                raise _not_found()
            if body.name is not None and name_taken(conn, organization, body.name, row_id):
                raise _conflict(body.name)
            values = [body.name, body.integration_type, body.description, config, body.tags]
            if not storable(values):
                raise ServerError("a string the database cannot store")
            # The vendor's ORM writes only the columns whose value differs (JSON compared as
            # values): a PUT that changes nothing issues no UPDATE, so `updated_at` stays.
            changes = {column: value for column, value in changes.items() if _differs(column, value, row)}
            if changes:
                previous = datetime.fromisoformat(row["updated_at"])
                moment = max(_now(request), previous + timedelta(microseconds=1))
                changes["updated_at"] = iso(moment)
                assignments = ", ".join(f"{column} = ?" for column in changes)
                conn.execute(f"UPDATE {TABLE} SET {assignments} WHERE id = ?", [*changes.values(), row_id])
                row = select_one(conn, organization, row_id)
    except (sqlite3.IntegrityError, ServerError):
        # IntegrityError: a rename into the name of a soft-deleted row.
        return _internal_error()
    assert row is not None
    return JSONResponse(row_dict(row))


def _given_columns(body: UpdateCustomIntegrationRequest, config: dict[str, Any] | None) -> dict[str, Any]:
    """The columns a PUT gives a value (a field left out or null keeps the stored one)."""
    given = {
        "name": body.name,
        "integration_type": body.integration_type,
        "description": body.description,
        "config": None if config is None else dump(config),
        "status": None if body.status is None else body.status.value,
        "tags": None if body.tags is None else dump(body.tags),
    }
    return {column: value for column, value in given.items() if value is not None}


def _differs(column: str, value: Any, row: Any) -> bool:
    """Whether a column's new value differs from the stored one (JSON columns as values)."""
    if column in ("config", "tags"):
        return bool(orjson.loads(value) != orjson.loads(row[column]))
    return bool(value != row[column])


@router.delete("/{integration_id}", status_code=204)
async def delete_custom_integration(
    request: Request,
    integration_id: str,
    organization: Organization,
    hard_delete: Annotated[bool, Query()] = False,
) -> Response:
    try:
        row_id = canonical_id(integration_id)
    except ServerError:
        return _internal_error()
    with _db(request).transaction() as conn:
        row = select_one(conn, organization, row_id)
        if row is None:
            raise _not_found()
        if hard_delete:
            conn.execute(f"DELETE FROM {TABLE} WHERE id = ?", (row_id,))
        elif row["status"] != CustomIntegrationStatus.DELETED.value:
            previous = datetime.fromisoformat(row["updated_at"])
            moment = max(_now(request), previous + timedelta(microseconds=1))
            conn.execute(
                f"UPDATE {TABLE} SET status = ?, updated_at = ? WHERE id = ?",
                (CustomIntegrationStatus.DELETED.value, iso(moment), row_id),
            )
    return Response(status_code=204)
