"""The console's writes look at their family's channel list right before and after each write;
writes side by side share those lists. The real adapter and apply over the sandbox, behind a
transport that counts the list requests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from reconciler.apply import apply
from reconciler.model import Address, Resource, ResourceKind, ServerConfig, ServerKind
from reconciler.outcomes import Done
from reconciler.plan import Action
from reconciler.planner import make_plan
from reconciler.platforms.console import ConsolePlatform
from reconciler.sandbox.credentials import built_in
from reconciler.sandbox.transport import forget, transport

FAMILY_LIST = "/api/v1/console/agents/agt_demo/integrations/mcp_server"


class Counting(httpx.AsyncBaseTransport):
    """The sandbox, counting the GETs of the family's list."""

    def __init__(self, url: str) -> None:
        self.inner = transport(url)
        self.lists = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path == FAMILY_LIST:
            self.lists += 1
        return await self.inner.handle_async_request(request)


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    u = f"sandbox:{tmp_path / 'sandbox.db'}"
    yield u
    forget(u)


def channel(n: int, server_url: str) -> Resource:
    body = {"server_url": server_url, "transport": "streamable_http", "auth_type": "none"}
    return Resource(Address(ResourceKind.CHANNEL, "c", ("agt_demo", "mcp_server"), f"docs-{n}"), body)


def test_replacing_many_channels_side_by_side_shares_the_lists(url: str) -> None:
    count = 20

    async def go() -> tuple[int, list[str], list[str]]:
        wire = Counting(url)
        config = ServerConfig("c", ServerKind.CONSOLE, url, parallelism=16)
        console = ConsolePlatform(config, transport=wire, credentials=built_in("console"))
        try:
            first = [console.prepare(channel(n, "https://old.example")) for n in range(count)]
            await apply(make_plan(first, await console.read_live(first)), {"c": console})
            wanted = [console.prepare(channel(n, "https://new.example")) for n in range(count)]
            plan = make_plan(wanted, await console.read_live(wanted))
            assert [c.action for c in plan.changes] == [Action.REPLACE] * count
            wire.lists = 0
            result = await apply(plan, {"c": console})
            lists = wire.lists
            done = sorted(str(o.change.address.name) for o in result.outcomes if isinstance(o, Done))
            live = sorted(f"{r.address.name} {r.body['server_url']}" for r in await console.read_live(wanted))
            return lists, done, live
        finally:
            await console.aclose()

    lists, done, live = asyncio.run(go())
    assert done == sorted(f"docs-{n}" for n in range(count))
    assert live == sorted(f"docs-{n} https://new.example" for n in range(count))
    # One list before each disconnect and one after each configure would be 40.
    assert lists < count
