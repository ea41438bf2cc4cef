"""httpcore's connections over asyncio's own sockets: `AsyncioBackend`, the network backend of
the pools httpx makes for a proxy; and `Connection`, the protocol both it and `h1`'s transport
keep a socket's received bytes in.

httpcore's default backend on asyncio goes through anyio: each read and each write of every
request opens a cancel scope for its timeout, maps exceptions through two context managers and
asks the running library anew, and each reuse of a pooled connection builds a table of socket
attributes to learn whether the server closed it. That is about a sixth of an apply's CPU. This
backend is a plain `asyncio.Protocol`: bytes are buffered as the loop receives them, a read
waits only when none are there, and a timeout costs one timer, set only when a read or a write
has to wait. Errors are httpcore's (httpx maps them as for its own backend).
"""

from __future__ import annotations

import asyncio
import select
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import httpcore

# Reading from the socket pauses while this much is buffered and unread: a server sending a
# large answer faster than it is consumed cannot grow the buffer without bound.
HIGH_WATER = 256 * 1024

E = TypeVar("E", bound=Exception)

SocketOption = tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]


class Connection(asyncio.Protocol):
    """One connection's state as the event loop reports it: received bytes, the end of the
    stream, whether writing must wait; and what both this backend and `h1` do with them
    (`take`, `arrival`, `readable`)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self.closed = False
        self.error: Exception | None = None
        self.reading_paused = False
        self.waiter: asyncio.Future[None] | None = None
        self.drain: asyncio.Future[None] | None = None
        # Asked before each reuse of the idle connection: one poll object, registered once.
        self._poller: select.poll | None = None

    @property
    def opened(self) -> asyncio.Transport:
        """The transport the loop made this connection on (there once it is made)."""
        assert self.transport is not None, "the connection is not made yet"
        return self.transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > HIGH_WATER and self.transport is not None and not self.reading_paused:
            self.transport.pause_reading()
            self.reading_paused = True
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = self.closed = True
        self.error = exc
        self._wake()
        drain, self.drain = self.drain, None
        if drain is not None and not drain.done():
            drain.set_result(None)

    def pause_writing(self) -> None:
        if self.drain is None:
            self.drain = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        drain, self.drain = self.drain, None
        if drain is not None and not drain.done():
            drain.set_result(None)

    def take(self, count: int) -> bytes:
        """At most the first `count` bytes received, taken from the buffer; reading resumes
        once what is left has fallen to half the bound."""
        buffer = self.buffer
        if count >= len(buffer):
            data = bytes(buffer)
            buffer.clear()
        else:
            data = bytes(buffer[:count])
            del buffer[:count]
        if self.reading_paused and len(buffer) <= HIGH_WATER // 2 and not self.eof:
            self._resume()
        return data

    async def arrival(self, timeout: float | None, error: type[Exception]) -> None:
        """Waits until more bytes arrive or the stream ends, raising `error` after `timeout`
        seconds. A reader waiting for more than the buffer holds resumes reading first."""
        if self.reading_paused:
            self._resume()
        self.waiter = asyncio.get_running_loop().create_future()
        await wait(self.waiter, timeout, error)

    def readable(self) -> bool:
        """Whether an idle connection has something to read: an answer nobody asked for, or
        the server's close. What the loop has not yet taken from the socket is asked of the
        socket itself, so that a close that just arrived is seen before a request is sent."""
        transport = self.transport
        if self.buffer or self.eof or transport is None or transport.is_closing():
            return True
        poller = self._poller
        if poller is None:
            sock = transport.get_extra_info("socket")
            if sock is None:
                return False
            if sock.fileno() < 0:
                # Closed under the transport: nothing more will be read from it.
                return True
            poller = self._poller = select.poll()
            poller.register(sock.fileno(), select.POLLIN)
        return bool(poller.poll(0))

    def _resume(self) -> None:
        self.reading_paused = False
        if self.transport is not None:
            self.transport.resume_reading()

    def lost(self, kind: type[E]) -> E:
        """The error of `kind` for using the connection once it is gone (chained to the loss's
        cause)."""
        error = kind(str(self.error or "the connection is closed"))
        error.__cause__ = self.error
        return error

    def _wake(self) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


async def wait(future: asyncio.Future[None], timeout: float | None, error: type[Exception]) -> None:
    """Waits for `future`, raising `error` after `timeout` seconds (None: no bound)."""
    if timeout is None:
        await future
        return
    loop = asyncio.get_running_loop()
    timer = loop.call_later(timeout, _expire, future, error)
    try:
        await future
    finally:
        timer.cancel()


def _expire(future: asyncio.Future[None], error: type[Exception]) -> None:
    if not future.done():
        future.set_exception(error("timed out"))


class AsyncioStream(httpcore.AsyncNetworkStream):
    """A connection (plain, or TLS after `start_tls`) as httpcore reads and writes it."""

    def __init__(self, transport: asyncio.Transport, connection: Connection) -> None:
        self._transport = transport
        self._connection = connection

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        conn = self._connection
        while not conn.buffer:
            if conn.eof:
                # The end of the stream reads as empty, as httpcore expects; a connection lost
                # to an error raises it.
                if conn.error is not None:
                    raise httpcore.ReadError(str(conn.error)) from conn.error
                return b""
            await conn.arrival(timeout, httpcore.ReadTimeout)
        return conn.take(max_bytes)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        conn = self._connection
        if conn.closed or self._transport.is_closing():
            raise conn.lost(httpcore.WriteError)
        self._transport.write(buffer)
        if conn.drain is not None:
            await wait(conn.drain, timeout, httpcore.WriteTimeout)
            if conn.closed:
                raise conn.lost(httpcore.WriteError)

    async def aclose(self) -> None:
        self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                tls = await loop.start_tls(
                    self._transport, self._connection, ssl_context, server_hostname=server_hostname
                )
        except TimeoutError as exc:
            self._transport.close()
            raise httpcore.ConnectTimeout("TLS handshake timed out") from exc
        except (OSError, ssl.SSLError) as exc:
            self._transport.close()
            raise httpcore.ConnectError(str(exc)) from exc
        assert isinstance(tls, asyncio.Transport)
        self._connection.transport = tls
        return AsyncioStream(tls, self._connection)

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object":
            return self._transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info == "socket":
            return self._transport.get_extra_info("socket")
        if info == "is_readable":
            return self._connection.readable()
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Connections made by the running asyncio loop (TCP_NODELAY set, as asyncio does for
    every TCP connection; both address families tried as anyio does)."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        return await _connect(
            lambda protocol: loop.create_connection(
                protocol,
                host,
                port,
                local_addr=(local_address, 0) if local_address else None,
                happy_eyeballs_delay=0.25,
            ),
            f"{host}:{port}",
            timeout,
            socket_options,
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        return await _connect(
            lambda protocol: loop.create_unix_connection(protocol, path), path, timeout, socket_options
        )

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


Opener = Callable[
    [Callable[[], Connection]], Awaitable[tuple[asyncio.BaseTransport, asyncio.BaseProtocol]]
]


async def open_connection(
    open_with: Opener, where: str, timeout: float | None, errors: tuple[type[Exception], type[Exception]]
) -> tuple[asyncio.Transport, Connection]:
    """A connection opened by `open_with` (a loop's opener, given the protocol factory),
    bounded by `timeout`. `errors`: what a timeout and a failure raise (the caller's library's
    ConnectTimeout and ConnectError)."""
    timed_out, failed = errors
    connection = Connection()
    try:
        async with asyncio.timeout(timeout):
            transport, _ = await open_with(lambda: connection)
    except TimeoutError as exc:
        raise timed_out(f"connecting to {where} timed out") from exc
    except OSError as exc:  # ssl.SSLError included
        raise failed(str(exc) or type(exc).__name__) from exc
    assert isinstance(transport, asyncio.Transport)
    return transport, connection


async def _connect(
    open_with: Opener, where: str, timeout: float | None, options: Iterable[SocketOption] | None
) -> AsyncioStream:
    """`open_connection` with httpcore's errors, `options` set on its socket."""
    transport, connection = await open_connection(
        open_with, where, timeout, (httpcore.ConnectTimeout, httpcore.ConnectError)
    )
    sock: socket.socket | None = transport.get_extra_info("socket")
    if sock is not None:
        for option in options or ():
            sock.setsockopt(*option)
    return AsyncioStream(transport, connection)
