"""Sandbox emulator of the agents console (BimpeAI) API: an agent's integration channels.

Routes, under `/api/v1/console/agents/{agentId}/integrations`:
- `GET ""`: every live channel of the agent, all families, as
  `{id, type, name, status, is_connected, family, created_at}` in creation order;
- `GET /custom_api`, `GET /mcp_server`: `[{id, config}]` in creation order;
- `GET /bimpeai`: the native catalog, see below;
- `POST /{family}/configure`: always creates a channel (there is no update);
- `DELETE /{family}/{id}`: soft delete ("disconnect").
Plus `GET /api/v1/console/agents?page=&limit=&search=`, the team's agents as the SDK lists
them (`{id, name, description, created_at, updated_at}` in `data`, pagination in `meta`; it
needs the `agents:read` scope, which `sk_sandbox_readonly` lacks), and
`GET /api/v1/console/oauth/callback?state=...`, the sandbox's stand-in for the OAuth consent
screen (see "OAuth types").

Every success is `{"message": "Success", "data": ...}`; a DELETE answers 200 with `data: null`.
Every error is `{"message", "error", "code", "statusCode", "request_id"}` (the NestJS shape),
with `message` a list of `"path: message"` strings for field validation errors (the
bimpeai SDK 0.4.1 splits each at its first colon into a field error's path and message). Every response carries
`X-Request-Id`; error bodies repeat it as `request_id`.

Choices made where the API reference is silent (the vendor's server looks like NestJS, so its
defaults decide):
- Status codes: `configure` answers **201** (NestJS's default for POST), DELETE 200.
  An unknown route is 404 `not_found` ("Cannot GET /path"); a wrong method is 405
  `method_not_allowed` with an `Allow` header (`.../configure` also fits the DELETE route's
  `{id}`, so its Allow is `DELETE, POST`); a body over 1 MiB is **413**
  `payload_too_large` (what Express's body parser answers), checked before anything else.
- Order of checks: body size and JSON syntax (the body parser runs before the guards) →
  API key (401) → scope (403) → idempotent replay → field validation (400 `validation_error`)
  → agent (404 `not_found`; an agent of another team is indistinguishable from a missing one)
  → workflow (400 `workflow_required`) → channel id (404) → plan limit (409
  `integration_limit_reached`).
- Auth: `Authorization: Bearer sk_...` (scheme case-insensitive) wins over `X-Api-Key` when
  both are sent. Neither header → 401 `api_key_missing`; a header with an unknown key or
  another scheme → 401 `api_key_invalid`. GETs need `integrations:read`, writes
  `integrations:write`.
- Request ids: a client's `X-Request-Id` of 1-128 visible ASCII characters is echoed; any
  other value (or none) is replaced by `req_` + 24 hex characters.
- Channel ids are `ch_` + 24 lowercase hex characters, random, never reused. A channel's
  `status` is `active` (`is_connected: true`), `pending` (OAuth consent not given yet) or, once
  deleted, `disconnected` (never listed); `created_at` is ISO-8601 UTC with milliseconds.
- Bodies: JSON is parsed whatever the Content-Type (NaN, Infinity and over-deep nesting are
  malformed); an empty body counts as `{}`; unknown keys
  are ignored (whitelisting validation pipe). Optional fields accept `null` as "absent".
  `name` must be 1-255 characters; `base_url` and `server_url` must be http(s) URLs;
  `auth_type` is one of none|bearer|basic|api_key|custom for both custom_api and mcp_server;
  `auth_config` values must be strings. Key-based bimpeai types need their key (`bumpa`:
  `token`; `paystack`, `stripe`: `secret_key`); `currency`, when given, is three letters.
  Which `auth_config` keys an `auth_type` needs is not checked.
- Write-only fields (`auth_config`, `description`, `test_endpoint`, and every bimpeai
  credential and `currency`) are stored apart from the public config and never read back.
- Soft delete marks the row `disconnected`; it leaves every list, no longer counts toward the
  limit, and a second DELETE is 404.
- Plan limit: `channel_limit` counts the agent's live channels of every family, pending OAuth
  channels included; the configure that would exceed it is refused.
- Duplicate names are accepted in every family (sandbox rule).
- `GET /bimpeai` lists the five types in a fixed order (bumpa, paystack, stripe,
  google_calendar, google_sheets). A type with no live channel appears once as
  `{id: null, type, name, status: "inactive", is_connected: false}`; a type with live channels
  appears once per channel (normally once; configure always creates, so a second configure of
  a type shows two entries rather than hiding one). `name` is the type's display name.
- OAuth types (google_calendar, google_sheets): configure creates a live channel in status
  `pending` (`is_connected: false`; it counts toward the limit and can be deleted) and answers
  `{onboarding_url}`. In the sandbox that url points at `/api/v1/console/oauth/callback` on the
  sandbox itself: a GET of it (no API key, as a browser would) completes the consent and makes
  the channel `active`, `is_connected: true`; an unknown or used state is 404.
- Idempotency: a write with an `Idempotency-Key` (1-255 characters; an empty header is
  ignored) is remembered per team, in the same transaction as the write, when it succeeded
  (2xx): a repeat inside `seed.idempotency_window` seconds gets the first status and body back
  (with `Idempotent-Replayed: true` and its own `X-Request-Id`) and writes nothing. Failed
  writes are not remembered (they wrote nothing, so a retry cannot act twice). Reusing a
  remembered key for a different request (method, path or JSON body) is 400
  `validation_error`. Past the window the key is forgotten and the write acts again.
- Agents come from `seed.console_agents`; `reset` upserts them into `console_agents` (agent ids
  are global) and drops agents no longer in the seed, leaving their channels unreachable.
  Tables are prefixed `console_` because the three emulators share one database.
- 429 `rate_limited` comes from the fault-injection middleware, not from here.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.requests import ClientDisconnect
from starlette.routing import Match

from reconciler.sandbox.seed import ConsoleKey, Seed

PREFIX = "/api/v1/console"
CHANNELS = PREFIX + "/agents/{agent_id}/integrations"
OAUTH_CALLBACK = PREFIX + "/oauth/callback"

MAX_BODY_BYTES = 1024 * 1024
MAX_NAME = 255
MAX_IDEMPOTENCY_KEY = 255
READ_SCOPE = "integrations:read"
WRITE_SCOPE = "integrations:write"

FAMILIES = ("custom_api", "mcp_server", "bimpeai")
AUTH_TYPES = ("none", "bearer", "basic", "api_key", "custom")
AUTH_CONFIG_KEYS = ("token", "api_key", "header_name", "username", "password")
TRANSPORTS = ("http_sse", "streamable_http")
# bimpeai type -> display name, in the order the catalog lists them.
BIMPEAI_TYPES = {
    "bumpa": "Bumpa",
    "paystack": "Paystack",
    "stripe": "Stripe",
    "google_calendar": "Google Calendar",
    "google_sheets": "Google Sheets",
}
# The credential each key-based type cannot work without; the other types go through OAuth.
BIMPEAI_REQUIRED_KEY = {"bumpa": "token", "paystack": "secret_key", "stripe": "secret_key"}
BIMPEAI_CREDENTIALS = ("token", "public_key", "secret_key")

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
_CURRENCY = re.compile(r"[A-Za-z]{3}")

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS console_agents (
    id TEXT PRIMARY KEY,
    team TEXT NOT NULL,
    workflow INTEGER NOT NULL,
    channel_limit INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS console_channels (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    team TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    family TEXT NOT NULL,
    type TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    config TEXT NOT NULL,
    secrets TEXT NOT NULL,
    oauth_state TEXT UNIQUE,
    created_at REAL NOT NULL,
    deleted_at REAL
);
CREATE INDEX IF NOT EXISTS console_channels_live
    ON console_channels (agent_id, family, seq) WHERE deleted_at IS NULL;
CREATE TABLE IF NOT EXISTS console_idempotency (
    team TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (team, key)
);
CREATE INDEX IF NOT EXISTS console_idempotency_age ON console_idempotency (created_at);
"""

