"""httpx over `AsyncioBackend`: real sockets on loopback, answered by small asyncio servers that
misbehave on purpose, and by `reconciler sandbox serve`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest

from reconciler.platforms.netstream import HIGH_WATER
from reconciler.platforms.transports import on_asyncio_sockets
from tests.served import free_port

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> None:
    await reader.readuntil(b"\r\n\r\n")


def answering(raw: bytes) -> Handler:
    """A server that reads a request, writes `raw` and closes the connection."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(raw)
        await writer.drain()
        writer.close()

    return handler


def client(port: int, timeout: float = 10.0) -> tuple[httpx.AsyncClient, httpx.AsyncHTTPTransport]:
    transport = httpx.AsyncHTTPTransport()
    assert on_asyncio_sockets(transport)
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", transport=transport, timeout=timeout), transport


async def with_server(handler: Handler, body: Callable[[int], Awaitable[None]]) -> None:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        await body(port)
    finally:
        server.close()


def test_a_body_larger_than_the_buffer_bound_arrives_whole() -> None:
    payload = bytes(range(256)) * (4 * HIGH_WATER // 256 + 7)
    handler = answering(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(payload) + payload)
    got: list[bytes] = []

    async def body(port: int) -> None:
        c, _ = client(port)
        async with c:
            got.append((await c.get("/")).content)

    asyncio.run(with_server(handler, body))
    assert got == [payload]


def test_an_answer_cut_short_is_a_transport_error() -> None:
    handler = answering(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part")

    async def body(port: int) -> None:
        c, _ = client(port)
        async with c:
            with pytest.raises(httpx.TransportError):
                await c.get("/")

    asyncio.run(with_server(handler, body))


def test_a_server_that_never_answers_is_a_read_timeout() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(60)

    async def body(port: int) -> None:
        c, _ = client(port, timeout=0.2)
        async with c:
            with pytest.raises(httpx.ReadTimeout):
                await c.get("/")

    asyncio.run(with_server(handler, body))


def test_a_pooled_connection_the_server_closed_is_not_reused() -> None:
    connections: list[int] = []
    closed = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        # The connection was offered for keep-alive; the server closes it while it is idle.
        writer.close()
        await writer.wait_closed()
        closed.set()

    statuses: list[int] = []

    async def body(port: int) -> None:
        c, _ = client(port)
        async with c:
            statuses.append((await c.get("/")).status_code)
            await closed.wait()
            statuses.append((await c.get("/")).status_code)

    asyncio.run(with_server(handler, body))
    assert (statuses, len(connections)) == ([200, 200], 2)


def test_nothing_listening_is_a_connect_error() -> None:
    async def run() -> None:
        c, _ = client(free_port())
        async with c:
            with pytest.raises(httpx.ConnectError):
                await c.get("/")

    asyncio.run(run())

