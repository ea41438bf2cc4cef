"""`FreshShared`: callers at the same time share one answer, and no caller gets an answer asked
for before it asked. Fetches are futures the test settles by hand, so the order of events is
the test's, not a clock's."""

from __future__ import annotations

import asyncio

import pytest

from reconciler.platforms.fresh import FreshShared


class Fetches:
    """A fetch whose answers the test gives: each call waits for its own future."""

    def __init__(self) -> None:
        self.started: list[asyncio.Future[str]] = []

    async def __call__(self) -> str:
        answer: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.started.append(answer)
        return await answer


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_callers_during_a_fetch_share_the_next_one() -> None:
    async def go() -> tuple[list[str], int]:
        fetches = Fetches()
        shared = FreshShared(fetches)
        first = asyncio.ensure_future(shared.get())
        await _settle()
        later = [asyncio.ensure_future(shared.get()) for _ in range(3)]
        await _settle()
        assert len(fetches.started) == 1  # the three wait for the next one, not started yet
        fetches.started[0].set_result("one")
        await _settle()
        fetches.started[1].set_result("two")
        answers = [await first, *[await t for t in later]]
        return answers, len(fetches.started)

    assert asyncio.run(go()) == (["one", "two", "two", "two"], 2)


def test_a_caller_never_gets_an_answer_begun_before_it_asked() -> None:
    async def go() -> list[str]:
        fetches = Fetches()
        shared = FreshShared(fetches)
        first = asyncio.ensure_future(shared.get())
        await _settle()
        second = asyncio.ensure_future(shared.get())
        await _settle()
        assert len(fetches.started) == 1
        fetches.started[0].set_result("one")
        await _settle()
        # The second fetch is under way; a caller now waits for a third.
        third = asyncio.ensure_future(shared.get())
        await _settle()
        assert len(fetches.started) == 2
        fetches.started[1].set_result("two")
        await _settle()
        fetches.started[2].set_result("three")
        return [await first, await second, await third]

    assert asyncio.run(go()) == ["one", "two", "three"]


def test_a_failed_fetch_fails_its_callers_and_the_next_caller_fetches_again() -> None:
    async def go() -> tuple[list[str], str]:
        fetches = Fetches()
        shared = FreshShared(fetches)
        callers = [asyncio.ensure_future(shared.get()) for _ in range(2)]
        await _settle()
        assert len(fetches.started) == 1
        fetches.started[0].set_result("one")
        await _settle()
        fetches.started[1].set_exception(RuntimeError("list failed"))
        first = await callers[0]
        with pytest.raises(RuntimeError, match="list failed"):
            await callers[1]
        again = asyncio.ensure_future(shared.get())
        await _settle()
        fetches.started[2].set_result("three")
        return [first], await again

    assert asyncio.run(go()) == (["one"], "three")


def test_a_cancelled_caller_leaves_the_answer_to_the_others() -> None:
    async def go() -> tuple[str, str]:
        fetches = Fetches()
        shared = FreshShared(fetches)
        starter = asyncio.ensure_future(shared.get())
        await _settle()
        # Both wait for the next fetch; one of them gives up.
        leaving = asyncio.ensure_future(shared.get())
        staying = asyncio.ensure_future(shared.get())
        await _settle()
        leaving.cancel()
        await _settle()
        assert len(fetches.started) == 1
        fetches.started[0].set_result("one")
        await _settle()
        fetches.started[1].set_result("two")
        return await starter, await staying

    assert asyncio.run(go()) == ("one", "two")


def test_a_fetch_cut_short_by_the_loops_end_starts_no_other_and_a_new_loop_fetches_anew() -> None:
    fetches = Fetches()
    shared = FreshShared(fetches)

    async def ends_mid_fetch() -> None:
        # A fetch under way and a caller waiting for the next when the run ends.
        callers = [asyncio.ensure_future(shared.get())]
        await _settle()
        callers.append(asyncio.ensure_future(shared.get()))
        await _settle()
        assert not any(c.done() for c in callers)

    asyncio.run(ends_mid_fetch())
    started_in_the_first_loop = len(fetches.started)

    async def again() -> str:
        caller = asyncio.ensure_future(shared.get())
        await _settle()
        assert len(fetches.started) == started_in_the_first_loop + 1
        fetches.started[-1].set_result("fresh")
        return await caller

    assert (started_in_the_first_loop, asyncio.run(again())) == (1, "fresh")
