"""Fixtures of the adapter tests: a sandbox database per test (`url`), and a transport to it
that keeps each request's method, path and query (`Recording`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from reconciler.sandbox.transport import forget, transport


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    """A `sandbox:` url of a database in the test's own directory, forgotten afterwards."""
    u = f"sandbox:{tmp_path / 'sandbox.db'}"
    yield u
    forget(u)


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
