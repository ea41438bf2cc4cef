"""`FreshShared`: one answer shared by the callers that ask for it at about the same time, each
caller getting an answer that was asked for after it asked.

A write that must look at the server right before or after it (the console's channel list, the
only way to see a channel) asks for that look once per write: replacing a thousand channels of
one agent would list the agent's channels two thousand times, each list as long as the agent
has channels. Shared, the writes running side by side wait for the same next list: at most one
list of a kind is under way at a time, and every caller that asks meanwhile gets the one that
starts when it ends. A caller never gets a list that started before it asked, so each still
sees its own write and every write before it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class FreshShared(Generic[T]):
    """`get()` returns `fetch()`'s answer: the one under way if none is, else the next one."""

    def __init__(self, fetch: Callable[[], Awaitable[T]]) -> None:
        self._fetch = fetch
        self._running: asyncio.Future[T] | None = None
        # Promised to the callers that asked while `_running` was under way.
        self._queued: asyncio.Future[T] | None = None

    async def get(self) -> T:
        running = self._running
        if running is not None and running.get_loop() is not asyncio.get_running_loop():
            # Left by an event loop that has ended (a platform used again under a new one):
            # nothing will ever settle it.
            self._running = self._queued = None
        if self._running is None:
            answer = self._start()
        else:
            if self._queued is None:
                self._queued = asyncio.get_running_loop().create_future()
            answer = self._queued
        # Shielded: a caller that is cancelled leaves the answer to the others.
        return await asyncio.shield(answer)

    def _start(self) -> asyncio.Future[T]:
        running = asyncio.ensure_future(self._fetch())
        self._running = running
        running.add_done_callback(self._ended)
        return running

    def _ended(self, done: asyncio.Future[T]) -> None:
        self._running = None
        queued, self._queued = self._queued, None
        if done.cancelled():
            # Only the loop's end cancels a fetch (its callers are shielded from it): no
            # other is started then, and those waiting for one are cancelled too.
            if queued is not None:
                queued.cancel()
            return
        done.exception()  # retrieved here: its callers may all have gone
        if queued is not None:
            self._start().add_done_callback(lambda answer: _settle(queued, answer))


def _settle(promised: asyncio.Future[T], answer: asyncio.Future[T]) -> None:
    if promised.done():
        return
    if answer.cancelled():
        promised.cancel()
    elif (exc := answer.exception()) is not None:
        promised.set_exception(exc)
        promised.exception()  # retrieved here too, as in `_ended`
    else:
        promised.set_result(answer.result())
