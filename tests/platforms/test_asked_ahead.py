"""Reads asked for ahead (`base.AskedAhead`): what `warm` starts is what `read` takes, asked
for once; the Kubiya adapter's lists asked for by `warm` over the in-process sandbox; and reads
made side by side (`base.gather_or_cancel`): one that fails takes the others down with it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from reconciler.errors import PlatformError
from reconciler.model import CHANNEL_FAMILIES, Address, Resource, ResourceKind, ServerConfig, ServerKind
from reconciler.platforms.base import AskedAhead, Platform
from reconciler.platforms.console import ConsolePlatform
from reconciler.platforms.kubiya import KubiyaPlatform
from reconciler.sandbox.credentials import built_in
from tests.platforms.conftest import Recording, warm_and_read


class Fetches:
    """A fetch that counts its calls and answers `answer`."""

    def __init__(self, answer: str | None = "asked") -> None:
        self.calls = 0
        self.answer = answer

    async def __call__(self) -> str | None:
        self.calls += 1
        return self.answer


def taken(ahead: Fetches | None, now: Fetches, times: int = 1) -> list[str | None]:
    """What `take` answers, `times` over, once `ahead` was asked for (when one is given)."""

    async def go() -> list[str | None]:
        asked = AskedAhead[str | None]()
        if ahead is not None:
            await asked.start(ahead())
        return [await asked.take(now) for _ in range(times)]

    return asyncio.run(go())


def test_take_answers_what_was_asked_for_ahead_without_asking_again() -> None:
    ahead, now = Fetches("ahead"), Fetches("now")
    got = taken(ahead, now)
    assert (got, ahead.calls, now.calls) == (["ahead"], 1, 0)


def test_take_asks_now_when_nothing_was_asked_for_ahead() -> None:
    now = Fetches("now")
    got = taken(None, now)
    assert (got, now.calls) == (["now"], 1)


def test_an_answer_ahead_is_taken_once() -> None:
    assert taken(Fetches("ahead"), Fetches("now"), times=2) == ["ahead", "now"]


def test_an_answer_ahead_of_none_means_ask_now() -> None:
    assert taken(Fetches(None), Fetches("now")) == ["now"]


def test_a_failure_ahead_is_raised_by_take() -> None:
    async def failing() -> str:
        raise RuntimeError("the list failed")

    async def body() -> None:
        asked = AskedAhead[str | None]()
        await asked.start(failing())
        with pytest.raises(RuntimeError, match="the list failed"):
            await asked.take(Fetches("now"))

    asyncio.run(body())


def test_drop_cancels_what_was_asked_for_and_not_taken() -> None:
    outcome: list[str] = []

    async def body() -> None:
        waiting = asyncio.Event()

        async def slow() -> str:
            waiting.set()
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                outcome.append("cancelled")
                raise
            return "late"

        asked = AskedAhead[str]()
        await asked.start(slow())
        await waiting.wait()
        await asked.drop()

    asyncio.run(body())
    assert outcome == ["cancelled"]


def test_kubiya_reads_the_lists_warm_asked_for_once(url: str) -> None:
    wire = Recording(url)
    kubiya = KubiyaPlatform(
        ServerConfig("k", ServerKind.KUBIYA, url), transport=wire, credentials=built_in("kubiya")
    )
    warm_and_read(kubiya)
    assert sorted(wire.gets()) == ["", "status=deleted"]


class OneListFails(httpx.AsyncBaseTransport):
    """Refuses the lists `refused` picks at once; holds every other until it is cancelled,
    counting the cancelled ones."""

    def __init__(self, refused: Callable[[httpx.Request], bool]) -> None:
        self.refused = refused
        self.cancelled = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.refused(request):
            return httpx.Response(400, json={"detail": "no"})
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        raise AssertionError("unreachable")


def _cancelled_when_the_read_fails(platform: Platform, wire: OneListFails, warm: bool) -> int:
    """The lists cancelled by the time the read has failed (not later, when the platform
    closes or the loop ends, which would cancel what was left running anyway)."""
    cancelled = -1

    async def body() -> None:
        nonlocal cancelled
        try:
            if warm:
                await platform.warm()
            with pytest.raises(PlatformError):
                # Bounded only so that a read which waits for a held list fails here
                # instead of hanging the run.
                async with asyncio.timeout(10):
                    await platform.read_live([CHANNEL])
            cancelled = wire.cancelled
        finally:
            await platform.aclose()

    asyncio.run(body())
    return cancelled


CHANNEL = Resource(
    Address(ResourceKind.CHANNEL, "c", ("agt_demo", "mcp_server"), "docs"),
    {"server_url": "https://docs.example", "transport": "streamable_http", "auth_type": "none"},
)


def test_a_kubiya_list_that_fails_takes_the_other_down_with_it(url: str) -> None:
    wire = OneListFails(lambda r: r.url.params.get("status") == "deleted")
    kubiya = KubiyaPlatform(
        ServerConfig("k", ServerKind.KUBIYA, url), transport=wire, credentials=built_in("kubiya")
    )
    assert _cancelled_when_the_read_fails(kubiya, wire, warm=True) == 1


def test_a_console_family_list_that_fails_takes_the_others_down_with_it(url: str) -> None:
    wire = OneListFails(lambda r: r.url.path.endswith("/mcp_server"))
    console = ConsolePlatform(
        ServerConfig("c", ServerKind.CONSOLE, url), transport=wire, credentials=built_in("console")
    )
    assert _cancelled_when_the_read_fails(console, wire, warm=False) == len(CHANNEL_FAMILIES) - 1
