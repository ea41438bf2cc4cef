"""`reconciler sandbox serve`: the sandbox over real HTTP with uvicorn (and its httptools parser).

The socket is bound before anything is announced (`bind`), so that a busy port is one clear
error, never "listening" followed by a failure. A client that goes away mid-request is one
log line, not a traceback. A response's head and body leave in one write (`_OneSend`).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from typing import Any

import uvicorn
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

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
        except ClientDisconnect:
            _log.warning(
                "client disconnected before its request was read: %s %s", scope.get("method"), scope.get("path")
            )


_log = logging.getLogger("reconciler.sandbox")


# Held writes go out at once past this size: a large body is not copied into one buffer with
# its head, and a response written in many pieces in one turn still meets uvicorn's flow
# control, which only the real transport's buffer can trigger.
_HOLD_BYTES = 64 * 1024


class _OneSend:
    """A connection's transport whose writes of one turn of the event loop go out together,
    at the start of the next: uvicorn writes a response's head and its body apart, which
    made two system calls per answer here and two reads at the client."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._loop = asyncio.get_running_loop()
        self._pending: list[bytes] = []
        self._held = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if len(data) >= _HOLD_BYTES:
            self._flush()
            self._transport.write(data)
            return
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(bytes(data))
        self._held += len(data)
        if self._held >= _HOLD_BYTES:
            self._flush()

    def _flush(self) -> None:
        pending, self._pending, self._held = self._pending, [], 0
        if pending and not self._transport.is_closing():
            self._transport.write(b"".join(pending))

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def abort(self) -> None:
        self._flush()
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class _OneSendProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, writing through `_OneSend`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_OneSend(transport))  # type: ignore[arg-type]


class _NoIncompleteResponseLog(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(_INCOMPLETE)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port; OSError when the address is taken or not ours."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not 0: asyncio sets TCP_NODELAY only on connections of a socket that
    # names it, and without it Nagle holds a small body sent after its headers until the client
    # acknowledges them (up to 40 ms of delayed ACK on every request of a reused connection).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def server_config(app: ASGIApp, log_level: str = "warning") -> uvicorn.Config:
    """uvicorn's configuration of the served sandbox: one worker (the state lives in this
    process's SQLite connection), writes through `_OneSend`, drops ended quietly."""
    return uvicorn.Config(_QuietDrops(app), http=_OneSendProtocol, log_level=log_level, access_log=False)


def serve(
    sock: socket.socket,
    db_path: str,
    seed: Seed | None = None,
    faults: Faults | None = None,
    log_level: str = "warning",
    ready: Callable[[], None] = lambda: None,
) -> None:
    """Serve on an already bound socket (see `bind`) until interrupted. `ready` is called once
    the database is open, right before requests are served (to announce the server)."""
    app = create_app(db_path, seed=seed, faults=faults)
    ready()
    config = server_config(app, log_level)
    # After Config, which installs uvicorn's logging configuration.
    logging.getLogger("uvicorn.error").addFilter(_NoIncompleteResponseLog())
    if not _log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:  %(message)s"))
        _log.addHandler(handler)
        _log.propagate = False
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    if not server.started:
        raise SystemExit(3)
