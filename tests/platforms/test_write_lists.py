"""Writes that look at a server's list right before and after they write (the console's
channel replacements, Conductor's bulk saves) share those lists when they run side by side.
The real adapters and apply over the sandbox, behind a transport that counts list requests."""

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
from reconciler.platforms.conductor import ConductorPlatform
from reconciler.platforms.console import ConsolePlatform
from reconciler.sandbox.credentials import built_in
from reconciler.sandbox.transport import forget, transport

FAMILY_LIST = "/api/v1/console/agents/agt_demo/integrations/mcp_server"
PROVIDER_LIST = "/api/integrations/"


class Counting(httpx.AsyncBaseTransport):
    """The sandbox, counting the GETs of one list (`path`)."""

    def __init__(self, url: str, path: str) -> None:
        self.inner = transport(url)
        self.path = path
        self.lists = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path == self.path:
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
        wire = Counting(url, FAMILY_LIST)
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


def provider(n: int, description: str) -> Resource:
    body = {"type": "ollama", "description": description, "configuration": {"endpoint": "http://llm.internal"}}
    return Resource(Address(ResourceKind.PROVIDER, "o", (), f"p{n}"), body)


def test_bulk_saves_side_by_side_share_the_provider_lists(url: str) -> None:
    count, batch = 20, 2

    async def go() -> tuple[int, list[str], list[str]]:
        wire = Counting(url, PROVIDER_LIST)
        config = ServerConfig("o", ServerKind.CONDUCTOR, url, parallelism=16, batch_size=batch)
        conductor = ConductorPlatform(config, transport=wire, credentials=built_in("conductor"))
        try:
            await conductor.warm()
            first = [conductor.prepare(provider(n, "old")) for n in range(count)]
            await apply(make_plan(first, await conductor.read_live(first)), {"o": conductor})
            wanted = [conductor.prepare(provider(n, "new")) for n in range(count)]
            plan = make_plan(wanted, await conductor.read_live(wanted))
            assert [c.action for c in plan.changes] == [Action.UPDATE] * count
            wire.lists = 0
            result = await apply(plan, {"o": conductor})
            lists = wire.lists
            done = sorted(str(o.change.address.name) for o in result.outcomes if isinstance(o, Done))
            live = sorted(f"{r.address.name} {r.body['description']}" for r in await conductor.read_live(wanted))
            return lists, done, live
        finally:
            await conductor.aclose()

    lists, done, live = asyncio.run(go())
    assert done == sorted(f"p{n}" for n in range(count))
    assert live == sorted(f"p{n} new" for n in range(count))
    # One list before and one after each of the 10 bulk saves would be 20.
    assert lists < count // batch
