"""`H1Transport` on real loopback sockets: what it writes, how it frames and reuses, what it
refuses; answered by small asyncio servers that misbehave on purpose, by a TLS server, and by
`reconciler sandbox serve`."""

from __future__ import annotations

import asyncio
import datetime
import gzip
import socket
import ssl
import threading
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.errors import PlatformError
from reconciler.model import ServerConfig, ServerKind
from reconciler.platforms.answers import connection_cause
from reconciler.platforms.h1 import KEEPALIVE_EXPIRY, MAX_HEAD, H1Transport
from reconciler.platforms.http import HttpClient
from reconciler.platforms.netstream import HIGH_WATER, AsyncioBackend
from reconciler.platforms.transports import no_tls_context
from tests.served import ServedSandbox, free_port

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class Server:
    """A loopback server whose connections each run `handler`; it counts them."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.port = 0
        # Set once a connection was closed by this side.
        self.closed = asyncio.Event()
        self._server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            await writer.wait_closed()
            self.closed.set()

    async def __aenter__(self) -> Server:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One request (its head and a Content-Length body), as it came."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return head + await reader.readexactly(length)


def answering(*answers: bytes) -> Handler:
    """Answers each request on a connection with the next of `answers` (the last repeated),
    keeping the connection open until the client closes it."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        n = 0
        while True:
            await read_request(reader)
            writer.write(answers[min(n, len(answers) - 1)])
            await writer.drain()
            n += 1

    return handler


