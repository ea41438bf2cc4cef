"""`reconciler sandbox serve`: the sandbox over real HTTP with uvicorn."""

from __future__ import annotations

import logging

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from reconciler.sandbox.app import create_app
from reconciler.sandbox.faults import DropConnection, Faults
from reconciler.sandbox.seed import Seed

_INCOMPLETE = "ASGI callable returned without completing response"


class _QuietDrops:
    """Ends a fault-injected drop without an error in the server log.

    uvicorn closes the connection of a response that stops mid-body, which is the drop the
    client must see; an exception would make it log a traceback per drop, and a test
    harness that pipes stderr without reading it would eventually block the server.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except DropConnection:
            pass


class _NoIncompleteResponseLog(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(_INCOMPLETE)


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
    config = uvicorn.Config(
        _QuietDrops(app), host=host, port=port, log_level=log_level, access_log=False
    )
    # After Config, which installs uvicorn's logging configuration.
    logging.getLogger("uvicorn.error").addFilter(_NoIncompleteResponseLog())
    server = uvicorn.Server(config)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    if not server.started:
        # What `uvicorn.run` does when it could not start (e.g. the port is taken).
        raise SystemExit(3)
