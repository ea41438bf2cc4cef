"""Bounded work against servers that fail: the circuit breaker, the deadline, retries that do
not nest, Retry-After as a date, and what a create reports when its answers were errors or
were lost. The real adapters over the sandbox, with a transport in between that breaks things;
every assertion is on outcomes and request counts."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from reconciler.apply import apply
from reconciler.errors import PlatformError, ServerDownError
from reconciler.model import Address, Resource, ResourceKind, ServerConfig, ServerKind
from reconciler.outcomes import Done, Failed, Skipped
from reconciler.planner import make_plan
from reconciler.platforms.conductor import ConductorPlatform
from reconciler.platforms.http import BREAKER_THRESHOLD, HttpClient
from reconciler.platforms.kubiya import KubiyaPlatform
from reconciler.platforms.retry import RetryPolicy
from reconciler.sandbox.credentials import built_in
from tests.platforms.conftest import Recording

Breaker = Callable[[httpx.Request, int], httpx.Response | None]


class Breaking(Recording):
    """The sandbox behind `breaker(request, n)`, which may answer (or raise) in its place;
    `n` counts the requests so far. Every request is recorded (`seen`: by method and path)."""

    def __init__(self, url: str, breaker: Breaker) -> None:
        super().__init__(url)
        self.breaker = breaker

    @property
    def seen(self) -> Counter[tuple[str, str]]:
        return Counter((method, path) for method, path, _ in self.requests)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.record(request)
        answer = self.breaker(request, len(self.requests))
        if answer is not None:
            return answer
        return await self.inner.handle_async_request(request)


FAST = RetryPolicy(base=0.001, cap=0.002)


def kubiya(url: str, breaker: Breaker, **server: Any) -> tuple[KubiyaPlatform, Breaking]:
    config = ServerConfig("k", ServerKind.KUBIYA, url, parallelism=1, **server)
    wire = Breaking(url, breaker)
    platform = KubiyaPlatform(config, transport=wire, credentials=built_in("kubiya"))
    platform.client = HttpClient(config, platform.client.auth, retry=FAST, transport=wire)
    return platform, wire


def integ(name: str) -> Resource:
    body = {"type": "redis", "description": "", "config": {}, "tags": []}
    return Resource(Address(ResourceKind.INTEGRATION, "k", (), name), body)


def apply_all(platform: KubiyaPlatform, names: list[str]) -> list[object]:
    async def go() -> list[object]:
        prepared = [platform.prepare(integ(n)) for n in names]
        plan = make_plan(prepared, await platform.read(prepared))
        result = await apply(plan, {"k": platform})
        await platform.aclose()
        return list(result.outcomes)

    return asyncio.run(go())


def refused() -> httpx.Response:
    raise httpx.ConnectError("[Errno 111] Connection refused")


def test_a_server_that_dies_mid_apply_trips_the_breaker_and_the_rest_is_skipped(url: str) -> None:
    # Two list reads for the plan, then three creates succeed, then the port is closed.
    platform, wire = kubiya(url, lambda request, n: refused() if n > 5 else None)
    outcomes = apply_all(platform, [f"i{n:02d}" for n in range(12)])
    done = [o for o in outcomes if isinstance(o, Done)]
    failed = [o for o in outcomes if isinstance(o, Failed)]
    skipped = [o for o in outcomes if isinstance(o, Skipped)]
    assert (len(done), len(failed), len(skipped)) == (3, 1, 8)
    # Nothing reached the server after it died: no change is "maybe carried out".
    assert not failed[0].unknown
    assert "connection refused: nothing listens on that port" in failed[0].message
    assert {s.reason for s in skipped} == {
        f"not started: server 'k' is unreachable ({BREAKER_THRESHOLD} connection failures in a row)"
    }
    assert sum(wire.seen.values()) == 5 + BREAKER_THRESHOLD


def test_no_request_is_started_once_the_deadline_has_passed(url: str) -> None:
    platform, wire = kubiya(url, lambda request, n: None, deadline=1e-9)

    async def go() -> None:
        with pytest.raises(ServerDownError, match="the deadline of 1e-09s for server 'k' has passed"):
            await platform.read([])
        await platform.aclose()

    asyncio.run(go())
    assert sum(wire.seen.values()) == 0


def test_the_token_exchange_is_one_try_of_the_request_it_serves(url: str) -> None:
    config = ServerConfig("o", ServerKind.CONDUCTOR, url)
    wire = Breaking(url, lambda request, n: httpx.Response(503, json={"message": "down"}))
    platform = ConductorPlatform(config, transport=wire, credentials=built_in("conductor"))
    platform.client = HttpClient(config, platform.auth, retry=FAST, transport=wire)

    async def go() -> None:
        with pytest.raises(PlatformError, match="answered 503"):
            await platform.read([])
        await platform.aclose()

    asyncio.run(go())
    # One retry loop: the exchange's tries are the request's tries, not tries within tries.
    assert wire.seen == Counter({("POST", "/api/token"): FAST.attempts})


def test_one_retry_budget_serves_every_call_of_the_command(url: str) -> None:
    # Three retries in all for this server: the first call spends them, the second gets one try.
    config = ServerConfig("k", ServerKind.KUBIYA, url, parallelism=1)
    wire = Breaking(url, lambda request, n: httpx.Response(503, json={"detail": "busy"}))
    platform = KubiyaPlatform(config, transport=wire, credentials=built_in("kubiya"))
    platform.client = HttpClient(config, platform.client.auth, retry=RetryPolicy(base=0.001, cap=0.002, total=3), transport=wire)
    tries: list[int] = []

    async def go() -> None:
        for _ in range(2):
            before = sum(wire.seen.values())
            with pytest.raises(PlatformError, match="answered 503"):
                await platform.client.request("GET", "/api/v1/custom-integrations")
            tries.append(sum(wire.seen.values()) - before)
        await platform.aclose()

    asyncio.run(go())
    assert tries == [1 + 3, 1]


@pytest.mark.parametrize(
    ("retry_after", "tries"),
    [("Wed, 21 Oct 2015 07:28:00 GMT", 2), ("Fri, 01 Jan 2100 00:00:00 GMT", 1)],
    ids=["date-passed", "date-too-far"],
)
def test_retry_after_as_an_http_date(url: str, retry_after: str, tries: int) -> None:
    def limited(request: httpx.Request, n: int) -> httpx.Response | None:
        if n == 1:
            return httpx.Response(429, headers={"Retry-After": retry_after}, json={"detail": "slow down"})
        return None

    platform, wire = kubiya(url, limited)

    async def go() -> None:
        try:
            await platform.client.request("GET", "/api/v1/custom-integrations")
        except PlatformError:
            pass
        await platform.aclose()

    asyncio.run(go())
    assert sum(wire.seen.values()) == tries


def test_a_create_answered_with_5xx_reports_the_answers(url: str) -> None:
    def failing_posts(request: httpx.Request, n: int) -> httpx.Response | None:
        if request.method == "POST":
            return httpx.Response(500, text="Internal Server Error")
        return None

    platform, _ = kubiya(url, failing_posts)
    (outcome,) = apply_all(platform, ["x"])
    assert isinstance(outcome, Failed)
    assert outcome.unknown
    assert outcome.message == (
        "POST /api/v1/custom-integrations: no success after 6 tries (HTTP 500 ×6); "
        "it may have been written; the next plan will tell"
    )


def test_a_lost_create_whose_read_back_fails_may_have_been_written(url: str) -> None:
    def lost_then_down(request: httpx.Request, n: int) -> httpx.Response | None:
        if n <= 2:
            return None  # the plan's two reads
        if request.method == "POST":
            raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")
        return httpx.Response(502, text="Bad Gateway")

    platform, _ = kubiya(url, lost_then_down)
    (outcome,) = apply_all(platform, ["x"])
    assert isinstance(outcome, Failed)
    assert outcome.unknown
    assert outcome.message.startswith("POST /api/v1/custom-integrations: no answer; reading it back then failed")
    assert outcome.message.endswith("it may have been written; the next plan will tell")
