"""The shared HTTP layer against the sandbox: retries, Retry-After, token refresh, idempotency,
and answers that are not JSON."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from reconciler.errors import PlatformError
from reconciler.model import Address, LiveResource, Resource, ResourceKind, ServerConfig, ServerKind
from reconciler.outcomes import Done, Outcome
from reconciler.plan import Action, Change, Reason
from reconciler.platforms.conductor import ConductorPlatform
from reconciler.platforms.console import ConsolePlatform
from reconciler.platforms.http import HttpClient
from reconciler.platforms.retry import RetryPolicy
from reconciler.sandbox.credentials import built_in
from reconciler.sandbox.faults import Faults
from reconciler.sandbox.transport import app_for, transport
from tests.platforms.conftest import warm_and_read


def test_expired_conductor_token_is_renewed_once_and_the_call_retried(url: str) -> None:
    platform = ConductorPlatform(ServerConfig("o", ServerKind.CONDUCTOR, url), transport=transport(url), credentials=built_in("conductor"))
    app = app_for(url)

    async def go() -> None:
        assert await platform.read([]) == []
        # Two hours later the token the client holds has expired on the server's clock.
        app.state.sandbox.clock = lambda: time.time() + 7200
        assert await platform.read([]) == []
        await platform.aclose()

    asyncio.run(go())
    assert platform.auth.exchanges == 2


def test_retry_after_is_honoured_on_429(url: str) -> None:
    app_for(url).state.sandbox.set_faults(Faults(rate_limit_rps=2))
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(seconds)

    async def go() -> list[int]:
        server = ServerConfig("k", ServerKind.KUBIYA, url, parallelism=4)
        async with HttpClient(server, retry=RetryPolicy(attempts=5), sleep=sleep, transport=transport(url)) as client:
            headers = {"Authorization": "Bearer sandbox-kubiya-token"}
            responses = await asyncio.gather(
                *(client.request("GET", "/api/v1/custom-integrations", headers=headers) for _ in range(4))
            )
            return [r.status_code for r in responses]

    assert asyncio.run(go()) == [200, 200, 200, 200]
    assert waits
    assert all(w == 1.0 for w in waits), waits


def test_retries_are_bounded_in_count(url: str) -> None:
    app = app_for(url)
    app.state.sandbox.set_faults(Faults(error_rate=1.0))

    async def go() -> HttpClient:
        server = ServerConfig("k", ServerKind.KUBIYA, url)
        client = HttpClient(server, retry=RetryPolicy(attempts=3, base=0.001, cap=0.002), transport=transport(url))
        with pytest.raises(PlatformError, match=r"answered 50[03]") as info:
            await client.request("GET", "/api/v1/custom-integrations")
        assert info.value.retryable
        await client.aclose()
        return client

    client = asyncio.run(go())
    assert client.requests == 3
    assert client.retries == 2
    assert app.state.sandbox.stats.to_dict()["total"] == 3


def test_retries_are_bounded_in_time(url: str) -> None:
    app = app_for(url)
    app.state.sandbox.set_faults(Faults(error_rate=1.0))
    # A clock that only the client's own waits move: the budget is spent by the backoff it asks
    # for, whatever the machine's load.
    now = [0.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    async def go() -> HttpClient:
        server = ServerConfig("k", ServerKind.KUBIYA, url)
        policy = RetryPolicy(attempts=1000, base=0.05, cap=0.05, budget=0.3)
        client = HttpClient(server, retry=policy, sleep=sleep, clock=lambda: now[0], transport=transport(url))
        with pytest.raises(PlatformError, match=r"answered 50[03]"):
            await client.request("GET", "/api/v1/custom-integrations")
        await client.aclose()
        return client

    client = asyncio.run(go())
    assert sum(waits) <= 0.3 + 1e-9  # the waits never pass the budget ...
    assert client.requests < 1000  # ... and the budget, not the attempt count, ended the call
    assert client.requests == len(waits) + 1
    assert app.state.sandbox.stats.to_dict()["total"] == client.requests


class DropFirstAnswer(httpx.AsyncBaseTransport):
    """Forwards every request to the sandbox, but loses the answer of the first write: the
    write is committed, the client hears nothing, exactly as a connection cut after commit."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.keys: list[str | None] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == "POST":
            self.keys.append(request.headers.get("Idempotency-Key"))
            if len(self.keys) == 1:
                await response.aread()
                raise httpx.ReadError("connection reset", request=request)
        return response


