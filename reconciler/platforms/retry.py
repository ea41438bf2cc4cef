"""The one retry policy, the rate limiter, and the server's own word on when to try again
(`Retry-After`)."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

import httpx

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """The one retry policy: every loop that tries again (a request, a Kubiya create, the
    apply lock's polling, a webhook post) waits and stops by it. Passed in, never patched.

    `attempts`: tries in all; `base`/`cap`: backoff bounds in seconds (full jitter);
    `budget`: total seconds one call may spend retrying; `max_retry_after`: longest server-asked wait honoured;
    `total`: retries one client (one server, one command) may make in all, whatever the calls."""

    attempts: int = 6
    base: float = 0.05
    cap: float = 2.0
    budget: float = 60.0
    max_retry_after: float = 30.0
    total: int = 500

    def delay(self, attempt: int) -> float:
        """The wait after try number `attempt` (from 1). Full jitter: spreads the retries of
        many parallel calls apart."""
        return random.uniform(0, min(self.cap, self.base * (2 ** (max(1, attempt) - 1))))


class RateLimiter:
    """Spaces request starts evenly at `rate` per second (0 = unlimited)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self.interval:
            return
        async with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        delay = start - now
        if delay > 0:
            await asyncio.sleep(delay)


def retry_after(response: httpx.Response) -> float | None:
    """`Retry-After` in seconds: a number of seconds, or an HTTP date (RFC 9110)."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())
