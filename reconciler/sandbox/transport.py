"""The sandbox as an in-process httpx transport, for servers whose url is `sandbox:`.

`sandbox:` uses the database file `.reconciler/sandbox.db` under the current directory,
`sandbox:PATH` the file at PATH, and `sandbox::memory:` a database that lives as long as the
process. One application is kept per database, so several servers that name the same
database see one state, as they would on one real host.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import httpx
from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from reconciler.sandbox.app import create_app
from reconciler.sandbox.faults import DropConnection, Faults
from reconciler.sandbox.seed import Seed

DEFAULT_DB = os.path.join(".reconciler", "sandbox.db")
SANDBOX_BASE_URL = "http://sandbox.invalid"

_apps: dict[str, FastAPI] = {}
_lock = threading.Lock()


def db_path_of(url: str) -> str:
    """The database a `sandbox:` url names."""
    if not url.startswith("sandbox:"):
        raise ValueError(f"not a sandbox url: {url!r}")
    rest = url[len("sandbox:") :]
    if rest in ("", "//"):
        return str(Path(DEFAULT_DB).resolve())
    if rest == ":memory:":
        return ":memory:"
    return str(Path(rest).expanduser().resolve())


def app_for(url: str, seed: Seed | None = None, faults: Faults | None = None) -> FastAPI:
    """The shared application of the database named by `url`, created on first use."""
    path = db_path_of(url)
    with _lock:
        app = _apps.get(path)
        if app is None:
            app = create_app(path, seed=seed, faults=faults)
            _apps[path] = app
        return app


def forget(url: str | None = None) -> None:
    """Drop cached applications (all, or the one of `url`), closing their databases."""
    with _lock:
        keys = list(_apps) if url is None else [db_path_of(url)]
        for key in keys:
            app = _apps.pop(key, None)
            if app is not None:
                app.state.sandbox.db.close()


class SandboxTransport(httpx.AsyncBaseTransport):
    """Runs requests against the ASGI app in process, as a socket to a server would.

    A dropped connection becomes the `httpx.RemoteProtocolError` a client would see over a
    socket. An unhandled error in a handler answers the plain-text 500 that Starlette sends
    (as it would over HTTP), instead of raising into the client.
    """

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._inner = httpx.ASGITransport(app=self._as_server, raise_app_exceptions=True)

    async def _as_server(self, scope: Scope, receive: Receive, send: Send) -> None:
        complete = False

        async def tracking_send(message: Message) -> None:
            nonlocal complete
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                complete = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except DropConnection:
            raise
        except Exception as exc:
            if not complete:
                # Stopped mid-response: a server would close the connection.
                raise DropConnection("the application failed mid-response") from exc
            # Complete: Starlette's ServerErrorMiddleware sent its 500 before re-raising.

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self._inner.handle_async_request(request)
        except DropConnection as exc:
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body", request=request
            ) from exc


def transport(url: str, app: FastAPI | None = None) -> SandboxTransport:
    return SandboxTransport(app if app is not None else app_for(url))
