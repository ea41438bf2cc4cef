"""The sandbox ASGI application: the three APIs at their real paths, plus `/_sandbox` admin.

`create_app()` builds one FastAPI app over one SQLite database. Each API lives in its own
package (`kubiya`, `conductor`, `console`), laid out alike (`routes`, `store`, `model`, and
`wire` for a request pipeline of its own), exposing `PREFIX`, `SCHEMA` (SQL), `router`,
`reset(conn, seed)` (re-create seeded rows) and `http_error(request, status, message)` (the
API's own error shape for routing errors such as an unknown path or a wrong method).

Admin endpoints (no auth; the sandbox is a local tool):
- `GET /_sandbox/stats`, `DELETE /_sandbox/stats`: request counters, and their reset;
- `GET /_sandbox/faults`, `PUT /_sandbox/faults`: read or replace the fault settings;
- `POST /_sandbox/reset`: wipe every resource and re-create the seeded rows;
- `GET /_sandbox/health`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from reconciler.sandbox import conductor, console, kubiya
from reconciler.sandbox.db import Database
from reconciler.sandbox.faults import FaultCounts, FaultMiddleware, Faults, Stats
from reconciler.sandbox.seed import Seed, default_seed

# Most specific prefix first: Conductor owns the rest of `/api`.
API_MODULES: tuple[ModuleType, ...] = (kubiya, console, conductor)


@dataclass
class Sandbox:
    """Everything a handler may need, at `request.app.state.sandbox`."""

    db: Database
    seed: Seed
    faults: Faults = field(default_factory=Faults)
    stats: Stats = field(default_factory=Stats.empty)
    rng: random.Random = field(default_factory=random.Random)
    # Requests seen since the faults were last set, for the count-based faults.
    counts: FaultCounts = field(default_factory=FaultCounts)
    # Wall clock, replaceable so that token expiry and idempotency windows can be tested.
    clock: Callable[[], float] = time.time

    def reset(self) -> None:
        tables = [
            row[0]
            for row in self.db.conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        with self.db.transaction() as conn:
            conn.execute("PRAGMA defer_foreign_keys = ON")
            for table in tables:
                conn.execute(f'DELETE FROM "{table}"')
            for module in API_MODULES:
                module.reset(conn, self.seed)

    def set_faults(self, faults: Faults) -> None:
        self.faults = faults
        self.rng = random.Random(faults.seed)
        self.counts = FaultCounts()


def _module_for(path: str) -> ModuleType | None:
    for module in API_MODULES:
        if path == module.PREFIX or path.startswith(module.PREFIX + "/"):
            return module
    return None


def create_app(
    db_path: str = ":memory:",
    seed: Seed | None = None,
    faults: Faults | None = None,
) -> FastAPI:
    app = FastAPI(title="reconciler sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    db = Database(db_path)
    for module in API_MODULES:
        db.executescript(module.SCHEMA)
    sandbox = Sandbox(db=db, seed=seed or default_seed())
    sandbox.set_faults(faults or Faults())
    app.state.sandbox = sandbox
    with db.transaction() as conn:
        for module in API_MODULES:
            module.reset(conn, sandbox.seed)

    for module in API_MODULES:
        app.include_router(module.router)

    _handle_errors(app)
    app.include_router(_admin_routes(sandbox))
    app.add_middleware(FaultMiddleware, state=sandbox)
    return app


def _handle_errors(app: FastAPI) -> None:
    """Routing and validation errors answered in each API's own error shape."""

    @app.exception_handler(StarletteHTTPException)
    async def routing_error(request: Request, exc: StarletteHTTPException) -> Response:
        module = _module_for(request.url.path)
        if module is None or not isinstance(exc.detail, str):
            # A structured detail (a handler's own error object) is FastAPI's to render as is;
            # `str()` of it would send a Python repr.
            return await http_exception_handler(request, exc)
        response: Response = module.http_error(request, exc.status_code, exc.detail)
        # Keep the headers the exception carries (`Allow` on a 405, `WWW-Authenticate`).
        for name, value in (exc.headers or {}).items():
            if name.lower() not in response.headers:
                response.headers[name] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        module = _module_for(request.url.path)
        if module is not None and hasattr(module, "validation_error"):
            response: Response = module.validation_error(request, exc)
            return response
        return await request_validation_exception_handler(request, exc)


def _admin_routes(sandbox: Sandbox) -> APIRouter:
    """`/_sandbox/...`: health, request statistics, faults and reset, for tests and the bench."""
    router = APIRouter()

    @router.get("/_sandbox/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/_sandbox/stats")
    async def get_stats() -> dict[str, Any]:
        return sandbox.stats.to_dict()

    @router.delete("/_sandbox/stats", status_code=204)
    async def clear_stats() -> Response:
        sandbox.stats = Stats.empty()
        return Response(status_code=204)

    @router.get("/_sandbox/faults")
    async def get_faults() -> dict[str, Any]:
        return sandbox.faults.to_dict()

    @router.put("/_sandbox/faults")
    async def put_faults(request: Request) -> Response:
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            sandbox.set_faults(Faults.from_dict(body))
        except ValueError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=400)
        return JSONResponse(sandbox.faults.to_dict())

    @router.post("/_sandbox/reset")
    async def reset() -> dict[str, str]:
        sandbox.reset()
        return {"status": "reset"}

    return router