def closing_after(raw: bytes) -> Handler:
    """Answers one request with `raw`, then closes the connection."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(raw)
        await writer.drain()

    return handler


def run(body: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(body())


async def get(transport: H1Transport, url: str, method: str = "GET", timeout: float = 10.0) -> httpx.Response:
    """One request through the transport, its body read whole."""
    request = httpx.Request(method, url, extensions={"timeout": httpx.Timeout(timeout).as_dict()})
    response = await transport.handle_async_request(request)
    try:
        await response.aread()
    finally:
        await response.aclose()
    return response


def transport() -> H1Transport:
    return H1Transport(no_tls_context())


def connections_for_two_requests(
    raw: bytes, h1: Callable[[], H1Transport] = transport, between: Callable[[], None] = lambda: None
) -> int:
    """Two GETs through one transport to a server answering `raw` to each (`between` runs
    between them): the connections the server saw."""
    connections = 0

    async def body() -> None:
        nonlocal connections
        async with Server(answering(raw)) as server:
            client = h1()
            await get(client, server.url)
            between()
            await get(client, server.url)
            connections = server.connections

    run(body)
    return connections


def test_a_request_goes_on_the_wire_as_its_request_line_fields_and_body() -> None:
    seen: list[bytes] = []
    ports: list[int] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await read_request(reader))
        writer.write(OK)

    async def body() -> None:
        async with Server(handler) as server:
            ports.append(server.port)
            request = httpx.Request("POST", f"{server.url}/a?x=1", headers={"X-Token": "t"}, content=b"{}")
            response = await transport().handle_async_request(request)
            await response.aclose()

    run(body)
    assert seen == [
        b"POST /a?x=1 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-Token: t\r\nContent-Length: 2\r\n\r\n{}" % ports[0]
    ]


def test_the_request_line_carries_the_method_path_and_query() -> None:
    seen: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await read_request(reader))
        writer.write(OK)

    async def body() -> None:
        async with Server(handler) as server:
            await get(transport(), f"{server.url}/a%20b/c?x=1&y=%2F", method="DELETE")

    run(body)
    assert seen[0].split(b"\r\n", 1)[0] == b"DELETE /a%20b/c?x=1&y=%2F HTTP/1.1"


def test_answers_read_to_their_end_leave_the_connection_for_the_next_request() -> None:
    async def body() -> None:
        async with Server(answering(OK)) as server:
            h1 = transport()
            for _ in range(3):
                await get(h1, server.url)
            assert server.connections == 1

    run(body)


def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    async def body() -> None:
        async with Server(closing_after(OK)) as server:
            h1 = transport()
            first = await get(h1, server.url)
            await server.closed.wait()
            second = await get(h1, server.url)
            assert (first.status_code, second.status_code, server.connections) == (200, 200, 2)

    run(body)


def test_a_close_the_loop_has_not_yet_seen_keeps_the_idle_connection_from_reuse() -> None:
    # A server in a thread of its own closes the connection while the client's loop is held,
    # so that only the socket itself can tell the client before it sends the next request.
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    close_now, closed = threading.Event(), threading.Event()
    accepted: list[int] = []

    def serve() -> None:
        for n in range(2):
            conn, _ = listener.accept()
            accepted.append(n)
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(4096)
                conn.sendall(OK)
                if n == 0:
                    close_now.wait(10)
                    conn.shutdown(socket.SHUT_RDWR)
                    closed.set()
                else:
                    conn.recv(4096)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    statuses: list[int] = []

    async def body() -> None:
        h1 = transport()
        statuses.append((await get(h1, f"http://127.0.0.1:{port}")).status_code)
        close_now.set()
        closed.wait(10)  # blocking: the loop does not run until the next request is sent
        statuses.append((await get(h1, f"http://127.0.0.1:{port}")).status_code)
        await h1.aclose()

    try:
        run(body)
    finally:
        listener.close()
    assert (statuses, accepted) == ([200, 200], [0, 1])


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
    ],
    ids=["connection-close", "http-1.0"],
)
def test_an_answer_that_ends_its_connection_is_not_followed_on_it(raw: bytes) -> None:
    assert connections_for_two_requests(raw) == 2


def test_a_chunked_body_is_joined_without_its_framing_extensions_or_trailer() -> None:
    raw = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;name=value\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n"
    )

    async def body() -> None:
        async with Server(answering(raw)) as server:
            assert (await get(transport(), server.url)).content == b"hello world"

    run(body)


def test_a_connection_is_reused_after_a_chunked_body() -> None:
    raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
    assert connections_for_two_requests(raw) == 1


def test_a_body_without_length_is_read_up_to_the_close() -> None:
    async def body() -> None:
        async with Server(closing_after(b"HTTP/1.1 200 OK\r\n\r\nall of it")) as server:
            assert (await get(transport(), server.url)).content == b"all of it"

    run(body)


def test_a_body_larger_than_the_buffer_bound_arrives_whole() -> None:
    payload = bytes(range(256)) * (4 * HIGH_WATER // 256 + 7)

    async def body() -> None:
        async with Server(answering(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(payload) + payload)) as s:
            assert (await get(transport(), s.url)).content == payload

    run(body)


def test_a_gzip_answer_is_decoded_by_httpx() -> None:
    packed = gzip.compress(b'{"a": 1}')
    raw = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(packed) + packed

    async def body() -> None:
        async with Server(answering(raw)) as server:
            assert (await get(transport(), server.url)).content == b'{"a": 1}'

    run(body)


def test_an_interim_answer_is_passed_over() -> None:
    async def body() -> None:
        async with Server(answering(b"HTTP/1.1 100 Continue\r\n\r\n" + OK)) as server:
            response = await get(transport(), server.url)
            assert (response.status_code, response.content) == (200, b"ok")

    run(body)


def test_an_answer_to_head_has_no_body_whatever_its_length_says() -> None:
    async def body() -> None:
        async with Server(answering(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n", OK)) as server:
            h1 = transport()
            head = await get(h1, server.url, method="HEAD")
            after = await get(h1, server.url)
            assert (head.content, after.content, server.connections) == (b"", b"ok", 1)

    run(body)


def test_a_204_answer_has_no_body() -> None:
    async def body() -> None:
        async with Server(answering(b"HTTP/1.1 204 No Content\r\n\r\n", OK)) as server:
            h1 = transport()
            empty = await get(h1, server.url)
            after = await get(h1, server.url)
            assert (empty.status_code, empty.content, after.content) == (204, b"", b"ok")

    run(body)


def test_the_status_reason_and_fields_are_the_server_s() -> None:
    raw = b"HTTP/1.1 404 Not Here\r\nX-A: 1\r\nX-A: 2\r\nContent-Length: 0\r\n\r\n"

    async def body() -> None:
        async with Server(answering(raw)) as server:
            response = await get(transport(), server.url)
            assert (response.status_code, response.reason_phrase, response.headers.get_list("x-a")) == (
                404,
                "Not Here",
                ["1", "2"],
            )

    run(body)


def test_an_unread_answer_closes_its_connection() -> None:
    async def body() -> None:
        async with Server(answering(OK)) as server:
            h1 = transport()
            response = await h1.handle_async_request(httpx.Request("GET", server.url))
            await response.aclose()
            await get(h1, server.url)
            assert server.connections == 2

    run(body)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part", id="body-cut-short"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Le", id="head-cut-short"),
        pytest.param(b"", id="no-answer"),
        pytest.param(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", id="chunk-cut-short"),
    ],
)
def test_an_answer_the_server_cuts_short_is_a_protocol_error(raw: bytes) -> None:
    async def body() -> None:
        async with Server(closing_after(raw)) as server:
            with pytest.raises(httpx.RemoteProtocolError):
                await get(transport(), server.url)

    run(body)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"HTTP/2 200 OK\r\n\r\n", id="not-http-1"),
        pytest.param(b"HTTP/1.1 2000 OK\r\n\r\n", id="status-not-three-digits"),
        pytest.param(b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", id="field-name-with-space"),
        pytest.param(b"HTTP/1.1 200 OK\r\nNo colon\r\n\r\n", id="field-without-colon"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok", id="two-lengths"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\nok", id="negative-length"),
        pytest.param(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nok", id="unknown-coding"),
        pytest.param(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n", id="bad-chunk"),
        pytest.param(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nok\r\n0\r\n\r\n", id="long-chunk"),
        pytest.param(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", id="unasked-upgrade"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\nok", id="huge-length"),
        pytest.param(b"HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 0\r\n\r\n", id="bare-cr-in-value"),
        pytest.param(b"HTTP/1.1 200 OK\r\nX-A: a\x01b\r\nContent-Length: 0\r\n\r\n", id="control-in-value"),
    ],
)
def test_a_malformed_answer_is_a_protocol_error(raw: bytes) -> None:
    async def body() -> None:
        async with Server(answering(raw)) as server:
            with pytest.raises(httpx.RemoteProtocolError):
                await get(transport(), server.url)

    run(body)


def test_an_answer_head_past_the_bound_is_refused() -> None:
    raw = b"HTTP/1.1 200 OK\r\n" + b"X-Big: " + b"a" * (MAX_HEAD + 10) + b"\r\n\r\n"

    async def body() -> None:
        async with Server(answering(raw)) as server:
            with pytest.raises(httpx.RemoteProtocolError, match="longer than"):
                await get(transport(), server.url)

    run(body)


def test_a_field_value_with_a_line_break_is_refused_before_anything_is_sent() -> None:
    async def body() -> None:
        async with Server(answering(OK)) as server:
            request = httpx.Request("GET", server.url, headers={"X-Token": "a\r\nX-Injected: 1"})
            with pytest.raises(httpx.LocalProtocolError):
                await transport().handle_async_request(request)
            assert server.connections == 0

    run(body)


def test_a_server_that_never_answers_is_a_read_timeout() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(60)

    async def body() -> None:
        async with Server(handler) as server:
            with pytest.raises(httpx.ReadTimeout):
                await get(transport(), server.url, timeout=0.2)

    run(body)


def test_nothing_listening_is_a_connect_error() -> None:
    async def body() -> None:
        with pytest.raises(httpx.ConnectError):
            await get(transport(), f"http://127.0.0.1:{free_port()}")

    run(body)


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made here."""
    x509 = pytest.importorskip("cryptography.x509")
    import ipaddress

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


