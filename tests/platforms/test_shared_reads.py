"""A live resource read alike its declared one holds the declared body (one copy in memory,
not two), and one that differs still holds exactly what the server has. The real Kubiya
adapter over the sandbox."""

from __future__ import annotations

import asyncio

from reconciler.apply import apply
from reconciler.model import Address, LiveResource, Resource, ResourceKind, ServerConfig, ServerKind
from reconciler.planner import make_plan
from reconciler.platforms.kubiya import KubiyaPlatform
from reconciler.sandbox.credentials import built_in
from reconciler.sandbox.transport import transport


def integ(name: str, description: str) -> Resource:
    body = {"type": "redis", "description": description, "config": {"env_vars": {"PORT": "6379"}}, "tags": ["t"]}
    return Resource(Address(ResourceKind.INTEGRATION, "k", (), name), body)


def written_then_read(
    url: str, written: list[Resource], declared: list[Resource]
) -> tuple[list[Resource], list[LiveResource]]:
    """`written` applied to the sandbox, then the live state read with `declared`."""
    config = ServerConfig("k", ServerKind.KUBIYA, url, parallelism=1)

    async def go() -> tuple[list[Resource], list[LiveResource]]:
        platform = KubiyaPlatform(config, transport=transport(url), credentials=built_in("kubiya"))
        try:
            first = [platform.prepare(r) for r in written]
            await apply(make_plan(first, await platform.read_live(first)), {"k": platform})
            prepared = [platform.prepare(r) for r in declared]
            return prepared, await platform.read_live(prepared)
        finally:
            await platform.aclose()

    return asyncio.run(go())


def test_a_live_resource_alike_its_declaration_holds_the_declared_body(url: str) -> None:
    prepared, live = written_then_read(url, [integ("a", "same")], [integ("a", "same")])
    (item,) = live
    assert item.body is prepared[0].body


def test_a_live_resource_that_differs_holds_the_servers_values(url: str) -> None:
    prepared, live = written_then_read(url, [integ("a", "old")], [integ("a", "new")])
    (item,) = live
    assert (item.body["description"], prepared[0].body["description"]) == ("old", "new")


def test_the_parts_alike_of_a_live_resource_that_differs_are_the_declared_ones(url: str) -> None:
    prepared, live = written_then_read(url, [integ("a", "old")], [integ("a", "new")])
    (item,) = live
    assert item.body["config"] is prepared[0].body["config"]


def test_a_declared_live_resource_holds_the_declared_address(url: str) -> None:
    prepared, live = written_then_read(url, [integ("a", "old")], [integ("a", "new")])
    (item,) = live
    assert item.address is prepared[0].address
