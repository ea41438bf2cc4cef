"""What the Kubiya apply lock reads: only the rows of its own type, so that taking it on a
server of thousands of integrations costs one small answer. The real adapter over the sandbox,
behind a transport that records each request's query."""

from __future__ import annotations

import asyncio

import pytest

from reconciler.errors import LockedError
from reconciler.model import ServerConfig, ServerKind
from reconciler.platforms.kubiya import KubiyaPlatform
from reconciler.sandbox.credentials import built_in
from tests.platforms.conftest import Recording


def platform(url: str) -> tuple[KubiyaPlatform, Recording]:
    wire = Recording(url)
    config = ServerConfig("k", ServerKind.KUBIYA, url, parallelism=4)
    return KubiyaPlatform(config, transport=wire, credentials=built_in("kubiya")), wire


async def _seed(kubiya: KubiyaPlatform, names: list[str]) -> None:
    for name in names:
        body = {"name": name, "integration_type": "redis", "config": {}, "tags": []}
        await kubiya.client.request("POST", "/api/v1/custom-integrations", json_body=body, ok=(201,))


def test_taking_the_lock_reads_only_rows_of_the_locks_type(url: str) -> None:
    async def go() -> tuple[list[str], list[str]]:
        kubiya, wire = platform(url)
        try:
            await _seed(kubiya, [f"i{n}" for n in range(30)])
            await kubiya.lock("me@host:1", 0.0)
            looks = wire.gets()
            names = [row["name"] for row in await kubiya._list()]
            await kubiya.unlock()
            return looks, names
        finally:
            await kubiya.aclose()

    looks, names = asyncio.run(go())
    assert looks == ["integration_type=reconciler-lock"]
    assert "reconciler-lock" in names


def test_a_lock_held_is_found_by_the_filtered_look(url: str) -> None:
    async def go() -> str:
        first, _ = platform(url)
        second, _ = platform(url)
        try:
            await _seed(first, ["a", "b"])
            await first.lock("first@host:1", 0.0)
            with pytest.raises(LockedError) as raised:
                await second.lock("second@host:2", 0.0)
            return str(raised.value)
        finally:
            await first.unlock()
            await first.aclose()
            await second.aclose()

    assert "another apply holds the lock 'reconciler-lock' (first@host:1/" in asyncio.run(go())
