"""Each adapter parses a server's list rows at one boundary, `from_wire`: a row of the wrong
shape raises `WireShapeError` (which `read_live` turns into a clear error), a good one gives the
body in the spec's canonical shape."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import WireShapeError
from reconciler.kinds import kubiya as kinds_kubiya
from reconciler.live import connect
from reconciler.model import ServerConfig, ServerKind
from reconciler.platforms import Platform
from reconciler.platforms.conductor import ConductorPlatform
from reconciler.platforms.console import ConsolePlatform
from reconciler.platforms.kubiya import KubiyaPlatform
from reconciler.sandbox.transport import forget


@pytest.fixture
def platforms(tmp_path: Path) -> Iterator[dict[ServerKind, Platform]]:
    url = f"sandbox:{tmp_path / 'sandbox.db'}"
    made = {kind: connect(ServerConfig(kind.value, kind, url)) for kind in ServerKind}
    yield made

    async def close() -> None:
        for p in made.values():
            await p.aclose()

    asyncio.run(close())
    forget(url)


@pytest.mark.parametrize(
    "row",
    [
        1,
        {"name": "x"},
        {"id": "1", "name": 5},
        {"id": "1", "name": "x", "tags": [1]},
        {"id": "1", "name": "x", "config": "c"},
    ],
)
def test_kubiya_refuses_a_row_of_the_wrong_shape(platforms: dict[ServerKind, Platform], row: Any) -> None:
    kubiya = platforms[ServerKind.KUBIYA]
    assert isinstance(kubiya, KubiyaPlatform)
    with pytest.raises(WireShapeError):
        kubiya.from_wire(row)


def test_kubiya_reads_a_row_into_the_canonical_body(platforms: dict[ServerKind, Platform]) -> None:
    kubiya = platforms[ServerKind.KUBIYA]
    assert isinstance(kubiya, KubiyaPlatform)
    row = {"id": "1", "name": "x", "integration_type": "pg", "config": {"files": [{"path": "/a"}]}, "status": "deleted"}
    live = kubiya.from_wire(row)
    assert live.deleted
    assert live.body == kinds_kubiya.canonical({"type": "pg", "config": {"files": [{"path": "/a"}]}})


@pytest.mark.parametrize(
    "row",
    [1, {"name": 5}, {"name": "p", "apis": [1]}, {"name": "p", "apis": [{"api": 2}]}, {"name": "p", "tags": 3}],
)
def test_conductor_refuses_a_row_of_the_wrong_shape(platforms: dict[ServerKind, Platform], row: Any) -> None:
    conductor = platforms[ServerKind.CONDUCTOR]
    assert isinstance(conductor, ConductorPlatform)
    with pytest.raises(WireShapeError):
        conductor.from_wire(row)


@pytest.mark.parametrize(
    ("family", "row"), [("mcp_server", 1), ("mcp_server", {"name": "x"}), ("custom_api", {"id": "1", "config": "x"})]
)
def test_console_refuses_a_row_of_the_wrong_shape(platforms: dict[ServerKind, Platform], family: str, row: Any) -> None:
    console = platforms[ServerKind.CONSOLE]
    assert isinstance(console, ConsolePlatform)
    with pytest.raises(WireShapeError):
        console.from_wire("agt", family, row)
