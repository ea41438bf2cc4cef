"""Sandbox emulator of Orkes Conductor's integration API (section 2 of `api-reference.md`).

Serves everything under `/api` that the Kubiya and console modules do not claim: the token
exchange, providers (`/api/integrations/provider/{name}`), their APIs (`.../integration/{api}`)
and tags, the bulk save and list (`/api/integrations/`) and the type catalog
(`/api/integrations/def`). Storage is in `conductor_store`, body checks in `conductor_model`,
tokens in `conductor_auth`, the type catalog in `conductor_catalog`.

Every request runs as: authenticate (`X-Authorization: <JWT>`, no `Bearer`), read and parse
the body, then one database transaction. Order matters as on the vendor's server, whose
security filter runs first: a call without a valid token is a 401 even on an unknown route
or with a malformed body.

Choices where the reference is silent:
- `POST /api/token` with an unknown key id or a wrong secret answers 401 in the auth-error
  shape with `error: INVALID_TOKEN`; a body without `keyId`/`keySecret` is a 400.
- Writes (provider upsert, API upsert, DELETEs, tag calls, bulk save) answer 200 with an
  empty body. DELETE of a provider or API that does not exist is also a 200 (idempotent).
- An unknown provider is a 404 for GET, the API upsert, the API list and the tag calls.
- `activeOnly` (default true) also hides disabled APIs inside the bulk list and the API list.
  `modelsCount` counts every API of the provider, enabled or not.
- The single-provider POST replaces the provider's fields whole: an omitted `description`
  becomes "", an omitted `enabled` true, an omitted `configuration` {}. Tags are untouched.
- The bulk POST: an item's `tags` (when present) replace the provider's tags; APIs not
  listed are kept; a listed API gets its `description` and `enabled`, and keeps the
  configuration, `maxTokens` and `frequency` it has (the bulk shape cannot carry them).
  An unknown type is a 400 there (one failing item), not the single POST's 404. Every item
  is also checked against the items before it (a name listed twice with two types fails
  the later one).
- Names (provider, API) must be non-blank, without '/', at most 255 characters.
  `GET .../integration/all` lists a provider's API names, so an API named `all` is never read.
- Lists are ordered by name; `createdBy`/`updatedBy` are the caller's key id. No call sets
  tags on an integration API, so an API's `tags` is always [].
- Error `instance` is the sandbox host's name. Bodies over 1 MiB are a 413; an unexpected
  server error is a 500 in the same shape with `retryable: true`.
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
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.requests import ClientDisconnect

from reconciler.sandbox import conductor_store as store
from reconciler.sandbox.conductor_auth import (
    AuthError,
    Principal,
    authenticate_key,
    mint,
    verify,
)
from reconciler.sandbox.conductor_catalog import Catalog, catalog
from reconciler.sandbox.conductor_model import (
    ApiError,
    FieldError,
    Tag,
    check_path_name,
    invalid,
    parse_api_update,
    parse_bulk_item,
    parse_provider_update,
    parse_tags,
)
from reconciler.sandbox.seed import Seed

PREFIX = "/api"
SCHEMA = store.SCHEMA
MAX_BODY_BYTES = 1024 * 1024
TOKEN_PATH = "/api/token"

router = APIRouter()
_log = logging.getLogger(__name__)
_INSTANCE = socket.gethostname()

_TRUE = frozenset({"true", "on", "yes", "1"})
_FALSE = frozenset({"false", "off", "no", "0"})


def reset(conn: sqlite3.Connection, seed: Seed) -> None:
    """Conductor has no seeded rows: key pairs live in the seed itself."""


# ---- responses -------------------------------------------------------------------------------


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _error(status: int, message: str, errors: Sequence[FieldError] = ()) -> Response:
    body: dict[str, Any] = {
        "status": status,
        "message": message,
        "instance": _INSTANCE,
        "retryable": status >= 500,
    }
    if errors:
        body["validationErrors"] = [e.to_json() for e in errors]
    return _json(body, status)


def _auth_error(exc: AuthError, now: float) -> Response:
    return _json({"message": exc.message, "error": exc.code, "timestamp": int(now * 1000)}, 401)


def _authenticate(request: Request, seed: Seed, now: float) -> Principal:
    return verify(seed, request.headers.get("x-authorization"), now)


def http_error(request: Request, status: int, message: str) -> Response:
    """Routing errors (unknown path, wrong method), after the token check as on the server."""
    sandbox = request.app.state.sandbox
    now = sandbox.clock()
    if request.url.path != TOKEN_PATH:
        try:
            _authenticate(request, sandbox.seed, now)
        except AuthError as exc:
            return _auth_error(exc, now)
    if status == 404:
        message = f"No handler found for {request.method} {request.url.path}"
    elif status == 405:
        message = f"Request method '{request.method}' is not supported"
    return _error(status, message)


def validation_error(request: Request, exc: RequestValidationError) -> Response:
    errors = [
        FieldError(".".join(str(p) for p in e.get("loc", ())[1:]), str(e.get("msg")), e.get("input"))
        for e in exc.errors()
    ]
    return _error(400, "Validation failed", errors)


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


async def _read_body(request: Request) -> bytes:
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


def _parse_json(raw: bytes) -> Any:
    if not raw.strip():
        raise ApiError(400, "Required request body is missing")
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, f"Malformed JSON request body: {exc}") from exc


async def _serve(request: Request, handler: Callable[[Call], Any], *, with_body: bool = False) -> Response:
    """Authenticate, read the body, run `handler` in one transaction, render its result.

    A handler returns JSON-able data, or None for the empty 200 of the write calls.
    """
    sandbox = request.app.state.sandbox
    now = sandbox.clock()
    try:
        principal = _authenticate(request, sandbox.seed, now)
        body = _parse_json(await _read_body(request)) if with_body else None
        with sandbox.db.transaction() as conn:
            result = handler(Call(conn, catalog(), principal, int(now * 1000), body, request.query_params))
    except AuthError as exc:
        return _auth_error(exc, now)
    except ApiError as exc:
        return _error(exc.status, exc.message, exc.errors)
    except ClientDisconnect:
        raise  # the client went away: nothing to answer, and no error of ours
    except Exception:
        _log.exception("conductor emulator: unexpected error on %s %s", request.method, request.url)
        return _error(500, "Internal server error")
    return Response(status_code=200) if result is None else _json(result)


def _query_bool(call: Call, name: str, default: bool) -> bool:
    raw = call.query.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise invalid([FieldError(name, "must be true or false", raw)])


def _query_category(call: Call) -> str | None:
    raw = call.query.get("category")
    if raw is None or raw == "":
        return None
    if raw not in call.catalog.categories:
        message = f"must be one of {', '.join(call.catalog.categories)}"
        raise invalid([FieldError("category", message, raw)])
    return raw


def _not_found(name: str) -> ApiError:
    return ApiError(404, f"Integration provider {name} not found")


def _require_provider(call: Call, name: str) -> str:
    itype = store.provider_type(call.conn, call.org, name)
    if itype is None:
        raise _not_found(name)
    return itype


def _type_change(name: str, stored: str, sent: str) -> str:
    return f"Integration {name} is of type {stored}: its type cannot be changed to {sent}"


# ---- token -----------------------------------------------------------------------------------


@router.post(TOKEN_PATH)
async def generate_token(request: Request) -> Response:
    sandbox = request.app.state.sandbox
    now = sandbox.clock()
    try:
        body = _parse_json(await _read_body(request))
        if not isinstance(body, dict):
            raise invalid([FieldError("", "the request body must be a JSON object", body)])
        errors = [
            FieldError(field, "must be a non-empty string", body.get(field))
            for field in ("keyId", "keySecret")
            if not isinstance(body.get(field), str) or not body.get(field)
        ]
        if errors:
            raise invalid(errors)
        key = authenticate_key(sandbox.seed, body["keyId"], body["keySecret"])
    except AuthError as exc:
        return _auth_error(exc, now)
    except ApiError as exc:
        return _error(exc.status, exc.message, exc.errors)
    return _json({"token": mint(sandbox.seed, key, now)})


# ---- providers -------------------------------------------------------------------------------


@router.post("/api/integrations/provider/{name}")
async def save_provider(request: Request, name: str) -> Response:
    def run(call: Call) -> None:
        check_path_name(name, "name")
        provider, known = parse_provider_update(call.body, name, call.catalog)
        if not known:
            raise ApiError(404, f"Integration type {provider.type} not found")
        stored = store.provider_type(call.conn, call.org, name)
        if stored is not None and stored != provider.type:
            message = _type_change(name, stored, provider.type)
            raise invalid([FieldError("type", message, provider.type)])
        store.save_provider(call.conn, call.catalog, call.org, call.principal, call.now_ms, provider)

    return await _serve(request, run, with_body=True)


@router.get("/api/integrations/provider/{name}")
async def get_provider(request: Request, name: str) -> Response:
    def run(call: Call) -> Any:
        provider = store.get_provider(call.conn, call.catalog, call.org, name)
        if provider is None:
            raise _not_found(name)
        return provider

    return await _serve(request, run)


@router.get("/api/integrations/provider")
@router.get("/api/integrations/provider/")
async def list_providers(request: Request) -> Response:
    def run(call: Call) -> Any:
        return store.list_providers(
            call.conn,
            call.catalog,
            call.org,
            category=_query_category(call),
            active_only=_query_bool(call, "activeOnly", True),
            with_apis=False,
        )

    return await _serve(request, run)


@router.delete("/api/integrations/provider/{name}")
async def delete_provider(request: Request, name: str) -> Response:
    def run(call: Call) -> None:
        store.delete_provider(call.conn, call.org, name)

    return await _serve(request, run)


# ---- bulk ------------------------------------------------------------------------------------


@router.post("/api/integrations/")
@router.post("/api/integrations")
async def save_all(request: Request) -> Response:
    def run(call: Call) -> None:
        if not isinstance(call.body, list):
            raise invalid([FieldError("", "the request body must be a JSON array", call.body)])
        # Check the whole array before any write, in order: the first failing item fails
        # the call, whether it is malformed or changes a type (stored or set by an earlier item).
        parsed = [parse_bulk_item(item, i, call.catalog) for i, item in enumerate(call.body)]
        names = (p.name for p, _ in parsed if p is not None)
        types = store.provider_types(call.conn, call.org, names)
        providers = []
        for index, (provider, errors) in enumerate(parsed):
            if provider is None:
                raise _bulk_error(index, call.body[index], errors)
            stored = types.setdefault(provider.name, provider.type)
            if stored != provider.type:
                message = _type_change(provider.name, stored, provider.type)
                error = FieldError(f"[{index}].type", message, provider.type)
                raise _bulk_error(index, call.body[index], [error])
            providers.append(provider)
        store.save_providers(call.conn, call.catalog, call.org, call.principal, call.now_ms, providers)

    return await _serve(request, run, with_body=True)


def _bulk_error(index: int, item: Any, errors: list[FieldError]) -> ApiError:
    name = item.get("name") if isinstance(item, dict) else None
    what = f"item [{index}]" + (f" ({name!r})" if isinstance(name, str) else "")
    detail = "; ".join(f"{e.path}: {e.message}" for e in errors)
    return ApiError(400, f"Invalid {what}; nothing was saved: {detail}", errors)


@router.get("/api/integrations/")
@router.get("/api/integrations")
async def list_all(request: Request) -> Response:
    def run(call: Call) -> Any:
        return store.list_providers(
            call.conn,
            call.catalog,
            call.org,
            category=_query_category(call),
            active_only=_query_bool(call, "activeOnly", True),
            with_apis=True,
        )

    return await _serve(request, run)


@router.get("/api/integrations/def")
async def definitions(request: Request) -> Response:
    return await _serve(request, lambda call: call.catalog.definitions())


# ---- integration APIs ------------------------------------------------------------------------


@router.post("/api/integrations/provider/{name}/integration/{api}")
async def save_api(request: Request, name: str, api: str) -> Response:
    def run(call: Call) -> None:
        check_path_name(api, "api")
        update = parse_api_update(call.body, api)
        _require_provider(call, name)
        store.save_api(call.conn, call.catalog, call.org, call.principal, call.now_ms, name, update)

    return await _serve(request, run, with_body=True)


@router.get("/api/integrations/provider/{name}/integration/all")
async def api_names(request: Request, name: str) -> Response:
    """The names of a provider's APIs (the spec's `getIntegrationAvailableApis`): a path that
    shadows an API named `all`, which can therefore be written but never read back."""

    def run(call: Call) -> Any:
        _require_provider(call, name)
        rows = store.list_apis(call.conn, call.catalog, call.org, name, active_only=False)
        return [row["api"] for row in rows]

    return await _serve(request, run)


@router.get("/api/integrations/provider/{name}/integration/{api}")
async def get_api(request: Request, name: str, api: str) -> Response:
    def run(call: Call) -> Any:
        found = store.get_api(call.conn, call.catalog, call.org, name, api)
        if found is None:
            raise ApiError(404, f"Integration API {api} of provider {name} not found")
        return found

    return await _serve(request, run)


@router.get("/api/integrations/provider/{name}/integration")
@router.get("/api/integrations/provider/{name}/integration/")
async def list_apis(request: Request, name: str) -> Response:
    def run(call: Call) -> Any:
        active_only = _query_bool(call, "activeOnly", True)
        _require_provider(call, name)
        return store.list_apis(call.conn, call.catalog, call.org, name, active_only=active_only)

    return await _serve(request, run)


@router.delete("/api/integrations/provider/{name}/integration/{api}")
async def delete_api(request: Request, name: str, api: str) -> Response:
    def run(call: Call) -> None:
        store.delete_api(call.conn, call.org, call.principal, call.now_ms, name, api)

    return await _serve(request, run)


# ---- tags ------------------------------------------------------------------------------------


def _tags_body(call: Call) -> list[Tag]:
    errors: list[FieldError] = []
    tags = parse_tags(call.body, errors)
    if errors:
        raise invalid(errors)
    return list(tags)


def _stored_tags(call: Call, name: str) -> list[Tag]:
    tags = store.get_tags(call.conn, call.org, name)
    if tags is None:
        raise _not_found(name)
    return tags


@router.put("/api/integrations/provider/{name}/tags")
async def add_tags(request: Request, name: str) -> Response:
    def run(call: Call) -> None:
        sent = _tags_body(call)
        tags = _stored_tags(call, name)
        tags += [t for t in sent if t not in tags]
        store.set_tags(call.conn, call.org, call.principal, call.now_ms, name, tags)

    return await _serve(request, run, with_body=True)


@router.get("/api/integrations/provider/{name}/tags")
async def get_tags(request: Request, name: str) -> Response:
    return await _serve(request, lambda call: [t.to_json() for t in _stored_tags(call, name)])


@router.delete("/api/integrations/provider/{name}/tags")
async def delete_tags(request: Request, name: str) -> Response:
    def run(call: Call) -> None:
        removed = set(_tags_body(call))
        tags = [t for t in _stored_tags(call, name) if t not in removed]
        store.set_tags(call.conn, call.org, call.principal, call.now_ms, name, tags)

    return await _serve(request, run, with_body=True)
