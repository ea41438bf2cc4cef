"""The Conductor emulator's request pipeline: authenticate (`X-Authorization: <JWT>`), read
and parse the body, run a handler in one transaction, answer in the vendor's shapes (errors
`{status, message, instance, retryable, validationErrors}`, auth errors apart); and routing
errors, after the token check as on the server.
"""

from __future__ import annotations

import json
import logging
import socket
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.requests import ClientDisconnect

from reconciler.sandbox.conductor.auth import (
    AuthError,
    Principal,
    verify,
)
from reconciler.sandbox.conductor.catalog import Catalog, catalog
from reconciler.sandbox.conductor.model import (
    ApiError,
    FieldError,
)
from reconciler.sandbox.seed import Seed

MAX_BODY_BYTES = 1024 * 1024
TOKEN_PATH = "/api/token"

_log = logging.getLogger("reconciler.sandbox.conductor")
_INSTANCE = socket.gethostname()


# ---- responses -------------------------------------------------------------------------------


def json_response(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def error_response(status: int, message: str, errors: Sequence[FieldError] = ()) -> Response:
    body: dict[str, Any] = {
        "status": status,
        "message": message,
        "instance": _INSTANCE,
        "retryable": status >= 500,
    }
    if errors:
        body["validationErrors"] = [e.to_json() for e in errors]
    return json_response(body, status)


def auth_error_response(exc: AuthError, now: float) -> Response:
    return json_response({"message": exc.message, "error": exc.code, "timestamp": int(now * 1000)}, 401)


def authenticate(request: Request, seed: Seed, now: float) -> Principal:
    return verify(seed, request.headers.get("x-authorization"), now)


def http_error(request: Request, status: int, message: str) -> Response:
    """Routing errors (unknown path, wrong method), after the token check as on the server."""
    sandbox = request.app.state.sandbox
    now = sandbox.clock()
    if request.url.path != TOKEN_PATH:
        try:
            authenticate(request, sandbox.seed, now)
        except AuthError as exc:
            return auth_error_response(exc, now)
    if status == 404:
        message = f"No handler found for {request.method} {request.url.path}"
    elif status == 405:
        message = f"Request method '{request.method}' is not supported"
    return error_response(status, message)


def validation_error(request: Request, exc: RequestValidationError) -> Response:
    errors = [
        FieldError(".".join(str(p) for p in e.get("loc", ())[1:]), str(e.get("msg")), e.get("input"))
        for e in exc.errors()
    ]
    return error_response(400, "Validation failed", errors)


# ---- request plumbing ------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """What a handler gets: the open transaction, the caller, the clock, body and query."""

    conn: sqlite3.Connection
    catalog: Catalog
    principal: Principal
    now_ms: int
    body: Any
    query: Mapping[str, str]

    @property
    def org(self) -> str:
        return self.principal.organization


async def read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ApiError(413, f"Request body too large: the limit is {MAX_BODY_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ApiError(413, f"Request body too large: the limit is {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(raw: bytes) -> Any:
    if not raw.strip():
        raise ApiError(400, "Required request body is missing")
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, f"Malformed JSON request body: {exc}") from exc


async def serve(request: Request, handler: Callable[[Call], Any], *, with_body: bool = False) -> Response:
    """Authenticate, read the body, run `handler` in one transaction, render its result.

    A handler returns JSON-able data, or None for the empty 200 of the write calls.
    """
    sandbox = request.app.state.sandbox
    now = sandbox.clock()
    try:
        principal = authenticate(request, sandbox.seed, now)
        body = parse_json(await read_body(request)) if with_body else None
        with sandbox.db.transaction() as conn:
            result = handler(Call(conn, catalog(), principal, int(now * 1000), body, request.query_params))
    except AuthError as exc:
        return auth_error_response(exc, now)
    except ApiError as exc:
        return error_response(exc.status, exc.message, exc.errors)
    except ClientDisconnect:
        raise  # the client went away: nothing to answer, and no error of ours
    except Exception:  # noqa: BLE001 - any bug of the emulator is answered as the server would: a 500
        _log.exception("conductor emulator: unexpected error on %s %s", request.method, request.url)
        return error_response(500, "Internal server error")
    return Response(status_code=200) if result is None else json_response(result)
