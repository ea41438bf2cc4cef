"""The console emulator's routes: the agents list, the channel routes of each family, the
sandbox's OAuth consent stand-in, and routing errors (unknown path, wrong method) in the
console's error shape.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.requests import ClientDisconnect
from starlette.routing import Match

from reconciler.sandbox.console.model import (
    CHANNELS,
    FAMILIES,
    OAUTH_CALLBACK,
    PREFIX,
    READ_SCOPE,
    WRITE_SCOPE,
    ApiError,
    dumps,
)
from reconciler.sandbox.console.store import (
    configure_action,
    disconnect_action,
    list_all,
    list_bimpeai,
    list_family_action,
)
from reconciler.sandbox.console.wire import (
    ROUTING_CODES,
    authenticate,
    error_response,
    json_response,
    log,
    request_id_of,
    serve,
)

router = APIRouter()


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
    return error_response(request_id_of(request), ApiError(status, code, message, headers))


def validation_error(request: Request, exc: RequestValidationError) -> Response:
    """FastAPI's own parameter validation, which the routes barely use, as a 400."""
    messages = [
        f"{'.'.join(str(p) for p in err.get('loc', ())[1:]) or 'request'} {err.get('msg', '')}" for err in exc.errors()
    ]
    return error_response(request_id_of(request), ApiError(400, "validation_error", messages))


def _allowed_methods(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in router.routes:
        if isinstance(route, APIRoute):
            match, _ = route.matches(request.scope)
            if match != Match.NONE:
                methods |= route.methods or set()
    return sorted(methods)


# ---------------------------------------------------------------- routes


AGENTS_SCOPE = "agents:read"
# The time the sandbox's agents were made, as their `created_at`/`updated_at` (seeded agents
# have no history).
AGENTS_SINCE = "2025-01-01T00:00:00.000Z"
MAX_PAGE = 100


@router.get(PREFIX + "/agents")
async def list_agents(request: Request) -> Response:
    """The team's agents, paginated as the SDK reads them (`data` and `meta`)."""
    request_id = request_id_of(request)
    try:
        sandbox = request.app.state.sandbox
        key = authenticate(request, sandbox.seed)
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
        return json_response(dumps(body), 200, request_id)
    except ApiError as exc:
        return error_response(request_id, exc)


def _positive(raw: str, name: str, errors: list[str]) -> int:
    """A query parameter that must be a whole number of at least 1 (1 when it is not)."""
    if raw.isdigit() and int(raw) >= 1:
        return int(raw)
    errors.append(f"{name}: must be a positive integer")
    return 1


@router.get(CHANNELS)
async def list_channels(request: Request, agent_id: str) -> Response:
    return await serve(request, agent_id, READ_SCOPE, list_all)


def _family_routes(family: str) -> None:
    lister = list_bimpeai if family == "bimpeai" else list_family_action(family)
    configure = configure_action(family)

    async def list_family(request: Request, agent_id: str) -> Response:
        return await serve(request, agent_id, READ_SCOPE, lister)

    async def configure_channel(request: Request, agent_id: str) -> Response:
        return await serve(request, agent_id, WRITE_SCOPE, configure)

    async def disconnect_channel(request: Request, agent_id: str, channel_id: str) -> Response:
        return await serve(request, agent_id, WRITE_SCOPE, disconnect_action(family, channel_id))

    router.add_api_route(f"{CHANNELS}/{family}", list_family, methods=["GET"])
    router.add_api_route(f"{CHANNELS}/{family}/configure", configure_channel, methods=["POST"])
    router.add_api_route(f"{CHANNELS}/{family}/{{channel_id}}", disconnect_channel, methods=["DELETE"])


for _family in FAMILIES:
    _family_routes(_family)


@router.get(OAUTH_CALLBACK)
async def oauth_callback(request: Request) -> Response:
    """The consent a user would give on the provider's page; completes a pending channel."""
    request_id = request_id_of(request)
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
        return json_response(dumps({"message": "Success", "data": data}), 200, request_id)
    except ApiError as exc:
        return error_response(request_id, exc)
    except ClientDisconnect:
        raise  # the client went away: nothing to answer, and no error of ours
    except Exception:  # noqa: BLE001 - any bug of the emulator is answered as the server would: a 500
        log.exception("console sandbox: unexpected error (request %s)", request_id)
        return error_response(request_id, ApiError(500, "internal_error", "Internal server error"))
