"""Writes that look at a server's list right before and after they write (the console's
channel replacements, Conductor's bulk saves) share those lists when they run side by side.
The real adapters and apply over the sandbox, behind a transport that records the requests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from reconciler.apply import apply
from reconciler.model import Address, LiveResource, Resource, ResourceKind, ServerConfig, ServerKind
from reconciler.outcomes import Done
from reconciler.plan import Action
from reconciler.planner import make_plan
from reconciler.platforms import Platform
from reconciler.platforms.conductor import ConductorPlatform
from reconciler.platforms.console import ConsolePlatform
from reconciler.sandbox.credentials import built_in
from tests.platforms.conftest import Recording

FAMILY_LIST = "/api/v1/console/agents/agt_demo/integrations/mcp_server"
PROVIDER_LIST = "/api/integrations/"


async def rewritten(
    platform: Platform,
    wire: Recording,
    before: list[Resource],
    after: list[Resource],
    action: Action,
    listed: str,
    shown: Callable[[LiveResource], str],
) -> tuple[int, list[str], list[str]]:
    """`before` applied, then `after` planned (every change `action`) and applied: the GETs
    of the list `listed` the second apply made, the names it reports done, and the live
    state afterwards as `shown`."""
    server = platform.server.name
    try:
        await platform.warm()  # as a run does before it prepares
        first = [platform.prepare(r) for r in before]
        await apply(make_plan(first, await platform.read_live(first)), {server: platform})
        wanted = [platform.prepare(r) for r in after]
        plan = make_plan(wanted, await platform.read_live(wanted))
        assert [c.action for c in plan.changes] == [action] * len(wanted)
        looked = len(wire.gets(listed))
        result = await apply(plan, {server: platform})
        lists = len(wire.gets(listed)) - looked
        done = sorted(o.change.address.name for o in result.outcomes if isinstance(o, Done))
        live = sorted(shown(r) for r in await platform.read_live(wanted))
        return lists, done, live
    finally:
        await platform.aclose()


def channel(n: int, server_url: str) -> Resource:
    body = {"server_url": server_url, "transport": "streamable_http", "auth_type": "none"}
    return Resource(Address(ResourceKind.CHANNEL, "c", ("agt_demo", "mcp_server"), f"docs-{n}"), body)


def test_replacing_many_channels_side_by_side_shares_the_lists(url: str) -> None:
    count = 20
    wire = Recording(url)
    config = ServerConfig("c", ServerKind.CONSOLE, url, parallelism=16)
    console = ConsolePlatform(config, transport=wire, credentials=built_in("console"))
    lists, done, live = asyncio.run(
        rewritten(
            console,
            wire,
            [channel(n, "https://old.example") for n in range(count)],
            [channel(n, "https://new.example") for n in range(count)],
            Action.REPLACE,
            FAMILY_LIST,
            lambda r: f"{r.address.name} {r.body['server_url']}",
        )
    )
    assert done == sorted(f"docs-{n}" for n in range(count))
    assert live == sorted(f"docs-{n} https://new.example" for n in range(count))
    # One list before each disconnect and one after each configure would be 40.
    assert lists < count


def provider(n: int, description: str) -> Resource:
    body = {"type": "ollama", "description": description, "configuration": {"endpoint": "http://llm.internal"}}
    return Resource(Address(ResourceKind.PROVIDER, "o", (), f"p{n}"), body)


def test_bulk_saves_side_by_side_share_the_provider_lists(url: str) -> None:
    count, batch = 20, 2
    wire = Recording(url)
    config = ServerConfig("o", ServerKind.CONDUCTOR, url, parallelism=16, batch_size=batch)
    conductor = ConductorPlatform(config, transport=wire, credentials=built_in("conductor"))

    lists, done, live = asyncio.run(
        rewritten(
            conductor,
            wire,
            [provider(n, "old") for n in range(count)],
            [provider(n, "new") for n in range(count)],
            Action.UPDATE,
            PROVIDER_LIST,
            lambda r: f"{r.address.name} {r.body['description']}",
        )
    )
    assert done == sorted(f"p{n}" for n in range(count))
    assert live == sorted(f"p{n} new" for n in range(count))
    # One list before and one after each of the 10 bulk saves would be 20.
    assert lists < count // batch
