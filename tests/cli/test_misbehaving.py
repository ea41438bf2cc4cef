"""Servers that misbehave at the HTTP level: trickling, hanging, an endless body, a redirect
loop, a web page, a closed port. Every command (plan, apply, drift, export) ends with exit 1, a message naming the url and
the cause, and no traceback; the outcome is bounded by counts (connections the server saw,
changes skipped), never by a stopwatch: small `timeout`s keep each test short, and a test that
hung would be stopped by the CI job's own limit.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result

from reconciler.platforms.http import BREAKER_THRESHOLD
from tests.cli.conftest import World, closed_port_url

Behaviour = Callable[[socket.socket, threading.Event], None]


def _read_request(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0
    )
    while len(rest) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return
        rest += chunk


def hang(conn: socket.socket, stop: threading.Event) -> None:
    _read_request(conn)
    stop.wait()


def trickle_body(conn: socket.socket, stop: threading.Event) -> None:
    _read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n[")
    while not stop.wait(0.05):
        conn.sendall(b" ")


def trickle_headers(conn: socket.socket, stop: threading.Event) -> None:
    _read_request(conn)
    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100_000:
        if stop.wait(0.05):
            return
        conn.sendall(bytes([byte]))


def endless_body(conn: socket.socket, stop: threading.Event) -> None:
    _read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    piece = b'{"id": "x", "name": "endless"},' * 2000
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    conn.sendall(b"1\r\n[\r\n")
    while not stop.is_set():
        conn.sendall(chunk)


def redirect_loop(conn: socket.socket, stop: threading.Event) -> None:
    while not stop.is_set():
        _read_request(conn)
        conn.sendall(b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /api/again\r\nContent-Length: 0\r\n\r\n")


def web_page(conn: socket.socket, stop: threading.Event) -> None:
    while not stop.is_set():
        _read_request(conn)
        page = b"<!doctype html><html><body>Not Found</body></html>"
        conn.sendall(
            b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: "
            + str(len(page)).encode()
            + b"\r\n\r\n"
            + page
        )


class Misbehaving:
    """A loopback server that accepts connections and treats each with `behaviour`."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.stop = threading.Event()
        self.connections = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            self.behaviour(conn, self.stop)
        except OSError:
            pass  # the client gave up: what is being tested
        finally:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.sock.close()
        self.thread.join(5)


@pytest.fixture
def misbehaving() -> Iterator[Callable[[Behaviour], Misbehaving]]:
    servers: list[Misbehaving] = []

    def start(behaviour: Behaviour) -> Misbehaving:
        servers.append(Misbehaving(behaviour))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


RESOURCES = {
    "kubiya": "integrations:\n  - {name: x, server: s, type: redis, config: {}}\n",
    "conductor": "providers:\n  - {name: p, server: s, type: ollama, configuration: {endpoint: 'http://x'}}\n",
    "console": "channels:\n  - {server: s, agent: agt_demo, family: mcp_server, name: c, server_url: 'https://m'}\n",
}
CREDENTIALS = {
    "kubiya": "    token: ${env:RC_KUBIYA_TOKEN}\n",
    "conductor": "    key_id: ${env:RC_ORKES_KEY_ID}\n    key_secret: ${env:RC_ORKES_KEY_SECRET}\n",
    "console": "    api_key: ${env:RC_CONSOLE_KEY}\n",
}


def desired(world: World, kind: str, url: str, extra: str = "", timeout: float = 30) -> Path:
    """A desired state on one server `s` of `kind` at `url`. The timeout is short only where a
    test needs a server given up on; elsewhere it leaves room for a busy machine."""
    text = (
        f"servers:\n  s:\n    kind: {kind}\n    url: {url}\n{CREDENTIALS[kind]}"
        f"    timeout: {timeout}\n    deadline: 60\n{extra}" + RESOURCES[kind]
    )
    return world.write(f"{kind}.yaml", text)