router = APIRouter()


class ApiError(Exception):
    """An error answer in the console's shape; raised anywhere inside a request."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str | list[str],
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


@dataclass(frozen=True)
class Agent:
    id: str
    team: str
    workflow: bool
    channel_limit: int


@dataclass(frozen=True)
class NewChannel:
    """A validated configure body: what to store, split into readable and write-only parts."""

    family: str
    type: str
    name: str
    status: str
    config: dict[str, Any]
    secrets: dict[str, Any]


@dataclass(frozen=True)
class Call:
    """One authenticated request, as the per-route actions see it."""

    team: str
    agent_id: str
    # The parsed JSON body of a POST (not validated yet); None for GET and DELETE.
    body: Any
    # `sandbox.clock()` read once per request, so that every row written shares one time.
    now: float
    # Where the caller reached the sandbox, for the absolute onboarding url.
    base_url: str


Action = Callable[[sqlite3.Connection, Call], tuple[int, Any]]


# ---------------------------------------------------------------- module interface


def reset(conn: sqlite3.Connection, seed: Seed) -> None:
    """Make `console_agents` match the seed; channels are state and are left alone."""
    conn.executemany(
        "INSERT INTO console_agents (id, team, workflow, channel_limit) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET team = excluded.team, workflow = excluded.workflow,"
        " channel_limit = excluded.channel_limit",
        [(a.id, a.team, int(a.workflow), a.channel_limit) for a in seed.console_agents],
    )
    ids = [a.id for a in seed.console_agents]
    marks = ",".join("?" * len(ids))
    conn.execute(f"DELETE FROM console_agents WHERE id NOT IN ({marks})", ids)


def http_error(request: Request, status: int, message: str) -> Response:
    """Routing errors (unknown path, wrong method) in the console's error shape."""
    headers: dict[str, str] = {}
    if status == 404:
        message = f"Cannot {request.method} {request.url.path}"
    elif status == 405:
        allowed = _allowed_methods(request)
        headers["Allow"] = ", ".join(allowed)
        message = f"Method {request.method} is not allowed on {request.url.path}"
    code = ROUTING_CODES.get(status, "internal_error" if status >= 500 else "validation_error")
    return _error(_request_id(request), ApiError(status, code, message, headers))


