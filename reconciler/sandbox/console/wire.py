"""The console emulator's request pipeline: request ids, the body (size, JSON), the API key and
its scope, idempotency, then one action in one transaction; answers in the NestJS shape.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from starlette.requests import ClientDisconnect

from reconciler.sandbox.console.model import (
    MAX_BODY_BYTES,
    MAX_IDEMPOTENCY_KEY,
    WRITE_SCOPE,
    Action,
    ApiError,
    Call,
    dumps,
)
from reconciler.sandbox.console.store import remembered
from reconciler.sandbox.seed import ConsoleKey, Seed

REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
}
ROUTING_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}

_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")

log = logging.getLogger("reconciler.sandbox.console")


def json_response(text: str, status: int, request_id: str, extra: dict[str, str] | None = None) -> Response:
    headers = {"X-Request-Id": request_id, **(extra or {})}
    return Response(
        content=text.encode("utf-8"),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def error_response(request_id: str, exc: ApiError) -> Response:
    body = {
        "message": exc.message,
        "error": REASONS.get(exc.status, "Error"),
        "code": exc.code,
        "statusCode": exc.status,
        "request_id": request_id,
    }
    return json_response(dumps(body), exc.status, request_id, exc.headers)


def request_id_of(request: Request) -> str:
    sent = request.headers.get("x-request-id")
    if sent is not None and _REQUEST_ID.fullmatch(sent):
        return sent
    return "req_" + secrets.token_hex(12)


# ---------------------------------------------------------------- the request pipeline


async def _read_body(request: Request) -> bytes:
    """The body, or 413 past 1 MiB. The rest is drained, not kept, so that a client still
    sending gets the answer instead of a reset connection."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= MAX_BODY_BYTES:
            chunks.append(chunk)
    if size > MAX_BODY_BYTES:
        raise ApiError(
            413,
            "payload_too_large",
            f"request entity too large: the limit is {MAX_BODY_BYTES} bytes",
        )
    return b"".join(chunks)


def _parse_json(raw: bytes) -> Any:
    if not raw.strip():
        return {}
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise ApiError(400, "validation_error", "Malformed JSON body: not UTF-8") from exc
    except json.JSONDecodeError as exc:
        raise ApiError(400, "validation_error", f"Malformed JSON body: {exc.msg} at position {exc.pos}") from exc
    except (RecursionError, ValueError) as exc:
        raise ApiError(400, "validation_error", f"Malformed JSON body: {exc}") from exc


def _reject_constant(name: str) -> Any:
    # Python accepts NaN and Infinity; JSON (and the vendor's JavaScript parser) does not.
    raise ValueError(f"{name} is not valid JSON")


def authenticate(request: Request, seed: Seed) -> ConsoleKey:
    authorization = request.headers.get("authorization")
    api_key = request.headers.get("x-api-key")
    if authorization is None and api_key is None:
        raise ApiError(
            401,
            "api_key_missing",
            "API key missing: send Authorization: Bearer sk_... or X-Api-Key: sk_...",
        )
    candidate: str | None = None
    if authorization is not None:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer":
            candidate = value.strip()
    if candidate is None and api_key is not None:
        candidate = api_key.strip()
    key = seed.console_keys.get(candidate) if candidate else None
    if key is None:
        raise ApiError(401, "api_key_invalid", "Invalid API key")
    return key


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if not key:
        return None
    if len(key) > MAX_IDEMPOTENCY_KEY:
        raise ApiError(
            400,
            "validation_error",
            [f"Idempotency-Key: must be shorter than or equal to {MAX_IDEMPOTENCY_KEY} characters"],
        )
    return key


def _fingerprint(request: Request, body: Any) -> str:
    canonical = dumps([request.method, request.url.path, body])
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


async def serve(request: Request, agent_id: str, scope: str, action: Action) -> Response:
    """Run one console call: body, auth, idempotency, then `action` in one transaction."""
    request_id = request_id_of(request)
    try:
        is_write = scope == WRITE_SCOPE
        # GET and DELETE bodies are ignored, as the real server's routes declare none.
        body = _parse_json(await _read_body(request)) if request.method == "POST" else None
        sandbox = request.app.state.sandbox
        key = authenticate(request, sandbox.seed)
        if scope not in key.scopes:
            raise ApiError(403, "insufficient_scope", f"This API key lacks the {scope} scope")
        idempotency_key = _idempotency_key(request) if is_write else None
        with sandbox.db.transaction() as conn:
            now = float(sandbox.clock())
            call = Call(
                team=key.team,
                agent_id=agent_id,
                body=body,
                now=now,
                base_url=str(request.base_url).rstrip("/"),
            )
            fingerprint = ""
            if idempotency_key is not None:
                fingerprint = _fingerprint(request, body)
                window = sandbox.seed.idempotency_window
                replay = remembered(conn, key.team, idempotency_key, fingerprint, now, window)
                if replay is not None:
                    status, text = replay
                    return json_response(text, status, request_id, {"Idempotent-Replayed": "true"})
            status, data = action(conn, call)
            text = dumps({"message": "Success", "data": data})
            if idempotency_key is not None and 200 <= status < 300:
                conn.execute(
                    "INSERT OR REPLACE INTO console_idempotency"
                    " (team, key, fingerprint, status, body, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (key.team, idempotency_key, fingerprint, status, text, now),
                )
        return json_response(text, status, request_id)
    except ApiError as exc:
        return error_response(request_id, exc)
    except ClientDisconnect:
        raise  # the client went away: nothing to answer, and no error of ours
    except Exception:
        log.exception("console sandbox: unexpected error (request %s)", request_id)
        return error_response(request_id, ApiError(500, "internal_error", "Internal server error"))