def url_line(path: Path) -> str:
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "url:" in text)
    return f"{path}:{line}:10"


def refused(result: Result, *needles: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in result.output, result.output


KINDS = ["kubiya", "conductor", "console"]
COMMANDS = {
    "plan": ("plan",),
    "apply": ("apply", "--auto-approve"),
    "drift": ("drift",),
    "export": ("export", "--server", "s"),
}
# List calls a plan makes at once: Kubiya active + deleted; Conductor one (after its token and
# catalog); the console one per channel family of the agent.
PARALLEL_READS = {"kubiya": 2, "conductor": 1, "console": 3}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("behaviour", [hang, trickle_body, trickle_headers], ids=["hang", "trickle-body", "trickle-headers"])
def test_a_server_that_never_finishes_answering_is_given_up(
    world: World, misbehaving: Callable[[Behaviour], Misbehaving], kind: str, behaviour: Behaviour
) -> None:
    server = misbehaving(behaviour)
    result = world.run("plan", desired(world, kind, server.url, timeout=0.3))
    refused(result, "no complete answer from s within 0.3s", server.url)
    # The circuit opened: no more tries than the breaker allows (token exchange included),
    # plus the reads that were already in flight beside the one that tripped it.
    assert BREAKER_THRESHOLD <= server.connections <= BREAKER_THRESHOLD + PARALLEL_READS[kind] - 1


def test_an_endless_list_answer_is_cut_at_the_size_limit(
    world: World, misbehaving: Callable[[Behaviour], Misbehaving]
) -> None:
    server = misbehaving(endless_body)
    path = desired(world, "kubiya", server.url, "    max_response_mb: 1\n")
    result = world.run("plan", path)
    refused(result, f"GET {server.url}/api/v1/custom-integrations", "the answer is larger than 1 MiB")
    assert "raise `max_response_mb` of servers.s" in result.output
    assert server.connections == 2  # the two list calls, each cut once, not retried


def test_a_redirect_loop_is_reported_with_its_target(
    world: World, misbehaving: Callable[[Behaviour], Misbehaving]
) -> None:
    server = misbehaving(redirect_loop)
    path = desired(world, "kubiya", server.url)
    result = world.run("plan", path)
    refused(result, "answered 307", "the server redirects to /api/again: put the final url in servers.s.url")
    assert url_line(path) in result.output


def test_a_web_page_at_a_wrong_base_path_is_hinted(
    world: World, misbehaving: Callable[[Behaviour], Misbehaving]
) -> None:
    server = misbehaving(web_page)
    path = desired(world, "console", server.url + "/app")
    result = world.run("plan", path)
    refused(result, "answered 404", "the server answered a web page, not the API: check the base path of servers.s.url")
    assert url_line(path) in result.output


@pytest.mark.parametrize("kind", KINDS)
def test_a_closed_port_names_the_url_the_cause_and_where_the_url_is_written(world: World, kind: str) -> None:
    url = closed_port_url()
    path = desired(world, kind, url)
    for command in COMMANDS.values():
        result = world.run(*command, path)
        refused(result, f"{url}/api/", "connection refused: nothing listens on that port", f"check {'servers.s.url'} at {url_line(path)}")


def test_a_host_name_that_does_not_resolve_is_named_as_such(world: World) -> None:
    path = desired(world, "kubiya", "http://no-such-host.invalid")
    refused(world.run("plan", path), "http://no-such-host.invalid/api/v1/custom-integrations", "the host name was not found (DNS)")


def test_a_server_dying_mid_apply_is_reported_in_one_line(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx

    from reconciler.sandbox import transport as sandbox_transport_module

    class DiesAfter(httpx.AsyncBaseTransport):
        def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
            self.inner = inner
            self.creates = 0

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            # Two creates pass (the apply lock is a create too, and is not counted); from the
            # third on, the server is gone for every request.
            if request.method == "POST" and b"reconciler-lock" not in request.content:
                self.creates += 1
            if self.creates > 2:
                raise httpx.ConnectError("[Errno 111] Connection refused")
            return await self.inner.handle_async_request(request)

    real = sandbox_transport_module.transport
    monkeypatch.setattr(sandbox_transport_module, "transport", lambda url: DiesAfter(real(url)))
    names = "".join(f"  - {{name: i{n}, server: kubiya, type: redis, config: {{}}}}\n" for n in range(10))
    path = world.write(
        "dies.yaml", f"servers:\n  kubiya:\n    kind: kubiya\n    url: \"{world.url}\"\n    parallelism: 1\n"
        f"integrations:\n{names}"
    )
    result = world.run("apply", path, "--auto-approve")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    reason = f"not started: server 'kubiya' is unreachable ({BREAKER_THRESHOLD} connection failures in a row)"
    assert result.output.count(reason) == 1
    assert f"7 change(s) skipped: {reason}" in result.output
    assert "Apply failed: 2 added, 0 changed, 0 replaced, 0 destroyed; 1 failed, 7 skipped." in result.output
    assert "may have been carried out" not in result.output


# What each misbehaviour is reported as, whatever the command.
REPORTED = {
    "hang": "no complete answer from s within 0.1s",
    "trickle-body": "no complete answer from s within 0.1s",
    "endless-body": "the answer is larger than 1 MiB; stopped reading it",
    "web-page": "the server answered a web page, not the API: check the base path of servers.s.url",
    "redirect-loop": "the server redirects to /api/again: put the final url in servers.s.url",
}
BEHAVIOURS = {
    "hang": hang,
    "trickle-body": trickle_body,
    "endless-body": endless_body,
    "web-page": web_page,
    "redirect-loop": redirect_loop,
}


# The first request each API's client sends: the one the misbehaviour is reported on.
FIRST_REQUEST = {
    "kubiya": "/api/v1/custom-integrations",
    "conductor": "/api/token",
    "console": "/api/v1/console/agents/agt_demo/integrations/",
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("name", list(BEHAVIOURS))
def test_every_command_ends_with_a_clear_message(
    world: World, misbehaving: Callable[[Behaviour], Misbehaving], command: str, name: str, kind: str
) -> None:
    server = misbehaving(BEHAVIOURS[name])
    # A small timeout bounds a server that never finishes; the others answer at once (the
    # endless body is cut by size), so their timeout leaves room for a busy machine.
    timeout = 0.1 if name in ("hang", "trickle-body") else 10
    path = world.write(
        "s.yaml",
        f"servers:\n  s:\n    kind: {kind}\n    url: {server.url}\n{CREDENTIALS[kind]}"
        f"    timeout: {timeout}\n    deadline: 30\n    max_response_mb: 1\n" + RESOURCES[kind],
    )
    result = world.run(*COMMANDS[command], path)
    refused(result, REPORTED[name], f"{server.url}{FIRST_REQUEST[kind]}")


def test_a_server_slower_than_the_deadline_is_given_up_at_the_deadline(
    world: World, misbehaving: Callable[[Behaviour], Misbehaving]
) -> None:
    server = misbehaving(hang)
    # A try may take 10 s, but the server gets 0.3 s in all: the first try is cut short at the
    # deadline, and no other is started.
    path = world.write(
        "s.yaml",
        f"servers:\n  s:\n    kind: kubiya\n    url: {server.url}\n{CREDENTIALS['kubiya']}"
        "    timeout: 10\n    deadline: 0.3\n    parallelism: 1\n" + RESOURCES["kubiya"],
    )
    result = world.run("plan", path)
    refused(
        result,
        f"GET {server.url}/api/v1/custom-integrations: no complete answer from s before the deadline of 0.3s "
        "for server 's'",
        "raise `deadline` of servers.s if the server is slow but working",
    )
    assert server.connections == 1
