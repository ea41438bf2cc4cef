"""`H1Transport`: HTTP/1.1 with keep-alive straight over asyncio's sockets, the transport of
every client that talks to a server directly (a proxy from the environment keeps httpx's own).

httpx's transport sends each request through httpcore's pool (a scan of the pool per request,
an event and a lock per request, each request's state machine in h11): about 0.4 ms of CPU per
request, more than half of what an apply spends per write, enough to keep an apply of
thousands of writes from its latency floor. This transport does the same job in a few tens of
microseconds: idle connections on a stack (the last one used is taken first), the request
written with one call, the answer's head parsed at once from what the loop received (see
`netstream.Connection`), its body framed as RFC 9112 says (length, chunked, or up to the
close). It answers with an `httpx.Response` whose body is a stream, so httpx decodes it (gzip,
deflate) and everything above it is unchanged.

The server is not trusted: an answer's head is bounded (`MAX_HEAD`), its status line and
fields are checked, a body whose length is unclear (two lengths, an unknown transfer coding) is
refused, and a connection is only reused when its answer ended exactly where its framing says.
Errors are httpx's, as its own transport raises them (`ConnectError`, `ReadTimeout`,
`RemoteProtocolError`, ...).
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections.abc import AsyncIterator, Callable

import httpx

from reconciler.platforms.netstream import Connection, open_connection, wait

# The largest answer head (status line and fields) read before the answer is refused.
MAX_HEAD = 64 * 1024
# The longest chunk-size line of a chunked body (the size, its extensions).
MAX_CHUNK_LINE = 4 * 1024
# The most bytes a body read hands on at once.
READ_SIZE = 64 * 1024
# How long a TCP connect waits for the other address family (as in RFC 8305).
HAPPY_EYEBALLS_DELAY = 0.25
# How long a connection is kept idle (httpx's own pool keeps one 5 s): a middlebox may drop an
# idle flow silently, and a request written into it would wait its whole read timeout.
KEEPALIVE_EXPIRY = 5.0
# The most digits of a Content-Length taken as a number (10^18 bytes is more than any answer).
MAX_LENGTH_DIGITS = 18

_END_OF_HEAD = re.compile(rb"\r?\n\r?\n")
_STATUS_LINE = re.compile(rb"HTTP/(\d)\.(\d) ([0-9]{3})(?: (.*))?")
_TOKEN = re.compile(rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
# Control characters a field value may not hold (RFC 9110 5.5: HTAB is the one allowed).
_NOT_IN_FIELD = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
_DEFAULT_PORTS = {b"http": 80, b"https": 443}

# How an answer's body ends.
_NONE, _LENGTH, _CHUNKED, _CLOSE = range(4)

Key = tuple[bytes, bytes, int]


class H1Transport(httpx.AsyncBaseTransport):
    """HTTP/1.1 connections to any number of servers, at most `max_idle` of them kept idle per
    server. `ssl_context` verifies https servers (their name checked, as it says)."""

    def __init__(
        self, ssl_context: ssl.SSLContext, *, max_idle: int = 64, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ssl = ssl_context
        self._max_idle = max_idle
        self._clock = clock
        # Idle connections per server, the one used last at the end, each with when it was
        # given back.
        self._idle: dict[Key, list[tuple[Connection, float]]] = {}
        # Connections carrying a request or an answer: aborted by `aclose`.
        self._busy: set[Connection] = set()
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.raw_scheme
        if scheme not in _DEFAULT_PORTS:
            what = scheme.decode(errors="replace")
            raise httpx.UnsupportedProtocol(f"the url's scheme {what!r} is not http or https")
        host = url.raw_host
        key = (scheme, host, url.port or _DEFAULT_PORTS[scheme])
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        message = _request_bytes(request, await request.aread())
        conn = self._take_idle(key) or await self._connect(key, timeouts.get("connect"))
        self._busy.add(conn)
        try:
            if conn.closed or conn.opened.is_closing():
                raise conn.lost(httpx.WriteError)
            conn.opened.write(message)
            if conn.drain is not None:
                await wait(conn.drain, timeouts.get("write"), httpx.WriteTimeout)
            read_timeout = timeouts.get("read")
            while True:
                version, status, reason, fields = await _read_head(conn, read_timeout)
                # An interim answer (100 Continue, 103 Early Hints) is followed by the real one.
                if not 100 <= status < 200:
                    break
                if status == 101:
                    raise httpx.RemoteProtocolError("the server switched protocols, which was not asked for")
            framing, length, reusable = _framing(request.method, version, status, fields)
        except BaseException:
            self.drop(conn)
            raise
        body = _Body(self, key, conn, framing, length, reusable, read_timeout)
        return httpx.Response(
            status,
            headers=fields,
            stream=body,
            extensions={"http_version": b"HTTP/1.%d" % version, "reason_phrase": reason},
        )

    def _take_idle(self, key: Key) -> Connection | None:
        """The idle connection used last, leaving out those the server closed or wrote on and
        those idle too long."""
        idle = self._idle.get(key)
        while idle:
            conn, since = idle.pop()
            if self._clock() - since > KEEPALIVE_EXPIRY or conn.readable():
                self.drop(conn, clean=True)
                continue
            return conn
        return None

    def drop(self, conn: Connection, *, clean: bool = False) -> None:
        """Ends a connection that will not be used again: closed when it ended cleanly (what
        was written still goes out), aborted otherwise (a server that stopped reading cannot
        keep the socket open)."""
        self._busy.discard(conn)
        if clean:
            conn.opened.close()
        else:
            conn.opened.abort()

    def give_back(self, key: Key, conn: Connection) -> None:
        """A connection whose answer was read to its end, kept for the next request."""
        self._busy.discard(conn)
        if self._closed or conn.eof or conn.buffer or conn.opened.is_closing():
            self.drop(conn, clean=True)
            return
        idle = self._idle.setdefault(key, [])
        if len(idle) >= self._max_idle:
            # The one idle longest makes room.
            self.drop(idle.pop(0)[0], clean=True)
        idle.append((conn, self._clock()))

    async def _connect(self, key: Key, timeout: float | None) -> Connection:
        scheme, raw_host, port = key
        host = raw_host.decode("ascii")
        tls = self._ssl if scheme == b"https" else None
        loop = asyncio.get_running_loop()
        _, conn = await open_connection(
            lambda protocol: loop.create_connection(
                protocol,
                host,
                port,
                ssl=tls,
                server_hostname=host if tls is not None else None,
                happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY,
            ),
            f"{host}:{port}",
            timeout,
            (httpx.ConnectTimeout, httpx.ConnectError),
        )
        return conn

    async def aclose(self) -> None:
        """Closes the idle connections and aborts those still in use."""
        self._closed = True
        idle, self._idle = self._idle, {}
        for connections in idle.values():
            for conn, _ in connections:
                self.drop(conn, clean=True)
        for conn in list(self._busy):
            self.drop(conn)


def _request_bytes(request: httpx.Request, body: bytes) -> bytes:
    """The request as it goes on the wire: request line, fields (checked: no field can end
    early and start another), the body."""
    method = request.method.encode("ascii", errors="replace")
    if not _TOKEN.fullmatch(method):
        raise httpx.LocalProtocolError(f"the request method {request.method!r} is not valid HTTP")
    parts = [method, b" ", request.url.raw_path, b" HTTP/1.1\r\n"]
    chunked = False
    for name, value in request.headers.raw:
        if not _TOKEN.fullmatch(name) or _NOT_IN_FIELD.search(value):
            raise httpx.LocalProtocolError(f"the request field {name.decode(errors='replace')!r} is not valid HTTP")
        if name.lower() == b"transfer-encoding":
            chunked = True
        parts += (name, b": ", value, b"\r\n")
    parts.append(b"\r\n")
    if chunked:
        # httpx asks for chunks when it does not know the length beforehand; the body is read
        # whole already, so it is one chunk.
        if body:
            parts += (b"%x\r\n" % len(body), body, b"\r\n")
        parts.append(b"0\r\n\r\n")
    else:
        parts.append(body)
    return b"".join(parts)


async def _more(conn: Connection, timeout: float | None) -> None:
    """Waits until the loop has received more of the answer; the end of the stream is an error
    (a caller for whom it is not reads `conn.eof` first)."""
    if conn.eof:
        if conn.error is not None:
            raise conn.lost(httpx.ReadError)
        raise httpx.RemoteProtocolError("the server closed the connection before the answer was complete")
    await conn.arrival(timeout, httpx.ReadTimeout)


async def _read_head(conn: Connection, timeout: float | None) -> tuple[int, int, bytes, list[tuple[bytes, bytes]]]:
    """The next answer head: HTTP minor version, status, reason phrase, fields (raw)."""
    searched = 0
    while True:
        buffer = conn.buffer
        # A blank line before the status line is tolerated (RFC 9112 2.2).
        while buffer[:2] == b"\r\n" or buffer[:1] == b"\n":
            del buffer[: 2 if buffer[:1] == b"\r" else 1]
        end = _END_OF_HEAD.search(buffer, searched)
        if end is not None:
            break
        if len(buffer) > MAX_HEAD:
            raise httpx.RemoteProtocolError(f"the answer's head is longer than {MAX_HEAD} bytes")
        searched = max(0, len(buffer) - 3)
        if conn.eof and not buffer and conn.error is None:
            raise httpx.RemoteProtocolError("the server disconnected without sending an answer")
        await _more(conn, timeout)
    if end.start() > MAX_HEAD:
        raise httpx.RemoteProtocolError(f"the answer's head is longer than {MAX_HEAD} bytes")
    head = conn.take(end.end())[: end.start()]
    lines = head.split(b"\n")
    status_line = lines[0].rstrip(b"\r")
    matched = _STATUS_LINE.fullmatch(status_line)
    if matched is None or matched[1] != b"1":
        raise httpx.RemoteProtocolError(f"not an HTTP/1.x status line: {status_line[:80]!r}")
    fields: list[tuple[bytes, bytes]] = []
    for raw in lines[1:]:
        line = raw.rstrip(b"\r")
        if line[:1] in (b" ", b"\t"):
            # An obsolete folded line continues the previous field's value (RFC 9112 5.2).
            if not fields:
                raise httpx.RemoteProtocolError("the answer's head starts with a folded line")
            name, value = fields[-1]
            fields[-1] = (name, value + b" " + line.strip(b" \t"))
            continue
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.fullmatch(name) or _NOT_IN_FIELD.search(value.strip(b" \t")):
            raise httpx.RemoteProtocolError(f"not a valid answer field: {line[:80]!r}")
        fields.append((name, value.strip(b" \t")))
    return int(matched[2]), int(matched[3]), matched[4] or b"", fields


def _framing(method: str, minor: int, status: int, fields: list[tuple[bytes, bytes]]) -> tuple[int, int, bool]:
    """How the body ends (and its length when given), and whether the connection may carry
    another request afterwards (RFC 9112 6.3, 9.3)."""
    lengths: set[bytes] = set()
    codings: list[bytes] = []
    tokens: list[bytes] = []
    for name, value in fields:
        lower = name.lower()
        if lower == b"content-length":
            lengths.update(part.strip() for part in value.split(b","))
        elif lower == b"transfer-encoding":
            codings += (part.strip().lower() for part in value.split(b",") if part.strip())
        elif lower == b"connection":
            tokens += (part.strip().lower() for part in value.split(b","))
    reusable = minor == 1 and b"close" not in tokens
    if method == "HEAD" or status in (204, 304):
        return _NONE, 0, reusable
    if codings:
        if codings != [b"chunked"]:
            raise httpx.RemoteProtocolError(
                f"the answer's transfer coding {b', '.join(codings)[:80]!r} is not supported (only chunked is)"
            )
        # A length beside the chunked coding is ignored, and the connection not trusted after it.
        return _CHUNKED, 0, reusable and not lengths
    if lengths:
        length = lengths.pop()
        if lengths or not length.isdigit() or len(length) > MAX_LENGTH_DIGITS:
            raise httpx.RemoteProtocolError(f"the answer's Content-Length is not one number: {length[:40]!r}")
        return _LENGTH, int(length), reusable
    return _CLOSE, 0, False


class _Body(httpx.AsyncByteStream):
    """An answer's body as it arrives; the connection goes back to its transport once the body
    was read to its end, and is closed otherwise."""

    def __init__(
        self,
        owner: H1Transport,
        key: Key,
        conn: Connection,
        framing: int,
        length: int,
        reusable: bool,
        timeout: float | None,
    ) -> None:
        self._owner = owner
        self._key = key
        self._conn = conn
        self._framing = framing
        self._length = length
        self._reusable = reusable
        self._timeout = timeout
        self._complete = framing == _NONE
        self._released = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._complete:
            return
        try:
            if self._framing == _LENGTH:
                async for data in self._sized(self._length):
                    yield data
            elif self._framing == _CHUNKED:
                async for data in self._chunks():
                    yield data
            else:
                async for data in self._to_close():
                    yield data
        except BaseException:
            self._reusable = False
            raise
        self._complete = True

    async def _sized(self, left: int) -> AsyncIterator[bytes]:
        conn = self._conn
        while left > 0:
            if not conn.buffer:
                await _more(conn, self._timeout)
                continue
            data = conn.take(min(left, READ_SIZE))
            left -= len(data)
            yield data

    async def _line(self, limit: int) -> bytes:
        conn = self._conn
        searched = 0
        while True:
            end = conn.buffer.find(b"\n", searched)
            if end >= 0:
                return conn.take(end + 1).rstrip(b"\r\n")
            if len(conn.buffer) > limit:
                raise httpx.RemoteProtocolError("a line of the chunked answer is too long")
            searched = len(conn.buffer)
            await _more(conn, self._timeout)

    async def _chunks(self) -> AsyncIterator[bytes]:
        while True:
            line = await self._line(MAX_CHUNK_LINE)
            size_text = line.split(b";", 1)[0].strip(b" \t")
            if not _CHUNK_SIZE.fullmatch(size_text):
                raise httpx.RemoteProtocolError(f"not a chunk size: {line[:80]!r}")
            size = int(size_text, 16)
            if size == 0:
                break
            async for data in self._sized(size):
                yield data
            if await self._line(2):
                raise httpx.RemoteProtocolError("a chunk is longer than its size")
        # Trailer fields, up to the blank line that ends the body; not kept.
        trailers = 0
        while line := await self._line(MAX_CHUNK_LINE):
            trailers += len(line)
            if trailers > MAX_HEAD:
                raise httpx.RemoteProtocolError(f"the answer's trailer is longer than {MAX_HEAD} bytes")

    async def _to_close(self) -> AsyncIterator[bytes]:
        conn = self._conn
        while True:
            if conn.buffer:
                yield conn.take(READ_SIZE)
            elif conn.eof:
                if conn.error is not None:
                    raise conn.lost(httpx.ReadError)
                return
            else:
                await conn.arrival(self._timeout, httpx.ReadTimeout)

    async def aclose(self) -> None:
        if self._released:
            return
        self._released = True
        if self._complete and self._reusable:
            self._owner.give_back(self._key, self._conn)
        else:
            self._owner.drop(self._conn)

