"""Of the adapter tests: a transport to the sandbox of a test's `url` (tests/conftest.py) that
keeps each request's method, path and query (`Recording`)."""

from __future__ import annotations

import httpx

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
