"""The real Kubiya control-plane app (`kubiya-control-plane-api`, see router.in) on a port.

Run with the router's own virtual environment (tests/parity/run.sh makes it), never the
project's: this file imports the vendor's package, not reconciler.

    python kubiya_router.py --port P --database-url postgresql://... [--corrected]

What is the vendor's and what is not:
- the app is the published `control_plane_api.app.main:app`, unmodified: its middleware, the
  custom-integrations router, the request and response models, the auth dependency
  (`get_current_organization`, with its own 401 bodies) and the SQLAlchemy session;
- the table is created by the vendor's own alembic migration `df9117888e82` (its
  `custom_integrations` statements; the rest of that migration alters tables of other
  routers). The model's `create_all` cannot be used: its `server_default="active"` is not a
  label of the enum type, which stores the member names (`ACTIVE`), as the migration does;
- the token check calls Kubiya's API (`$KUBIYA_API_BASE/api/v1/users/self`); a stand-in for
  that API runs in this process on a loopback port (`_UsersApi`): it knows the sandbox's
  default tokens and answers as Kubiya's user endpoint does (a user with `org`, `uuid`,
  `email`, `name`; 401 for anything else). No Redis: the token cache stays off.
- `--corrected` swaps the response model of the custom-integrations routes for one whose
  `created_at` and `updated_at` are datetimes, which is the one-line fix of the published
  bug (it declares `str` for a DateTime column, so every success body fails response
  validation: a 500 after the write is committed). The endpoints, their dependencies and
  status codes are the vendor's; only the model the answer is rendered through changes.
  That run shows the bodies the router means to send.
- `GET /__parity/rows` (outside the vendor's paths) lists every stored row, through the
  vendor's model, so that the suite can compare what was written even where the published
  router answers 500.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# The sandbox's default Kubiya tokens (reconciler/sandbox/seed.py), as users of two
# organizations. The uuids are fixed so that `created_by` is the same in every run.
USERS = {
    "sandbox-kubiya-token": {
        "uuid": "7d8f9a10-0000-4000-8000-000000000001",
        "email": "parity@sandbox.example",
        "name": "Parity User",
        "org": "sandbox",
    },
    "sandbox-kubiya-token-2": {
        "uuid": "7d8f9a10-0000-4000-8000-000000000002",
        "email": "parity@sandbox-2.example",
        "name": "Parity User 2",
        "org": "sandbox-2",
    },
}


class _UsersApi(BaseHTTPRequestHandler):
    """Kubiya's `/api/v1/users/self` and `/api/v1/users/current`, for the tokens in USERS."""

    def do_GET(self) -> None:
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        user = USERS.get(token) if scheme in ("Bearer", "UserKey") else None
        if self.path not in ("/api/v1/users/self", "/api/v1/users/current") or user is None:
            self._send(401, {"error": "unauthorized"})
        else:
            self._send(200, user)

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _start_users_api() -> str:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _UsersApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


def _environment(database_url: str, users_api: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["KUBIYA_API_BASE"] = users_api
    # Quiet and offline: no tracing exporter, no trace storage tables, no remote price list.
    os.environ["OTEL_ENABLED"] = "false"
    os.environ["OTEL_LOCAL_STORAGE_ENABLED"] = "false"
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    os.environ["LOG_LEVEL"] = "warning"
    for name in ("REDIS_URL", "KV_REST_API_URL", "KV_REST_API_TOKEN", "UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN"):
        os.environ.pop(name, None)


def _correct_response_model() -> None:
    """Re-register the custom-integrations routes with datetime timestamps in the response model.

    The routes are replaced inside the vendor's own router object, which the app includes by
    reference, so that everything else about them (path, endpoint, dependencies, status code,
    place among the app's routes) stays the vendor's."""
    from control_plane_api.app.routers import custom_integrations as ci
    from fastapi.routing import APIRoute
    from pydantic import create_model

    fixed = create_model(
        "CustomIntegrationResponse",
        __base__=ci.CustomIntegrationResponse,
        created_at=(datetime, ...),
        updated_at=(datetime, ...),
    )
    routes = list(ci.router.routes)
    ci.router.routes.clear()
    for route in routes:
        assert isinstance(route, APIRoute)
        model: Any = route.response_model
        if model is ci.CustomIntegrationResponse:
            model = fixed
        elif getattr(model, "__args__", None) == (ci.CustomIntegrationResponse,):
            model = list[fixed]  # type: ignore[valid-type]  # a model made at run time
        ci.router.add_api_route(
            route.path.removeprefix(ci.router.prefix),
            route.endpoint,
            methods=sorted(route.methods or ()),
            status_code=route.status_code,
            response_model=model,
        )


def _rows_route(app: Any) -> None:
    from control_plane_api.app.database import get_session_local
    from control_plane_api.app.models.custom_integration import CustomIntegration

    def rows() -> list[dict[str, Any]]:
        session = get_session_local()()
        try:
            found = session.query(CustomIntegration).order_by(CustomIntegration.created_at.desc()).all()
            return [
                {
                    "id": row.id,
                    "organization_id": row.organization_id,
                    "name": row.name,
                    "integration_type": row.integration_type,
                    "description": row.description,
                    "status": row.status.value,
                    "config": row.config,
                    "tags": row.tags,
                    "created_at": row.created_at.isoformat(),
                    "updated_at": row.updated_at.isoformat(),
                    "created_by": row.created_by,
                }
                for row in found
            ]
        finally:
            session.close()

    app.add_api_route("/__parity/rows", rows, methods=["GET"])


class _OnlyTable:
    """alembic's `op`, carrying out only the operations on one table."""

    def __init__(self, operations: Any, table: str) -> None:
        self._operations = operations
        self._table = table

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            if self._table in args or kwargs.get("table_name") == self._table:
                return getattr(self._operations, name)(*args, **kwargs)
            return None

        return call


def _migrate() -> None:
    import importlib.util
    from pathlib import Path

    import control_plane_api
    from alembic.migration import MigrationContext
    from alembic.operations import Operations
    from control_plane_api.app.database import get_engine

    path = Path(control_plane_api.__file__).parent / "alembic" / "versions" / "df9117888e82_add_missing_columns.py"
    spec = importlib.util.spec_from_file_location("parity_migration_df9117888e82", path)
    assert spec is not None
    assert spec.loader is not None
    migration: Any = importlib.util.module_from_spec(spec)  # untyped: alembic fills in its `op`
    spec.loader.exec_module(migration)
    with get_engine().begin() as connection:
        migration.op = _OnlyTable(Operations(MigrationContext.configure(connection)), "custom_integrations")
        migration.upgrade()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--corrected", action="store_true")
    args = parser.parse_args()
    _environment(args.database_url, _start_users_api())

    import uvicorn
    from control_plane_api.app.main import app

    _migrate()
    if args.corrected:
        _correct_response_model()
    _rows_route(app)
    print(f"kubiya router 1.0.2{' (response model corrected)' if args.corrected else ''} on port {args.port}", file=sys.stderr)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