def test_retried_console_configure_makes_one_channel(url: str) -> None:
    dropper = DropFirstAnswer(transport(url))
    server = ServerConfig("c", ServerKind.CONSOLE, url)
    from reconciler.platforms.auth import BearerAuth as ApiKeyAuth

    client = HttpClient(server, ApiKeyAuth("sk_sandbox"), transport=dropper, retry=RetryPolicy(base=0.001, cap=0.001))
    platform = ConsolePlatform(server, client, credentials=built_in("console"))
    res = Resource(
        Address(ResourceKind.CHANNEL, "c", ("agt_demo", "mcp_server"), "docs"),
        {"server_url": "https://mcp.example.com", "transport": "streamable_http", "auth_type": "none"},
    )
    change = Change(res.address, Action.CREATE, Reason.NEW, desired=platform.prepare(res))

    async def go() -> tuple[Outcome, list[LiveResource]]:
        outcome = await platform.save(change)
        live = await platform.read([res])
        await platform.aclose()
        return outcome, live

    outcome, live = asyncio.run(go())
    assert isinstance(outcome, Done)
    assert len(dropper.keys) == 2
    assert dropper.keys[0] == dropper.keys[1]
    assert dropper.keys[0]
    assert [str(item.address) for item in live] == ["channel.c.agt_demo.mcp_server.docs"]


@pytest.mark.parametrize("body", [b"<html>oops</html>", b'[{"name": "trunc'])
def test_an_answer_that_is_not_json_is_a_clear_error(body: bytes) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    server = ServerConfig("k", ServerKind.KUBIYA, "http://kubiya.invalid")

    async def go() -> None:
        async with HttpClient(server, transport=httpx.MockTransport(handler)) as client:
            with pytest.raises(PlatformError, match="not valid JSON"):
                await client.get_json("/api/v1/custom-integrations")

    asyncio.run(go())


def items_of(body: bytes) -> list[object]:
    """The items `get_items` decodes from an answer of `body`, all iterated."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    server = ServerConfig("k", ServerKind.KUBIYA, "http://kubiya.invalid")

    async def go() -> list[object]:
        async with HttpClient(server, transport=httpx.MockTransport(handler)) as client:
            return list(await client.get_items("/api/v1/custom-integrations"))

    return asyncio.run(go())


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b" \n[ ]\r\n",
        b'[{"a": [1, 2.5, null, true], "b": {"c": "\\u00e9\\ud83d\\ude00"}}, "x", 3, [], {}]',
        b'\xef\xbb\xbf[ {"name" : "bom"} ,\n\t{"name": "two"} ]',
        '["caf\u00e9", "\u65e5\u672c"]'.encode("utf-16"),
    ],
)
def test_the_items_of_an_array_answer_are_what_the_whole_decodes_to(body: bytes) -> None:
    import json

    assert items_of(body) == json.loads(body)


@pytest.mark.parametrize(
    "body",
    [b'[{"a": 1}, {"b": ', b'[{"a": 1} {"b": 2}]', b'[{"a": 1}] trailing', b"[1, NaN]", b"[1,]", b"\xff[1]"],
)
def test_an_array_answer_that_breaks_part_way_is_a_clear_error(body: bytes) -> None:
    with pytest.raises(PlatformError, match="not valid JSON"):
        items_of(body)


def test_an_answer_that_is_not_an_array_is_refused_as_such() -> None:
    with pytest.raises(PlatformError, match=r"GET /api/v1/custom-integrations: expected a JSON array"):
        items_of(b'{"detail": "not a list"}')


class ListBeforeCatalog(httpx.AsyncBaseTransport):
    """The sandbox, answering the type catalog only once the provider list has been asked for
    (or after 10 s, for a client that asks one after the other, which the test then fails)."""

    def __init__(self, url: str) -> None:
        self.inner = transport(url)
        self.listed = asyncio.Event()
        self.catalog_waited_for_the_list: bool | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/integrations/":
            self.listed.set()
        elif request.url.path == "/api/integrations/def":
            try:
                await asyncio.wait_for(self.listed.wait(), 10)
                self.catalog_waited_for_the_list = True
            except TimeoutError:
                self.catalog_waited_for_the_list = False
        return await self.inner.handle_async_request(request)


def test_conductor_asks_for_its_list_while_its_catalog_is_read(url: str) -> None:
    wire = ListBeforeCatalog(url)
    platform = ConductorPlatform(
        ServerConfig("o", ServerKind.CONDUCTOR, url), transport=wire, credentials=built_in("conductor")
    )
    warm_and_read(platform)
    assert wire.catalog_waited_for_the_list is True


def test_a_conductor_that_refuses_the_key_is_asked_for_nothing_more(url: str) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(401, json={"message": "bad key"})

    server = ServerConfig("o", ServerKind.CONDUCTOR, "http://orkes.invalid")
    platform = ConductorPlatform(server, transport=httpx.MockTransport(handler), credentials=built_in("conductor"))

    async def go() -> None:
        try:
            with pytest.raises(PlatformError):
                await platform.warm()
        finally:
            await platform.aclose()

    asyncio.run(go())
    assert set(seen) == {"/api/token"}
