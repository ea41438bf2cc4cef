"""Fault injection and request statistics, as an ASGI middleware in front of the three APIs.

Faults apply to the API paths only, never to `/_sandbox/...`:
- `latency_ms` (+ up to `jitter_ms` more, uniformly random) before each request is handled;
  the requests whose delay has run out are then handled one per turn of the event loop (`Turns`);
- `error_rate`: that fraction of requests answered 500 or 503 (alternating by chance) *before*
  the handler runs, so nothing is written;
- `rate_limit_rps`: above that many requests in the current one-second window, 429 with
  `Retry-After`, `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset`;
- `drop_before_rate`: that fraction of requests has its connection dropped before the handler
  runs (nothing written); `drop_after_rate`: dropped after the handler committed its write
  (the write stands, the client never hears of it). Drops only hit writes (POST/PUT/DELETE);
- by count rather than by chance or by the clock, so that a test injects the same faults on a
  loaded machine as on an idle one: `throttle_every` answers every N-th API request 429
  (with `Retry-After: retry_after_s`), `error_every` every N-th 500 or 503 (alternating), and
  `drop_after_every` drops every N-th write that reaches its handler after it committed;
- `echo_error_rate`: that fraction of writes answered 500 *before* the handler runs, with an
  error message that echoes the request body as text, base64 and URL-encoded, as careless
  servers do (Conductor's sign-in excepted): for testing that no secret sent in a body comes
  out of the client in any form.

Injected errors take the shape of the API the path belongs to (see `_error`).

A drop is made by starting a response that promises a body and then aborting: over real HTTP
the client sees a connection closed mid-response; in process the transport turns it into the
same `httpx` error.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import json
import math
import random
import secrets
import socket
import time
import urllib.parse
import weakref
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

WRITE_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH"})


class DropConnection(Exception):
    """Raised by the middleware to abort a response mid-way, as a dropped connection."""


@dataclass
class Faults:
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    error_rate: float = 0.0
    rate_limit_rps: float = 0.0
    drop_before_rate: float = 0.0
    drop_after_rate: float = 0.0
    throttle_every: int = 0
    error_every: int = 0
    drop_after_every: int = 0
    retry_after_s: float = 1.0
    echo_error_rate: float = 0.0
    seed: int | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Faults:
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
        out = cls()
        for key, value in data.items():
            # bool is an int to Python, but `true` is no number of milliseconds or a rate.
            if key == "seed":
                if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                    raise ValueError(f"fault setting seed={value!r} must be an integer or null")
                out.seed = value
                continue
            if key in _COUNTS:
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ValueError(f"fault setting {key}={value!r} must be a whole number, 0 for off")
                setattr(out, key, value)
                continue
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise ValueError(f"fault setting {key}={value!r} must be a number")
            try:
                number = float(value)
            except ValueError:
                raise ValueError(f"fault setting {key}={value!r} must be a number") from None
            if not math.isfinite(number) or number < 0 or (key.endswith("_rate") and number > 1):
                raise ValueError(f"fault setting {key}={value!r} is out of range")
            setattr(out, key, number)
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FaultCounts:
    """What the count-based faults count: API requests, and writes that reached their handler."""

    requests: int = 0
    writes: int = 0


@dataclass
class Stats:
    requests: Counter[str]
    by_method: Counter[str]
    by_status: Counter[str]
    injected: Counter[str]

    @classmethod
    def empty(cls) -> Stats:
        return cls(Counter(), Counter(), Counter(), Counter())

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": sum(self.by_method.values()),
            # Started and not yet answered (or dropped): what a killed client left running.
            "in_flight": sum(self.by_method.values()) - sum(self.requests.values()),
            "by_method": dict(sorted(self.by_method.items())),
            "by_route": dict(sorted(self.requests.items())),
            "by_status": dict(sorted(self.by_status.items())),
            "injected": dict(sorted(self.injected.items())),
        }


class Turns:
    """One event loop's requests whose injected latency has run out, let through one per turn
    of the loop.

    A network holds a request for its round trip while the server goes on reading; the sandbox
    holds it in the server. Were the requests whose delay ends in one turn handled back to
    back, the requests arriving meanwhile would be read only after all of them, and their delay
    would start that much late: a parallel client would wait the latency plus a whole wave's
    handling on every round trip, in waves that never fall out of step (an ideal client with
    64 connections took the latency floor plus all of the server's CPU time). Between two
    handlings the loop reads what has arrived, so each delay starts when its request does."""

    # The loop is never held: the middleware keeps one Turns per loop in a weak mapping, and
    # a value holding its key would keep every loop that ever served a request alive.
    def __init__(self) -> None:
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()
        self._scheduled = False

    def wait(self) -> asyncio.Future[None]:
        """Done at this request's turn: after those that waited before it, each in a turn of
        its own. Called from the loop it belongs to."""
        loop = asyncio.get_running_loop()
        turn: asyncio.Future[None] = loop.create_future()
        self._waiting.append(turn)
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._next)
        return turn

    def _next(self) -> None:
        while self._waiting:
            turn = self._waiting.popleft()
            # A cancelled wait (its client went away) gives its turn to the next.
            if not turn.done():
                turn.set_result(None)
                break
        self._scheduled = bool(self._waiting)
        if self._scheduled:
            asyncio.get_running_loop().call_soon(self._next)


class FaultMiddleware:
    """Counts every API request and injects the configured faults."""

    def __init__(self, app: ASGIApp, state: Any) -> None:
        self.app = app
        # `state` is the Sandbox object: read `faults` and `stats` on every request so that the
        # admin endpoint can change them while the server runs.
        self.state = state
        self._window = 0
        self._window_count = 0
        # Per loop: the in-process transport may serve from more than one.
        self._turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Turns] = weakref.WeakKeyDictionary()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sandbox"):
            await self.app(scope, receive, send)
            return
        stats: Stats = self.state.stats
        method = scope["method"]
        stats.by_method[method] += 1

        status_box: dict[str, int] = {}

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_box["status"] = message["status"]
            await send(message)

        try:
            await self._delay()
            self.state.counts.requests += 1
            if await self._refuse(scope, receive, counting_send, send):
                return
            await self.app(scope, receive, self._answering(scope, send, counting_send))
        except DropConnection:
            raise
        except Exception:
            # ServerErrorMiddleware, outside this one, answers it with a plain 500.
            status_box.setdefault("status", 500)
            raise
        finally:
            stats.requests[f"{method} {_template(scope)}"] += 1
            stats.by_status[str(status_box.get("status", "dropped"))] += 1

    async def _delay(self) -> None:
        faults: Faults = self.state.faults
        if faults.latency_ms or faults.jitter_ms:
            delay = faults.latency_ms + self.state.rng.uniform(0, faults.jitter_ms)
            await asyncio.sleep(delay / 1000.0)
            loop = asyncio.get_running_loop()
            turns = self._turns.get(loop)
            if turns is None:
                turns = self._turns[loop] = Turns()
            await turns.wait()

    async def _refuse(self, scope: Scope, receive: Receive, answer: Send, send: Send) -> bool:
        """Answer the request with an injected fault instead of the API, when one is due (by
        count first, then by the rate limit, then by chance); whether it did."""
        faults: Faults = self.state.faults
        stats: Stats = self.state.stats
        rng: random.Random = self.state.rng
        requests = self.state.counts.requests
        if faults.throttle_every and requests % faults.throttle_every == 0:
            stats.injected["429"] += 1
            await _error(scope, answer, 429, _throttle_headers(faults.retry_after_s, 0))
            return True
        if faults.error_every and requests % faults.error_every == 0:
            status = 500 if (requests // faults.error_every) % 2 else 503
            stats.injected[str(status)] += 1
            await _error(scope, answer, status)
            return True
        if faults.rate_limit_rps and self._over_rate_limit(faults.rate_limit_rps):
            stats.injected["429"] += 1
            await _error(scope, answer, 429, _rate_limit_headers(int(faults.rate_limit_rps)))
            return True
        if faults.error_rate and rng.random() < faults.error_rate:
            status = rng.choice((500, 503))
            stats.injected[str(status)] += 1
            await _error(scope, answer, status)
            return True
        is_write = scope["method"] in WRITE_METHODS
        # Sign-in stays possible (Conductor's token is a POST): resource writes only.
        echoing = is_write and scope["path"] != "/api/token"
        if echoing and faults.echo_error_rate and rng.random() < faults.echo_error_rate:
            stats.injected["echo"] += 1
            await _error(scope, answer, 500, echo=await _whole_body(receive))
            return True
        if is_write and faults.drop_before_rate and rng.random() < faults.drop_before_rate:
            stats.injected["drop_before"] += 1
            await _drop(send)
        return False

    def _over_rate_limit(self, rps: float) -> bool:
        """Counts the request in its one-second window; whether the window is over `rps`."""
        now = int(time.monotonic())
        if now != self._window:
            self._window, self._window_count = now, 0
        self._window_count += 1
        return self._window_count > rps

    def _answering(self, scope: Scope, send: Send, answer: Send) -> Send:
        """How the API's answer is sent: as it is, or (a dropped answer) the connection closed
        once the write is done and before the answer starts."""
        faults: Faults = self.state.faults
        counts: FaultCounts = self.state.counts
        if scope["method"] not in WRITE_METHODS:
            return answer
        counts.writes += 1
        drop_now = bool(faults.drop_after_every) and counts.writes % faults.drop_after_every == 0
        if not (drop_now or (faults.drop_after_rate and self.state.rng.random() < faults.drop_after_rate)):
            return answer
        self.state.stats.injected["drop_after"] += 1

        async def dropping_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                await _drop(send)

        return dropping_send


async def _whole_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        chunk: bytes = message.get("body", b"")
        body += chunk
        if not message.get("more_body"):
            return body


def _rate_limit_headers(limit: int) -> list[tuple[bytes, bytes]]:
    reset = int(time.time()) + 1
    return [
        (b"retry-after", b"1"),
        (b"x-ratelimit-limit", str(limit).encode()),
        (b"x-ratelimit-remaining", b"0"),
        (b"x-ratelimit-reset", str(reset).encode()),
    ]


_COUNTS = frozenset({"throttle_every", "error_every", "drop_after_every"})


def _throttle_headers(retry_after: float, limit: int) -> list[tuple[bytes, bytes]]:
    return [
        (b"retry-after", f"{retry_after:g}".encode()),
        (b"x-ratelimit-limit", str(limit).encode()),
        (b"x-ratelimit-remaining", b"0"),
        (b"x-ratelimit-reset", str(int(time.time()) + max(1, math.ceil(retry_after))).encode()),
    ]


_REASONS = {429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}
_CONSOLE_CODES = {429: "rate_limited", 500: "internal_error", 503: "service_unavailable"}


async def _error(
    scope: Scope, send: Send, status: int, headers: list[tuple[bytes, bytes]] | None = None, echo: bytes | None = None
) -> None:
    """An injected error in the shape of the API the path belongs to: Kubiya's FastAPI answers
    a 5xx in plain text and a 429 as `{"detail"}`; Conductor its `{status, message, instance,
    retryable}`; the console its `{message, error, code, statusCode, request_id}` with the
    `X-Request-Id` header."""
    path: str = scope["path"]
    reason = _REASONS[status]
    extra = list(headers or [])
    if echo is not None:
        text = echo.decode("utf-8", "replace")
        reason = (
            f"could not process the request {text} "
            f"(base64 {base64.b64encode(echo).decode()}; form {urllib.parse.quote(text, safe='')})"
        )
    if path.startswith("/api/v1/custom-integrations") and echo is not None:
        content_type, body = b"application/json", json.dumps({"detail": reason}).encode()
    elif path.startswith("/api/v1/custom-integrations"):
        if status == 429:
            content_type, body = b"application/json", json.dumps({"detail": reason}).encode()
        else:
            content_type, body = b"text/plain; charset=utf-8", reason.encode()
    elif path.startswith("/api/v1/console"):
        request_id = "req_" + secrets.token_hex(12)
        payload = {
            "message": reason,
            "error": reason,
            "code": "internal_error" if echo is not None else _CONSOLE_CODES[status],
            "statusCode": status,
            "request_id": request_id,
        }
        content_type, body = b"application/json", json.dumps(payload).encode()
        extra.append((b"x-request-id", request_id.encode()))
    else:
        payload = {"status": status, "message": reason, "instance": socket.gethostname(), "retryable": True}
        content_type, body = b"application/json", json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *extra],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _template(scope: Scope) -> str:
    """The route template of a request (`/x/{id}`), also when a fault answered before routing."""
    path = getattr(scope.get("route"), "path", None)
    if isinstance(path, str):
        return path
    for route in _flat_routes(getattr(scope.get("app"), "routes", ())):
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(scope["path"]):
            return str(route.path)
    return str(scope["path"])


def _flat_routes(routes: Any) -> Iterator[Any]:
    # Recent FastAPI versions wrap an included router instead of copying its routes; the
    # sandbox includes its routers without a prefix, so their own paths are the full ones.
    for route in routes:
        nested = getattr(getattr(route, "original_router", None), "routes", None)
        if nested is None:
            yield route
        else:
            yield from _flat_routes(nested)


async def _drop(send: Send) -> None:
    """Promise a body, then abort: the peer sees the connection close mid-response."""
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
        }
    )
    await send({"type": "http.response.body", "body": b"{", "more_body": True})
    raise DropConnection("connection dropped by fault injection")