def validation_error(request: Request, exc: RequestValidationError) -> Response:
    """FastAPI's own parameter validation, which the routes barely use, as a 400."""
    messages = [
        f"{'.'.join(str(p) for p in err.get('loc', ())[1:]) or 'request'} {err.get('msg', '')}" for err in exc.errors()
    ]
    return _error(_request_id(request), ApiError(400, "validation_error", messages))


# ---------------------------------------------------------------- responses


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _json(text: str, status: int, request_id: str, extra: dict[str, str] | None = None) -> Response:
    headers = {"X-Request-Id": request_id, **(extra or {})}
    return Response(
        content=text.encode("utf-8"),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def _error(request_id: str, exc: ApiError) -> Response:
    body = {
        "message": exc.message,
        "error": REASONS.get(exc.status, "Error"),
        "code": exc.code,
        "statusCode": exc.status,
        "request_id": request_id,
    }
    return _json(_dumps(body), exc.status, request_id, exc.headers)


def _request_id(request: Request) -> str:
    sent = request.headers.get("x-request-id")
    if sent is not None and _REQUEST_ID.fullmatch(sent):
        return sent
    return "req_" + secrets.token_hex(12)


def _allowed_methods(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in router.routes:
        if isinstance(route, APIRoute):
            match, _ = route.matches(request.scope)
            if match != Match.NONE:
                methods |= route.methods or set()
    return sorted(methods)


def _iso(timestamp: float) -> str:
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


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


def _authenticate(request: Request, seed: Seed) -> ConsoleKey:
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
    canonical = _dumps([request.method, request.url.path, body])
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


async def _serve(request: Request, agent_id: str, scope: str, action: Action) -> Response:
    """Run one console call: body, auth, idempotency, then `action` in one transaction."""
    request_id = _request_id(request)
    try:
        is_write = scope == WRITE_SCOPE
        # GET and DELETE bodies are ignored, as the real server's routes declare none.
        body = _parse_json(await _read_body(request)) if request.method == "POST" else None
        sandbox = request.app.state.sandbox
        key = _authenticate(request, sandbox.seed)
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
                replay = _replay(conn, key.team, idempotency_key, fingerprint, now, window)
                if replay is not None:
                    status, text = replay
                    return _json(text, status, request_id, {"Idempotent-Replayed": "true"})
            status, data = action(conn, call)
            text = _dumps({"message": "Success", "data": data})
            if idempotency_key is not None and 200 <= status < 300:
                conn.execute(
                    "INSERT OR REPLACE INTO console_idempotency"
                    " (team, key, fingerprint, status, body, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (key.team, idempotency_key, fingerprint, status, text, now),
                )
        return _json(text, status, request_id)
    except ApiError as exc:
        return _error(request_id, exc)
    except ClientDisconnect:
        raise  # the client went away: nothing to answer, and no error of ours
    except Exception:
        log.exception("console sandbox: unexpected error (request %s)", request_id)
        return _error(request_id, ApiError(500, "internal_error", "Internal server error"))


def _replay(
    conn: sqlite3.Connection, team: str, key: str, fingerprint: str, now: float, window: float
) -> tuple[int, str] | None:
    """The remembered answer to `key`, or None when it is unknown or past the window."""
    conn.execute("DELETE FROM console_idempotency WHERE created_at <= ?", (now - window,))
    row = conn.execute(
        "SELECT fingerprint, status, body FROM console_idempotency WHERE team = ? AND key = ?",
        (team, key),
    ).fetchone()
    if row is None:
        return None
    if row["fingerprint"] != fingerprint:
        raise ApiError(
            400,
            "validation_error",
            f"Idempotency-Key {key!r} was already used for a different request",
        )
    return int(row["status"]), str(row["body"])


def _agent(conn: sqlite3.Connection, call: Call) -> Agent:
    row = conn.execute(
        "SELECT id, team, workflow, channel_limit FROM console_agents WHERE id = ? AND team = ?",
        (call.agent_id, call.team),
    ).fetchone()
    if row is None:
        raise ApiError(404, "not_found", "Agent not found")
    agent = Agent(row["id"], row["team"], bool(row["workflow"]), int(row["channel_limit"]))
    if not agent.workflow:
        raise ApiError(
            400,
            "workflow_required",
            "This agent has no workflow: create a workflow before configuring integrations",
        )
    return agent


# ---------------------------------------------------------------- body validation


class _Fields:
    """Collects class-validator style messages over one JSON object."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.errors: list[str] = []

    def string(self, name: str, *, required: bool = False, max_len: int | None = None) -> str | None:
        value = self.data.get(name)
        if value is None:
            if required:
                self.errors.append(f"{name}: should not be empty")
            return None
        if not isinstance(value, str):
            self.errors.append(f"{name}: must be a string")
            return None
        if required and not value:
            self.errors.append(f"{name}: should not be empty")
        if max_len is not None and len(value) > max_len:
            self.errors.append(f"{name}: must be shorter than or equal to {max_len} characters")
        return value

    def url(self, name: str, *, required: bool = False) -> str | None:
        value = self.string(name, required=required)
        if value:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                self.errors.append(f"{name}: must be a URL address")
        return value

    def choice(self, name: str, choices: tuple[str, ...], default: str | None) -> str | None:
        value = self.data.get(name)
        if value is None:
            if default is None:
                self.errors.append(f"{name}: should not be empty")
            return default
        if value not in choices:
            self.errors.append(f"{name}: must be one of the following values: {', '.join(choices)}")
            return default
        return str(value)

    def string_map(self, name: str, keys: tuple[str, ...]) -> dict[str, str]:
        value = self.data.get(name)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.errors.append(f"{name}: must be an object")
            return {}
        out: dict[str, str] = {}
        for key in keys:
            item = value.get(key)
            if item is None:
                continue
            if not isinstance(item, str):
                self.errors.append(f"{name}.{key}: must be a string")
            else:
                out[key] = item
        return out

    def done(self) -> None:
        if self.errors:
            raise ApiError(400, "validation_error", self.errors)


def _fields(body: Any) -> _Fields:
    if not isinstance(body, dict):
        raise ApiError(400, "validation_error", ["request body must be a JSON object"])
    return _Fields(body)


def _validate_custom_api(body: Any) -> NewChannel:
    f = _fields(body)
    name = f.string("name", required=True, max_len=MAX_NAME)
    description = f.string("description")
    base_url = f.url("base_url")
    auth_type = f.choice("auth_type", AUTH_TYPES, "none")
    auth_config = f.string_map("auth_config", AUTH_CONFIG_KEYS)
    test_endpoint = f.string("test_endpoint")
    f.done()
    assert name is not None
    return NewChannel(
        family="custom_api",
        type="custom_api",
        name=name,
        status="active",
        config={"name": name, "base_url": base_url, "auth_type": auth_type},
        secrets={
            "description": description,
            "auth_config": auth_config,
            "test_endpoint": test_endpoint,
        },
    )


def _validate_mcp_server(body: Any) -> NewChannel:
    f = _fields(body)
    name = f.string("name", required=True, max_len=MAX_NAME)
    server_url = f.url("server_url", required=True)
    transport = f.choice("transport", TRANSPORTS, "streamable_http")
    auth_type = f.choice("auth_type", AUTH_TYPES, "none")
    auth_config = f.string_map("auth_config", AUTH_CONFIG_KEYS)
    f.done()
    assert name is not None
    return NewChannel(
        family="mcp_server",
        type="mcp_server",
        name=name,
        status="active",
        config={
            "name": name,
            "server_url": server_url,
            "transport": transport,
            "auth_type": auth_type,
        },
        secrets={"auth_config": auth_config},
    )


def _validate_bimpeai(body: Any) -> NewChannel:
    f = _fields(body)
    kind = f.choice("type", tuple(BIMPEAI_TYPES), None)
    credentials = {name: f.string(name) for name in BIMPEAI_CREDENTIALS}
    currency = f.string("currency")
    if currency is not None and not _CURRENCY.fullmatch(currency):
        f.errors.append("currency: must be a valid ISO4217 currency code")
    required = BIMPEAI_REQUIRED_KEY.get(kind or "")
    # A key of the wrong type already has its message; an absent or empty one gets this one.
    if required is not None and body.get(required) in (None, ""):
        f.errors.append(f"{required}: should not be empty")
    f.done()
    assert kind is not None
    return NewChannel(
        family="bimpeai",
        type=kind,
        name=BIMPEAI_TYPES[kind],
        status="active" if kind in BIMPEAI_REQUIRED_KEY else "pending",
        config={},
        secrets={**credentials, "currency": currency},
    )


VALIDATORS: dict[str, Callable[[Any], NewChannel]] = {
    "custom_api": _validate_custom_api,
    "mcp_server": _validate_mcp_server,
    "bimpeai": _validate_bimpeai,
}


# ---------------------------------------------------------------- actions


def _list_all(conn: sqlite3.Connection, call: Call) -> tuple[int, Any]:
    _agent(conn, call)
    rows = conn.execute(
        "SELECT id, family, type, name, status, created_at FROM console_channels"
        " WHERE agent_id = ? AND team = ? AND deleted_at IS NULL ORDER BY seq",
        (call.agent_id, call.team),
    ).fetchall()
    return 200, [
        {
            "id": row["id"],
            "type": row["type"],
            "name": row["name"],
            "status": row["status"],
            "is_connected": row["status"] == "active",
            "family": row["family"],
            "created_at": _iso(row["created_at"]),
        }
        for row in rows
    ]


def _live_rows(conn: sqlite3.Connection, call: Call, family: str) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT id, type, name, status, config FROM console_channels"
        " WHERE agent_id = ? AND family = ? AND team = ? AND deleted_at IS NULL ORDER BY seq",
        (call.agent_id, family, call.team),
    ).fetchall()


def _list_family(family: str) -> Action:
    def action(conn: sqlite3.Connection, call: Call) -> tuple[int, Any]:
        _agent(conn, call)
        rows = _live_rows(conn, call, family)
        return 200, [{"id": row["id"], "config": json.loads(row["config"])} for row in rows]

    return action


def _list_bimpeai(conn: sqlite3.Connection, call: Call) -> tuple[int, Any]:
    _agent(conn, call)
    by_type: dict[str, list[dict[str, Any]]] = {kind: [] for kind in BIMPEAI_TYPES}
    for row in _live_rows(conn, call, "bimpeai"):
        by_type[row["type"]].append(
            {
                "id": row["id"],
                "type": row["type"],
                "name": row["name"],
                "status": row["status"],
                "is_connected": row["status"] == "active",
            }
        )
    entries: list[dict[str, Any]] = []
    for kind, display in BIMPEAI_TYPES.items():
        placeholder = {
            "id": None,
            "type": kind,
            "name": display,
            "status": "inactive",
            "is_connected": False,
        }
        entries.extend(by_type[kind] or [placeholder])
    return 200, entries


def _configure(family: str) -> Action:
    validate = VALIDATORS[family]

    def action(conn: sqlite3.Connection, call: Call) -> tuple[int, Any]:
        channel = validate(call.body)
        agent = _agent(conn, call)
        (live,) = conn.execute(
            "SELECT COUNT(*) FROM console_channels WHERE agent_id = ? AND deleted_at IS NULL",
            (agent.id,),
        ).fetchone()
        if live >= agent.channel_limit:
            raise ApiError(
                409,
                "integration_limit_reached",
                f"Integration limit reached: this agent's plan allows {agent.channel_limit} integrations",
            )
        channel_id = "ch_" + secrets.token_hex(12)
        state = secrets.token_hex(16) if channel.status == "pending" else None
        conn.execute(
            "INSERT INTO console_channels (id, team, agent_id, family, type, name, status, config,"
            " secrets, oauth_state, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                channel_id,
                call.team,
                agent.id,
                channel.family,
                channel.type,
                channel.name,
                channel.status,
                _dumps(channel.config),
                _dumps(channel.secrets),
                state,
                call.now,
            ),
        )
        if family != "bimpeai":
            return 201, {"id": channel_id, "config": channel.config}
        if state is None:
            return 201, {"success": True, "channel_id": channel_id}
        query = urlencode({"state": state, "type": channel.type})
        return 201, {"onboarding_url": f"{call.base_url}{OAUTH_CALLBACK}?{query}"}

    return action


def _disconnect(family: str, channel_id: str) -> Action:
    def action(conn: sqlite3.Connection, call: Call) -> tuple[int, Any]:
        agent = _agent(conn, call)
        updated = conn.execute(
            "UPDATE console_channels SET status = 'disconnected', deleted_at = ?,"
            " oauth_state = NULL WHERE id = ? AND agent_id = ? AND family = ? AND team = ?"
            " AND deleted_at IS NULL",
            (call.now, channel_id, agent.id, family, call.team),
        ).rowcount
        if updated == 0:
            raise ApiError(404, "not_found", "Integration not found")
        return 200, None

    return action


# ---------------------------------------------------------------- routes


AGENTS_SCOPE = "agents:read"
# The time the sandbox's agents were made, as their `created_at`/`updated_at` (seeded agents
# have no history).
AGENTS_SINCE = "2025-01-01T00:00:00.000Z"
MAX_PAGE = 100


@router.get(PREFIX + "/agents")
async def list_agents(request: Request) -> Response:
    """The team's agents, paginated as the SDK reads them (`data` and `meta`)."""
    request_id = _request_id(request)
    try:
        sandbox = request.app.state.sandbox
        key = _authenticate(request, sandbox.seed)
        if AGENTS_SCOPE not in key.scopes:
            raise ApiError(403, "insufficient_scope", f"This API key lacks the {AGENTS_SCOPE} scope")
        errors: list[str] = []
        page = _positive(request.query_params.get("page", "1"), "page", errors)
        limit = _positive(request.query_params.get("limit", "20"), "limit", errors)
        if limit > MAX_PAGE:
            errors.append(f"limit: must not be greater than {MAX_PAGE}")
        if errors:
            raise ApiError(400, "validation_error", errors)
        search = request.query_params.get("search", "").lower()
        with sandbox.db.transaction() as conn:
            ids = [
                row["id"]
                for row in conn.execute("SELECT id FROM console_agents WHERE team = ? ORDER BY id", (key.team,))
            ]
        names = {a.id: a.name or a.id for a in sandbox.seed.console_agents}
        agents = [
            {
                "id": agent_id,
                "name": names.get(agent_id, agent_id),
                "description": "",
                "created_at": AGENTS_SINCE,
                "updated_at": AGENTS_SINCE,
            }
            for agent_id in ids
            if search in names.get(agent_id, agent_id).lower() or search in agent_id.lower()
        ]
        pages = max(1, -(-len(agents) // limit))
        meta = {
            "total_count": len(agents),
            "page_count": pages,
            "current_page": page,
            "limit": limit,
            "has_next_page": page < pages,
            "has_previous_page": page > 1,
        }
        body = {"message": "Success", "data": agents[(page - 1) * limit : page * limit], "meta": meta}
        return _json(_dumps(body), 200, request_id)
    except ApiError as exc:
        return _error(request_id, exc)


def _positive(raw: str, name: str, errors: list[str]) -> int:
    """A query parameter that must be a whole number of at least 1 (1 when it is not)."""
    if raw.isdigit() and int(raw) >= 1:
        return int(raw)
    errors.append(f"{name}: must be a positive integer")
    return 1


@router.get(CHANNELS)
async def list_channels(request: Request, agent_id: str) -> Response:
    return await _serve(request, agent_id, READ_SCOPE, _list_all)


def _family_routes(family: str) -> None:
    lister = _list_bimpeai if family == "bimpeai" else _list_family(family)
    configure = _configure(family)

    async def list_family(request: Request, agent_id: str) -> Response:
        return await _serve(request, agent_id, READ_SCOPE, lister)

    async def configure_channel(request: Request, agent_id: str) -> Response:
        return await _serve(request, agent_id, WRITE_SCOPE, configure)

    async def disconnect_channel(request: Request, agent_id: str, channel_id: str) -> Response:
        return await _serve(request, agent_id, WRITE_SCOPE, _disconnect(family, channel_id))

    router.add_api_route(f"{CHANNELS}/{family}", list_family, methods=["GET"])
    router.add_api_route(f"{CHANNELS}/{family}/configure", configure_channel, methods=["POST"])
    router.add_api_route(f"{CHANNELS}/{family}/{{channel_id}}", disconnect_channel, methods=["DELETE"])


for _family in FAMILIES:
    _family_routes(_family)


@router.get(OAUTH_CALLBACK)
async def oauth_callback(request: Request) -> Response:
    """The consent a user would give on the provider's page; completes a pending channel."""
    request_id = _request_id(request)
    state = request.query_params.get("state", "")
    try:
        with request.app.state.sandbox.db.transaction() as conn:
            row = conn.execute(
                "SELECT id, type FROM console_channels WHERE oauth_state = ?"
                " AND deleted_at IS NULL AND status = 'pending'",
                (state,),
            ).fetchone()
            if not state or row is None:
                raise ApiError(404, "not_found", "Onboarding session not found or already used")
            conn.execute(
                "UPDATE console_channels SET status = 'active', oauth_state = NULL WHERE id = ?",
                (row["id"],),
            )
        data = {"id": row["id"], "type": row["type"], "status": "active", "is_connected": True}
        return _json(_dumps({"message": "Success", "data": data}), 200, request_id)
    except ApiError as exc:
        return _error(request_id, exc)
    except ClientDisconnect:
        raise  # the client went away: nothing to answer, and no error of ours
    except Exception:
        log.exception("console sandbox: unexpected error (request %s)", request_id)
        return _error(request_id, ApiError(500, "internal_error", "Internal server error"))
