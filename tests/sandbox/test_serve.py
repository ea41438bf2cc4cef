"""`reconciler sandbox serve` as a tool: it binds before it announces, answers without Nagle's
delay, says which credentials to use, and logs a client that goes away mid-request as one line."""

from __future__ import annotations

import asyncio
import socket
import time

import httpx
import pytest
import uvicorn
from click.testing import CliRunner

from reconciler.cli import main
from reconciler.sandbox.app import create_app
from reconciler.sandbox.serve import _HOLD_BYTES, _OneSend, bind, server_config
from tests.served import ServedSandbox


def test_a_busy_port_is_one_clear_error_and_nothing_is_announced() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = CliRunner().invoke(main, ["sandbox", "serve", "--port", str(port), "--db", ":memory:"])
    assert result.exit_code == 1
    assert f"Error: 127.0.0.1:{port} is already in use" in result.output
    assert "Sandbox listening" not in result.output
    assert "Traceback" not in result.output


def test_connections_of_the_bound_socket_send_without_delay() -> None:
    """TCP_NODELAY on each connection: otherwise a response's body, written after its headers,
    waits for the client's delayed ACK of them on every request of a reused connection."""

    async def nodelay_of_a_connection() -> int:
        accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                sock = transport.get_extra_info("socket")
                accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await asyncio.get_running_loop().create_server(Probe, sock=bind("127.0.0.1", 0))
        async with server:
            port = server.sockets[0].getsockname()[1]
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                return await asyncio.wait_for(accepted, 10)
            finally:
                writer.close()

    assert asyncio.run(nodelay_of_a_connection()) != 0


def test_announces_credentials_and_logs_a_disconnect_in_one_line() -> None:
    server = ServedSandbox()
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as client:
            # A body shorter than announced, then gone: the server reads a disconnect.
            client.sendall(
                b"POST /api/v1/custom-integrations HTTP/1.1\r\nHost: x\r\n"
                b"Authorization: Bearer sandbox-kubiya-token\r\nContent-Type: application/json\r\n"
                b'Content-Length: 100\r\n\r\n{"name"'
            )
        while True:  # until the sandbox has finished with every request it received
            stats = httpx.get(server.url + "/_sandbox/stats", timeout=5).json()
            if sum(stats["by_method"].values()) == 1 == sum(stats["by_status"].values()):
                break
            time.sleep(0.02)
    finally:
        server.proc.terminate()
        _, err_b = server.proc.communicate(timeout=20)
    err = err_b.decode()
    lines = err.splitlines()
    assert lines[0] == f"Sandbox listening on {server.url} (database :memory:); Ctrl-C to stop."
    assert "  kubiya     token: sandbox-kubiya-token (organization sandbox)" in lines[2]
    assert "sandbox-key-id / sandbox-key-secret" in err
    assert "sk_sandbox_readonly (team sandbox, read only)" in err
    disconnects = [line for line in lines if "client disconnected" in line]
    assert disconnects == ["WARNING:  client disconnected before its request was read: POST /api/v1/custom-integrations"]
    assert "Traceback" not in err


async def _recorded_transport() -> tuple[asyncio.Transport, socket.socket, list[bytes]]:
    """A real transport over a socket pair, its peer (non-blocking), and what the transport
    is asked to write, as it is asked."""
    loop = asyncio.get_running_loop()
    ours, peer = socket.socketpair()
    peer.setblocking(False)
    transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, ours)
    written: list[bytes] = []
    real_write = transport.write

    def recording_write(data: bytes | bytearray | memoryview) -> None:
        written.append(bytes(data))
        real_write(data)

    transport.write = recording_write  # type: ignore[method-assign]
    return transport, peer, written


async def _through_one_send(finish: str) -> tuple[list[bytes], bytes, bytes]:
    """Two writes through `_OneSend` over a real socket pair, then `finish` ("turn": a turn of
    the loop; "close" or "abort" at once): what the real transport was asked to write, what
    the peer held before the finish, and all it read in the end."""
    loop = asyncio.get_running_loop()
    transport, peer, written = await _recorded_transport()
    one = _OneSend(transport)
    one.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    one.write(b"{}")
    try:
        before = peer.recv(1024)
    except BlockingIOError:
        before = b""
    if finish == "turn":
        await asyncio.sleep(0)
    elif finish == "close":
        one.close()
    else:
        one.abort()
    received = b""
    while True:
        try:
            chunk = await asyncio.wait_for(loop.sock_recv(peer, 1024), timeout=10)
        except ConnectionResetError:
            break
        if not chunk:
            break
        received += chunk
        if finish == "turn" and received.endswith(b"{}"):
            break
    transport.close()
    peer.close()
    return written, before, received


def test_a_response_head_and_body_written_in_one_turn_go_out_in_one_write() -> None:
    written, before, received = asyncio.run(_through_one_send("turn"))
    assert before == b""
    assert written == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]
    assert received == written[0]


def test_closing_sends_what_was_written_first() -> None:
    _, _, received = asyncio.run(_through_one_send("close"))
    assert received == b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"


def test_aborting_sends_what_was_written_first() -> None:
    written, _, _ = asyncio.run(_through_one_send("abort"))
    assert written == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]


async def _held_writes(pieces: list[int]) -> list[int]:
    """Writes of these sizes through `_OneSend` in one turn: the sizes the real transport was
    asked to write before the turn ends."""
    transport, peer, written = await _recorded_transport()
    one = _OneSend(transport)
    for size in pieces:
        one.write(b"x" * size)
    transport.abort()
    peer.close()
    return [len(w) for w in written]


def test_a_large_body_goes_out_at_once_after_the_head_held_before_it() -> None:
    assert asyncio.run(_held_writes([100, _HOLD_BYTES])) == [100, _HOLD_BYTES]


def test_small_writes_go_out_at_once_when_they_add_up_past_the_limit() -> None:
    piece = _HOLD_BYTES // 4
    assert asyncio.run(_held_writes([piece] * 5)) == [4 * piece]


def test_the_served_sandbox_answers_in_one_write(monkeypatch: pytest.MonkeyPatch) -> None:
    """Through uvicorn's protocol as `sandbox serve` configures it, a request over a real
    socket: the answer, head and body, is one write to the socket's transport."""
    writes: list[bytes] = []
    real_write = asyncio.selector_events._SelectorSocketTransport.write  # type: ignore[attr-defined]

    def counting_write(self: asyncio.Transport, data: bytes | bytearray | memoryview) -> None:
        writes.append(bytes(data))
        real_write(self, data)

    monkeypatch.setattr(asyncio.selector_events._SelectorSocketTransport, "write", counting_write)  # type: ignore[attr-defined]

    async def one_answer() -> bytes:
        config = server_config(create_app(":memory:"))
        config.load()
        protocol = config.http_protocol_class(  # type: ignore[call-arg]
            config=config, server_state=uvicorn.server.ServerState(), app_state={}
        )
        loop = asyncio.get_running_loop()
        ours, peer = socket.socketpair()
        peer.setblocking(False)
        transport, _ = await loop.connect_accepted_socket(lambda: protocol, ours)
        await loop.sock_sendall(peer, b"GET /_sandbox/health HTTP/1.1\r\nHost: sandbox\r\n\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):
            chunk = await asyncio.wait_for(loop.sock_recv(peer, 65536), timeout=10)
            assert chunk, "the connection closed before the answer"
            answer += chunk
        transport.close()
        peer.close()
        return answer

    answer = asyncio.run(one_answer())
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert writes == [answer]
