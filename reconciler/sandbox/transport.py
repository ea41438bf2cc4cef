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
    """Runs requests against the ASGI app in process; a dropped connection becomes the
    `httpx.RemoteProtocolError` a client would see over a socket."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._inner = httpx.ASGITransport(app=app, raise_app_exceptions=True)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self._inner.handle_async_request(request)
        except DropConnection as exc:
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body", request=request
            ) from exc


def transport(url: str, app: FastAPI | None = None) -> SandboxTransport:
    return SandboxTransport(app if app is not None else app_for(url))