async def tls_server(cert: Path, key: Path) -> asyncio.Server:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await answering(OK)(reader, writer)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)


def test_an_https_server_whose_certificate_is_trusted_answers(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)

    async def body() -> None:
        server = await tls_server(cert, key)
        port = server.sockets[0].getsockname()[1]
        try:
            trusting = ssl.create_default_context(cafile=str(cert))
            assert (await get(H1Transport(trusting), f"https://127.0.0.1:{port}/")).content == b"ok"
        finally:
            server.close()

    run(body)


def test_an_https_server_whose_certificate_is_not_trusted_is_a_connect_error(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)

    async def body() -> None:
        server = await tls_server(cert, key)
        port = server.sockets[0].getsockname()[1]
        try:
            with pytest.raises(httpx.ConnectError):
                await get(H1Transport(ssl.create_default_context()), f"https://127.0.0.1:{port}/")
        finally:
            server.close()

    run(body)


def test_a_proxy_named_by_the_environment_is_used_over_httpx_s_own_transport(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[bytes] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await read_request(reader))
        writer.write(OK)

    async def body() -> None:
        async with Server(proxy) as server:
            monkeypatch.setenv("HTTP_PROXY", server.url)
            monkeypatch.delenv("NO_PROXY", raising=False)
            monkeypatch.delenv("no_proxy", raising=False)
            config = ServerConfig(name="k", kind=ServerKind.KUBIYA, url="http://kubiya.example")
            async with HttpClient(config) as http:
                await http.send_once("GET", "/api/v1/x", authenticated=False)

    run(body)
    # A request to a proxy names the whole url.
    assert seen[0].split(b"\r\n", 1)[0] == b"GET http://kubiya.example/api/v1/x HTTP/1.1"


def test_a_proxy_s_connections_are_made_on_asyncio_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    backends: list[object] = []

    async def body() -> None:
        async with Server(answering(OK)) as server:
            monkeypatch.setenv("HTTP_PROXY", server.url)
            monkeypatch.delenv("NO_PROXY", raising=False)
            monkeypatch.delenv("no_proxy", raising=False)
            config = ServerConfig(name="k", kind=ServerKind.KUBIYA, url="http://kubiya.example")
            async with HttpClient(config) as http:
                await http.send_once("GET", "/", authenticated=False)
                transport = http._transports[0]
                assert isinstance(transport, httpx.AsyncHTTPTransport)
                backends.append(type(transport._pool._network_backend))

    run(body)
    assert backends == [AsyncioBackend]


