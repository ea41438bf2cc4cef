"""`reconciler sandbox serve`: the sandbox over real HTTP with uvicorn."""

from __future__ import annotations

import uvicorn

from reconciler.sandbox.app import create_app
from reconciler.sandbox.faults import Faults
from reconciler.sandbox.seed import Seed


def serve(
    host: str,
    port: int,
    db_path: str,
    seed: Seed | None = None,
    faults: Faults | None = None,
    log_level: str = "warning",
) -> None:
    app = create_app(db_path, seed=seed, faults=faults)
    # One worker: the state lives in this process's SQLite connection.
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
