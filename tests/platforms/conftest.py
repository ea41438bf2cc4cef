"""Of the adapter tests: a transport to the sandbox of a test's `url` (tests/conftest.py) that
keeps each request's method, path and query (`Recording`), and a platform warmed and read as a
run does (`warm_and_read`)."""

from __future__ import annotations

import asyncio

import httpx

from reconciler.platforms.base import Platform
from reconciler.sandbox.transport import transport


class Recording(httpx.AsyncBaseTransport):
    """The in-process sandbox of `url`, keeping `(method, path, query)` of every request."""

    def __init__(self, url: str) -> None:
        self.inner = transport(url)
        self.requests: list[tuple[str, str, str]] = []

    def record(self, request: httpx.Request) -> None:
        self.requests.append((request.method, request.url.path, request.url.query.decode()))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.record(request)
        return await self.inner.handle_async_request(request)

    def gets(self, path: str | None = None) -> list[str]:
        """The queries of the GETs so far (of `path` only, when given)."""
        return [q for m, p, q in self.requests if m == "GET" and (path is None or p == path)]


def warm_and_read(platform: Platform) -> None:
    """Warm, then read with nothing declared, as a run does; the platform closed after."""

    async def body() -> None:
        try:
            await platform.warm()
            await platform.read_live([])
        finally:
            await platform.aclose()

    asyncio.run(body())