@pytest.mark.serve
def test_the_tool_s_client_reaches_a_served_sandbox_through_the_h1_transport(served_sandbox: ServedSandbox) -> None:
    server = ServerConfig(name="k", kind=ServerKind.KUBIYA, url=served_sandbox.url)
    seen: list[tuple[int, type]] = []

    async def body() -> None:
        async with HttpClient(server) as http:
            response = await http.send_once("GET", "/_sandbox/health", authenticated=False)
            seen.append((response.status_code, type(http._transports[0])))

    run(body)
    assert seen == [(200, H1Transport)]


def test_a_length_said_twice_alike_is_one_length() -> None:
    async def body() -> None:
        async with Server(answering(b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok")) as server:
            assert (await get(transport(), server.url)).content == b"ok"

    run(body)


def test_bytes_after_an_answer_s_end_keep_its_connection_from_reuse() -> None:
    async def body() -> None:
        async with Server(answering(OK + b"JUNK", OK)) as server:
            h1 = transport()
            first = await get(h1, server.url)
            second = await get(h1, server.url)
            assert (first.content, second.content, server.connections) == (b"ok", b"ok", 2)

    run(body)


def test_a_request_cancelled_mid_answer_leaves_its_connection_unused() -> None:
    async def body() -> None:
        part_sent = asyncio.Event()
        answers = 0

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal answers
            while True:
                await read_request(reader)
                answers += 1
                if answers == 1:
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
                    await writer.drain()
                    part_sent.set()
                else:
                    writer.write(OK)
                    await writer.drain()

        async with Server(handler) as server:
            h1 = transport()
            first = asyncio.ensure_future(get(h1, server.url))
            await part_sent.wait()
            first.cancel()
            with pytest.raises(asyncio.CancelledError):
                await first
            second = await get(h1, server.url)
            assert (second.content, server.connections) == (b"ok", 2)

    run(body)


def _idle_for(seconds: float) -> int:
    """Connections for two requests with `seconds` of idling between them on the transport's clock."""
    now = [1000.0]

    def idle() -> None:
        now[0] += seconds

    return connections_for_two_requests(OK, lambda: H1Transport(no_tls_context(), clock=lambda: now[0]), idle)


def test_a_connection_idle_past_its_expiry_is_not_reused() -> None:
    assert _idle_for(KEEPALIVE_EXPIRY + 1) == 2


def test_a_connection_idle_within_its_expiry_is_reused() -> None:
    assert _idle_for(KEEPALIVE_EXPIRY - 1) == 1


def test_closing_the_transport_ends_a_connection_still_waiting_for_its_answer() -> None:
    ended: list[bytes] = []

    async def body() -> None:
        received = asyncio.Event()

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await read_request(reader)
            received.set()
            try:
                ended.append(await reader.read())  # b"" once the client's side is gone
            except ConnectionError:
                ended.append(b"reset")

        async with Server(handler) as server:
            h1 = transport()
            waiting = asyncio.ensure_future(get(h1, server.url))
            await received.wait()
            await h1.aclose()
            # Bounded only so that a transport which leaves the connection open fails here
            # instead of hanging the run.
            async with asyncio.timeout(10):
                await server.closed.wait()
            waiting.cancel()
            await asyncio.gather(waiting, return_exceptions=True)

    run(body)
    assert len(ended) == 1


def test_a_body_that_does_not_decode_as_its_content_encoding_says_is_a_platform_error() -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 9\r\n\r\nnot gzip!"

    async def body() -> None:
        async with Server(answering(raw)) as server:
            config = ServerConfig(name="k", kind=ServerKind.KUBIYA, url=server.url)
            async with HttpClient(config) as http:
                with pytest.raises(PlatformError, match="does not decode as its Content-Encoding says"):
                    await http.send_once("GET", "/", authenticated=False)

    run(body)


def test_a_tls_error_once_connected_may_have_followed_the_request() -> None:
    error = httpx.ReadError("bad record")
    error.__cause__ = ssl.SSLError(1, "[SSL: BAD_RECORD_MAC] bad record mac")
    assert connection_cause(error)[1] is True


def test_a_tls_error_while_connecting_sent_nothing() -> None:
    error = httpx.ConnectError("handshake")
    error.__cause__ = ssl.SSLError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    assert connection_cause(error) == (
        "the TLS handshake failed: is it an http:// server, or is its certificate not trusted?",
        False,
    )
