"""The Conductor emulator's routes: the token exchange, providers, their APIs and tags, the
bulk save and list, and the type catalog; each handler runs in one transaction (`wire.serve`)."""

from __future__ import annotations

import sqlite3
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from reconciler.sandbox.conductor import store
from reconciler.sandbox.conductor.auth import (
    AuthError,
    authenticate_key,
    mint,
)
from reconciler.sandbox.conductor.model import (
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
from reconciler.sandbox.conductor.wire import (
    TOKEN_PATH,
    Call,
    auth_error_response,
    error_response,
    json_response,
    parse_json,
    read_body,
    serve,
)
from reconciler.sandbox.seed import Seed

PREFIX = "/api"
SCHEMA = store.SCHEMA
router = APIRouter()

_TRUE = frozenset({"true", "on", "yes", "1"})
_FALSE = frozenset({"false", "off", "no", "0"})


def reset(conn: sqlite3.Connection, seed: Seed) -> None:
    """Conductor has no seeded rows: key pairs live in the seed itself."""


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
        body = parse_json(await read_body(request))
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
        return auth_error_response(exc, now)
    except ApiError as exc:
        return error_response(exc.status, exc.message, exc.errors)
    return json_response({"token": mint(sandbox.seed, key, now)})


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

    return await serve(request, run, with_body=True)


@router.get("/api/integrations/provider/{name}")
async def get_provider(request: Request, name: str) -> Response:
    def run(call: Call) -> Any:
        provider = store.get_provider(call.conn, call.catalog, call.org, name)
        if provider is None:
            raise _not_found(name)
        return provider

    return await serve(request, run)


@router.get("/api/integrations/provider")
@router.get("/api/integrations/provider/")
async def list_providers(request: Request) -> Response:
    return await serve(request, lambda call: _listed(call, with_apis=False))


@router.delete("/api/integrations/provider/{name}")
async def delete_provider(request: Request, name: str) -> Response:
    def run(call: Call) -> None:
        store.delete_provider(call.conn, call.org, name)

    return await serve(request, run)


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

    return await serve(request, run, with_body=True)


def _bulk_error(index: int, item: Any, errors: list[FieldError]) -> ApiError:
    name = item.get("name") if isinstance(item, dict) else None
    what = f"item [{index}]" + (f" ({name!r})" if isinstance(name, str) else "")
    detail = "; ".join(f"{e.path}: {e.message}" for e in errors)
    return ApiError(400, f"Invalid {what}; nothing was saved: {detail}", errors)


@router.get("/api/integrations/")
@router.get("/api/integrations")
async def list_all(request: Request) -> Response:
    return await serve(request, lambda call: _listed(call, with_apis=True))


def _listed(call: Call, *, with_apis: bool) -> Any:
    """The providers a list call asks for (`category`, `activeOnly`), with or without APIs."""
    return store.list_providers(
        call.conn,
        call.catalog,
        call.org,
        category=_query_category(call),
        active_only=_query_bool(call, "activeOnly", True),
        with_apis=with_apis,
    )


@router.get("/api/integrations/def")
async def definitions(request: Request) -> Response:
    return await serve(request, lambda call: call.catalog.definitions())


# ---- integration APIs ------------------------------------------------------------------------


@router.post("/api/integrations/provider/{name}/integration/{api}")
async def save_api(request: Request, name: str, api: str) -> Response:
    def run(call: Call) -> None:
        check_path_name(api, "api")
        update = parse_api_update(call.body, api)
        _require_provider(call, name)
        store.save_api(call.conn, call.catalog, call.org, call.principal, call.now_ms, name, update)

    return await serve(request, run, with_body=True)


@router.get("/api/integrations/provider/{name}/integration/all")
async def api_names(request: Request, name: str) -> Response:
    """The names of a provider's APIs (the spec's `getIntegrationAvailableApis`): a path that
    shadows an API named `all`, which can therefore be written but never read back."""

    def run(call: Call) -> Any:
        _require_provider(call, name)
        rows = store.list_apis(call.conn, call.catalog, call.org, name, active_only=False)
        return [row["api"] for row in rows]

    return await serve(request, run)


@router.get("/api/integrations/provider/{name}/integration/{api}")
async def get_api(request: Request, name: str, api: str) -> Response:
    def run(call: Call) -> Any:
        found = store.get_api(call.conn, call.catalog, call.org, name, api)
        if found is None:
            raise ApiError(404, f"Integration API {api} of provider {name} not found")
        return found

    return await serve(request, run)


@router.get("/api/integrations/provider/{name}/integration")
@router.get("/api/integrations/provider/{name}/integration/")
async def list_apis(request: Request, name: str) -> Response:
    def run(call: Call) -> Any:
        active_only = _query_bool(call, "activeOnly", True)
        _require_provider(call, name)
        return store.list_apis(call.conn, call.catalog, call.org, name, active_only=active_only)

    return await serve(request, run)


@router.delete("/api/integrations/provider/{name}/integration/{api}")
async def delete_api(request: Request, name: str, api: str) -> Response:
    def run(call: Call) -> None:
        store.delete_api(call.conn, call.org, call.principal, call.now_ms, name, api)

    return await serve(request, run)


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

    return await serve(request, run, with_body=True)


@router.get("/api/integrations/provider/{name}/tags")
async def get_tags(request: Request, name: str) -> Response:
    return await serve(request, lambda call: [t.to_json() for t in _stored_tags(call, name)])


@router.delete("/api/integrations/provider/{name}/tags")
async def delete_tags(request: Request, name: str) -> Response:
    def run(call: Call) -> None:
        removed = set(_tags_body(call))
        tags = [t for t in _stored_tags(call, name) if t not in removed]
        store.set_tags(call.conn, call.org, call.principal, call.now_ms, name, tags)

    return await serve(request, run, with_body=True)
