"""The one HTTP client every adapter talks through.

Per server it gives: a timeout on every call; retries with exponential backoff and jitter on
connection errors, 429 and 5xx, honouring `Retry-After`, bounded in count and in total time; a
parallelism limit (semaphore) and a rate limit (evenly spaced request starts); pluggable auth
(Kubiya bearer token, Conductor's exchanged JWT refreshed on expiry, the console's API key).
Every httpx exception is translated here into the project's `PlatformError` family, with
messages that never hold a secret value (server bodies are reduced to their message fields).
Beside it: `auth` (credentials on a request), `retry` (the one retry policy, the rate limiter,
`Retry-After`), `answers` (what an answer or a failed connection says), `transports` (TLS
contexts, the transport of a url), `h1` (the transport of a server reached directly) and
`netstream` (a proxy's connections on asyncio's sockets).

A `sandbox:` server's requests go to the transport passed in (the in-process sandbox's, which
the composition root opens): this layer knows no sandbox.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

import httpx
import orjson

from reconciler.errors import PlatformError, ServerDownError, UnreachableError
from reconciler.model import ServerConfig
from reconciler.platforms.answers import WRITE_METHODS, connection_cause, decode, decode_items, refusal, where
from reconciler.platforms.auth import Auth
from reconciler.platforms.h1 import H1Transport
from reconciler.platforms.retry import RETRY_STATUSES, RateLimiter, RetryPolicy, retry_after
from reconciler.platforms.transports import (
    IN_PROCESS_BASE_URL,
    is_direct,
    no_tls_context,
    on_asyncio_sockets,
    sniffio_absent_once,
    ssl_context,
    transport_of,
)

# Connections per httpx pool (see HttpClient.__init__).
POOL_SIZE = 4
# Connection failures in a row after which a server is given up for the rest of the command.
BREAKER_THRESHOLD = 3

# Headers about the wire form of an answer, dropped from the answer rebuilt around its decoded body.
_FRAMING_HEADERS = frozenset({b"content-encoding", b"content-length", b"transfer-encoding"})
# Parsed urls kept per client: the paths of a bulk apply repeat (one collection path per kind).
_URL_CACHE = 256
# httpx's logger: its request lines are logged here as its client logs them.
_httpx_log = logging.getLogger("httpx")


class HttpClient:
    """An async client for one server. Use as `async with HttpClient(...) as client:`."""

    def __init__(
        self,
        server: ServerConfig,
        auth: Auth | None = None,
        *,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        sniffio_absent_once()
        self.server = server
        self.auth = auth or Auth()
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        # The retry budget is measured on this clock; tests pass one that only sleeps advance.
        self._clock = clock
        self.requests = 0
        self.retries = 0
        base_url = server.url.rstrip("/")
        if server.is_sandbox:
            if transport is None:
                raise PlatformError(
                    f"server {server.name!r}: a `sandbox:` url is served in process, and no sandbox was passed in",
                    hint="connect through reconciler.live.connect, which opens the sandbox of the url",
                )
            base_url = IN_PROCESS_BASE_URL
        timeout = httpx.Timeout(server.timeout, connect=min(server.timeout, 10.0))
        headers = {"User-Agent": "reconciler", "Accept": "application/json"}
        parallelism = max(1, server.parallelism)
        if transport is not None:
            pools = 1
            per_pool = parallelism
        else:
            # httpcore scans every connection of a pool for each request it places; with many
            # connections in one pool that scan dominates an apply's CPU time. Several small
            # pools, each request sent to the least busy one, keep it short.
            pools = -(-parallelism // POOL_SIZE)
            per_pool = min(parallelism, POOL_SIZE)

        # Only an https server needs the CA bundle; loading it is a measurable part of a short
        # command's start. Over http (or the in-process sandbox) a context that trusts nothing
        # is given instead: no redirect is followed, so no TLS connection can ever be made.
        verify = ssl_context() if transport is None and base_url.startswith("https:") else no_tls_context()

        def make_client() -> httpx.AsyncClient:
            return httpx.AsyncClient(
                base_url=base_url,
                transport=transport,
                timeout=timeout,
                limits=httpx.Limits(max_connections=per_pool, max_keepalive_connections=per_pool),
                follow_redirects=False,
                headers=headers,
                # One shared context: httpx would load the CA bundle again for every client.
                verify=verify,
            )

        # Pools are made on first use: a plan's few list calls need one or two of them.
        self._make_client = make_client
        self._clients: list[httpx.AsyncClient | None] = [None] * pools
        # What every request of this client reuses (see send_once): each pool's transport (the
        # one httpx picks for the server, a proxy from the environment included), the headers
        # the clients send by default (lower-cased name -> (name, value)), the timeouts, the
        # parsed urls of recent paths, and one cookie jar.
        self._transports: list[httpx.AsyncBaseTransport | None] = [None] * pools
        # Where requests to the server itself go, once the first pool found that no proxy is
        # in the way (see _open_pool).
        self._direct: H1Transport | None = None
        self._passed_in = transport is not None
        self._verify = verify
        self._parallelism = parallelism
        self._default_headers: dict[str, tuple[str, str]] | None = None
        self._extensions = {"timeout": timeout.as_dict()}
        self._url_prefix = base_url
        self._urls: dict[str, httpx.URL] = {}
        self._cookies = httpx.Cookies()
        self._has_cookies = False
        self._busy = [0] * pools
        self._slots = asyncio.Semaphore(parallelism)
        self._rate = RateLimiter(server.rate_limit)
        self._base_url = server.url.rstrip("/")
        # One deadline and one retry budget for everything this command does with the server.
        self._deadline_at = self._clock() + server.deadline
        self._retries_left = self.retry.total
        self._max_bytes = int(server.max_response_mb * 1024 * 1024)
        # Circuit breaker: connection failures in a row; once open, no request is started.
        self._failures_in_a_row = 0
        self.down: str | None = None
        self.writes_sent = 0

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._direct is not None:
            # The clients only named the transport: their own pools never opened a connection,
            # and closing one imports anyio's asyncio backend, ~40 ms at the end of a command.
            await self._direct.aclose()
            return
        await asyncio.gather(*(c.aclose() for c in self._clients if c is not None))

    def url_of(self, path: str) -> str:
        """The full url of a path, for messages (the path alone for the in-process sandbox)."""
        return path if self.server.is_sandbox else f"{self._base_url}{path}"

    @property
    def where(self) -> str:
        """`servers.NAME.url at FILE:LINE:COL`, for hints."""
        return where(self.server)

    def remaining(self) -> float:
        return self._deadline_at - self._clock()

    def _check_up(self, method: str, path: str) -> None:
        if self.down is not None:
            raise ServerDownError(f"{method} {self.url_of(path)}: not sent: {self.down}")
        if self.remaining() <= 0:
            raise ServerDownError(
                f"{method} {self.url_of(path)}: not sent: the deadline of {self.server.deadline:g}s for server "
                f"{self.server.name!r} has passed",
                hint=f"raise `deadline` of servers.{self.server.name} if the server is slow but working",
            )

    def _connection_failed(self) -> None:
        self._failures_in_a_row += 1
        if self._failures_in_a_row >= BREAKER_THRESHOLD and self.down is None:
            self.down = (
                f"server {self.server.name!r} is unreachable ({self._failures_in_a_row} connection failures in a row)"
            )

    async def send_once(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        authenticated: bool = True,
    ) -> httpx.Response:
        """One request, no retries, bounded as a whole by the server's `timeout` (connecting,
        sending, and reading the whole answer, which may not exceed `max_response_mb`).
        Connection failures and timeouts become `UnreachableError`."""
        self._check_up(method, path)
        extra: dict[str, str] = dict(headers) if headers else {}
        if authenticated:
            extra.update(await self.auth.headers(self))
            self._check_up(method, path)
        content = None
        if json_body is not None:
            content = orjson.dumps(json_body)
            extra["Content-Type"] = "application/json"
        async with self._slots:
            if self._rate.interval:
                await self._rate.wait()
            self._check_up(method, path)
            remaining = self.remaining()
            limit = max(0.001, min(self.server.timeout, remaining))
            # Whether this try is cut short by the server's deadline rather than its timeout.
            by_deadline = remaining < self.server.timeout
            self.requests += 1
            busy = self._busy
            pool = busy.index(min(busy)) if len(busy) > 1 else 0
            transport = self._transports[pool]
            if transport is None:
                transport = self._open_pool(pool)
            busy[pool] += 1
            started_write = False
            try:
                async with asyncio.timeout(limit):
                    request = self._build_request(method, path, params, extra, content)
                    started_write = method in WRITE_METHODS
                    # The pool's transport directly: AsyncClient.send would add per request
                    # what this client never uses (auth flows, redirects, event hooks) and
                    # parse every answer for cookies, the largest part of its overhead.
                    response = await transport.handle_async_request(request)
                    response.request = request
                    try:
                        body = await self._read_body(response, method, path)
                    except httpx.DecodingError as exc:
                        # The answer came (a write was carried out), its body not in the
                        # content coding it names.
                        if started_write:
                            self.writes_sent += 1
                        raise PlatformError(
                            f"{method} {self.url_of(path)}: the answer's body does not decode as its "
                            f"Content-Encoding says ({type(exc).__name__})",
                            status=response.status_code,
                        ) from exc
                    finally:
                        await response.aclose()
            except (TimeoutError, httpx.TransportError) as exc:
                what = f"{method} {self.url_of(path)}"
                raise self._unreachable(exc, what, limit, by_deadline, started_write) from exc
            finally:
                busy[pool] -= 1
        if started_write:
            self.writes_sent += 1
        self._failures_in_a_row = 0
        return self._answer(request, response, body)

    def _unreachable(
        self, exc: BaseException, what: str, limit: float, by_deadline: bool, started_write: bool
    ) -> UnreachableError:
        """The error of a try that got no complete answer, counted against the server's circuit;
        `sent`: whether a write may have reached it."""
        self._connection_failed()
        name = self.server.name
        if isinstance(exc, TimeoutError):
            if started_write:
                self.writes_sent += 1
            if by_deadline:
                return UnreachableError(
                    f"{what}: no complete answer from {name} before the deadline of {self.server.deadline:g}s "
                    f"for server {name!r}",
                    retryable=True,
                    sent=started_write,
                    hint=f"raise `deadline` of servers.{name} if the server is slow but working",
                )
            return UnreachableError(
                f"{what}: no complete answer from {name} within {limit:g}s",
                retryable=True,
                sent=started_write,
                hint=f"raise `timeout` of servers.{name} if the server is slow but working",
            )
        if isinstance(exc, httpx.TimeoutException):
            sent = not isinstance(exc, httpx.ConnectTimeout) and started_write
            return UnreachableError(f"{what}: no answer from {name} within {limit:g}s", retryable=True, sent=sent)
        cause, sent = connection_cause(exc)
        sent = sent and started_write
        if sent:
            self.writes_sent += 1
        return UnreachableError(
            f"{what}: connection to {name} failed: {cause}", retryable=True, sent=sent, hint=f"check {self.where}"
        )

    def _answer(self, request: httpx.Request, response: httpx.Response, body: bytes) -> httpx.Response:
        """The answer rebuilt around its decoded body (framing headers dropped), logged as
        httpx logs it, its cookies kept for the next requests."""
        if _httpx_log.isEnabledFor(logging.INFO):
            # The line httpx's client logs for every request (shown by --debug).
            _httpx_log.info(
                'HTTP Request: %s %s "%s %d %s"',
                request.method,
                request.url,
                response.http_version,
                response.status_code,
                response.reason_phrase,
            )
        kept = []
        sets_cookie = False
        for name, value in response.headers.raw:
            lower = name.lower()
            if lower == b"set-cookie":
                sets_cookie = True
            if lower not in _FRAMING_HEADERS:
                kept.append((name, value))
        if sets_cookie:
            self._cookies.extract_cookies(response)
            self._has_cookies = True
        return httpx.Response(response.status_code, headers=kept, content=body, request=request)

    def _open_pool(self, pool: int) -> httpx.AsyncBaseTransport:
        """The transport of pool number `pool`, made on first use. When the first pool's client
        would send to the server itself (no proxy from the environment, no transport passed
        in), every pool sends through one `H1Transport` instead; a proxy keeps httpx's own
        transport, on asyncio's sockets."""
        transport: httpx.AsyncBaseTransport
        if self._direct is not None:
            transport = self._direct
        else:
            client = self._clients[pool] = self._make_client()
            if self._default_headers is None:
                self._default_headers = {k.decode().lower(): (k.decode(), v.decode()) for k, v in client.headers.raw}
            transport = transport_of(client)
            if not self._passed_in and is_direct(client, transport):
                transport = self._direct = H1Transport(self._verify, max_idle=self._parallelism)
            else:
                on_asyncio_sockets(transport)
        self._transports[pool] = transport
        return transport

    def _build_request(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        extra: Mapping[str, str],
        content: bytes | None,
    ) -> httpx.Request:
        """The request AsyncClient.build_request would make (base url joined, the client's
        default headers updated with `extra`, its timeouts, its cookies), with the parsed url of
        a path and the default headers reused rather than merged anew."""
        url = self._urls.get(path)
        if url is None:
            if len(self._urls) >= _URL_CACHE:
                self._urls.clear()
            url = self._urls[path] = httpx.URL(f"{self._url_prefix}/{path.lstrip('/')}")
        assert self._default_headers is not None
        merged = self._default_headers.copy()
        for name, value in extra.items():
            merged[name.lower()] = (name, value)
        request = httpx.Request(
            method, url, params=params, headers=list(merged.values()), content=content, extensions=self._extensions
        )
        if self._has_cookies:
            self._cookies.set_cookie_header(request)
        return request

    async def _read_body(self, response: httpx.Response, method: str, path: str) -> bytes:
        """The whole (decoded) answer, refused once it grows past `max_response_mb`."""
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self._max_bytes:
                raise PlatformError(
                    f"{method} {self.url_of(path)}: the answer is larger than {self.server.max_response_mb:g} MiB; "
                    "stopped reading it",
                    status=response.status_code,
                    hint=f"raise `max_response_mb` of servers.{self.server.name} if the server really holds that much",
                )
            chunks.append(chunk)
        return b"".join(chunks)

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        retry: bool = True,
        address: str | None = None,
        ok: tuple[int, ...] = (200, 201, 204),
        authenticated: bool = True,
    ) -> httpx.Response:
        """A request with retries on connection errors, 429 and 5xx (when `retry`), and one
        credential refresh on 401/403. Answers with a status in `ok` are returned; a 4xx not in
        `ok` raises `PlatformError` (or `AuthError`) unless the caller lists it in `ok`.

        Retries never nest: obtaining credentials (the Conductor token exchange) is one try of
        the request it serves, and every try counts against the server's one deadline and one
        retry budget. Once the server's circuit is open, no further try is started."""
        started = self._clock()
        attempt = 0
        refreshed = False
        while True:
            attempt += 1
            try:
                response = await self.send_once(
                    method, path, json_body=json_body, params=params, headers=headers, authenticated=authenticated
                )
            except ServerDownError as exc:
                exc.address = address
                raise
            except PlatformError as exc:
                # A connection failure, or a retryable answer to the credential exchange.
                exc.address = address
                if not exc.retryable or not retry or self.down is not None:
                    raise
                if not self._may_retry(attempt, started, None):
                    raise
                await self._backoff(attempt, None, started)
                continue
            status = response.status_code
            if status in ok:
                return response
            if status in (401, 403) and authenticated and not refreshed:
                refreshed = True
                if await self.auth.refresh_on(self, response):
                    continue
            if status in RETRY_STATUSES and retry and self._may_retry(attempt, started, response):
                await self._backoff(attempt, response, started)
                continue
            raise self.error_for(method, path, response, address)

    def error_for(self, method: str, path: str, response: httpx.Response, address: str | None) -> PlatformError:
        """The error of an answer that is not a success (see `answers.refusal`)."""
        return refusal(self.server, f"{method} {self.url_of(path)}", method, path, response, address)

    def _may_retry(self, attempt: int, started: float, response: httpx.Response | None) -> bool:
        if attempt >= self.retry.attempts or self._retries_left <= 0 or self.down is not None:
            return False
        wait = retry_after(response) if response is not None else None
        if wait is not None and wait > self.retry.max_retry_after:
            return False
        if (wait or 0.0) >= self.remaining():
            return False
        return self._clock() - started + (wait or 0.0) < self.retry.budget

    async def _backoff(self, attempt: int, response: httpx.Response | None, started: float | None = None) -> None:
        self.retries += 1
        self._retries_left -= 1
        wait = retry_after(response) if response is not None else None
        if wait is None:
            wait = self.retry.delay(attempt)
            if started is not None:
                # The last wait never carries the call past its budget.
                wait = min(wait, max(0.0, self.retry.budget - (self._clock() - started)))
        await self._sleep(max(0.0, min(wait, self.remaining())))

    async def backoff(self, attempt: int) -> None:
        """Wait before try number `attempt + 1` of a call the caller retries itself."""
        await self._backoff(max(1, attempt), None)

    async def poll(self, attempt: int, limit: float) -> None:
        """Wait before look number `attempt + 1` at something another party holds (the apply
        lock): the policy's backoff, at most `limit` seconds, not counted as a retry."""
        await self._sleep(max(0.0, min(self.retry.delay(attempt), limit)))

    async def get_json(self, path: str, *, params: Mapping[str, str] | None = None, address: str | None = None) -> Any:
        response = await self.request("GET", path, params=params, address=address)
        return decode(response, f"GET {path}")

    async def get_items(
        self, path: str, *, params: Mapping[str, str] | None = None, address: str | None = None
    ) -> Iterator[Any]:
        """The items of a JSON array answer, decoded as they are iterated (see `decode_items`)."""
        response = await self.request("GET", path, params=params, address=address)
        return decode_items(response, f"GET {path}")


def quote(segment: str) -> str:
    """A path segment, percent-encoded so that names with `/`, `?` or unicode stay one segment.

    A segment that is `.` or `..` is encoded too: left plain, url normalization would drop it
    or climb to the parent (`DELETE .../integration/..` would address the provider itself).
    """
    from urllib.parse import quote as _quote

    if segment in (".", ".."):
        return segment.replace(".", "%2E")
    return _quote(segment, safe="")
