"""Fixtures of the CLI end-to-end suite.

A `World` is one test's desired-state directory plus one sandbox database: the `reconciler`
command run in process through click's `CliRunner` (or as a real subprocess), and direct HTTP
calls to the same sandbox for changing things "behind git's back". `world` uses the in-process
sandbox (`sandbox:{tmp_path}/s.db`, no port); `served_world` the `reconciler sandbox serve`
subprocess of `served_sandbox`, with credentials passed as `${env:...}` references and the
sandbox reset around each test. `hook` is a tiny loopback HTTP server that records what it is
sent and answers what it is told to, for webhooks and for servers answering nonsense.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import os
import subprocess
import sys
import threading
import traceback
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from reconciler.cli import main
from reconciler.sandbox.transport import SANDBOX_BASE_URL, forget, transport
from tests.served import TLS, ServedSandbox

REPO = Path(__file__).resolve().parents[2]

KUBIYA_TOKEN = "sandbox-kubiya-token"
KEY_ID = "sandbox-key-id"
KEY_SECRET = "sandbox-key-secret"
CONSOLE_KEY = "sk_sandbox"

# The environment variables the served-sandbox desired states reference for credentials.
CREDS_ENV: Mapping[str, str] = {
    "RC_KUBIYA_TOKEN": KUBIYA_TOKEN,
    "RC_ORKES_KEY_ID": KEY_ID,
    "RC_ORKES_KEY_SECRET": KEY_SECRET,
    "RC_CONSOLE_KEY": CONSOLE_KEY,
}

ANSI = "\x1b["

# Five resources, one of each kind and a second integration: the usual starting point.
BASIC = """
integrations:
  - name: pg-main
    server: kubiya
    type: postgres
    description: Main database
    config:
      env_vars: {PGHOST: db.internal, PGPORT: "5432"}
      secrets: [PG_PASSWORD]
  - name: cache
    server: kubiya
    type: redis
    description: Session cache
    config:
      env_vars: {REDIS_URL: "redis://cache.internal:6379/0"}
providers:
  - name: local-llm
    server: orkes
    type: ollama
    description: Local models
    configuration: {endpoint: "http://localhost:11434"}
    apis:
      - {name: llama3, description: Chat}
channels:
  - server: console
    agent: agt_demo
    family: mcp_server
    name: docs-search
    server_url: https://mcp.example.com/docs
"""

BASIC_ADDRESSES = (
    "integration.kubiya.pg-main",
    "integration.kubiya.cache",
    "provider.orkes.local-llm",
    "model.orkes.local-llm.llama3",
    "channel.console.agt_demo.mcp_server.docs-search",
)


def servers_yaml(url: str, *, creds: bool, urls: Mapping[str, str] | None = None) -> str:
    """The `servers:` block: kubiya, orkes (conductor) and console, all at `url` unless `urls`
    gives one by server name. Credentials are `${env:RC_...}` references when `creds` is set,
    and for any server whose url is not a `sandbox:` one."""
    urls = {"kubiya": url, "orkes": url, "console": url, **(urls or {})}
    credentials = {
        "kubiya": "    token: ${env:RC_KUBIYA_TOKEN}\n",
        "orkes": "    key_id: ${env:RC_ORKES_KEY_ID}\n    key_secret: ${env:RC_ORKES_KEY_SECRET}\n",
        "console": "    api_key: ${env:RC_CONSOLE_KEY}\n",
    }
    kinds = {"kubiya": "kubiya", "orkes": "conductor", "console": "console"}
    out = ["servers:\n"]
    for name, kind in kinds.items():
        out.append(f'  {name}:\n    kind: {kind}\n    url: "{urls[name]}"\n')
        if creds or not urls[name].startswith("sandbox:"):
            out.append(credentials[name])
    return "".join(out)


def integrations_yaml(names: list[str], *, type_: str = "redis", description: str = "d") -> str:
    lines = ["integrations:"]
    for name in names:
        lines += [
            f"  - name: {json.dumps(name)}",
            "    server: kubiya",
            f"    type: {type_}",
            f"    description: {json.dumps(description)}",
            '    config: {env_vars: {A: "1"}}',
        ]
    return "\n".join(lines) + "\n"


@dataclass
class Proc:
    """A finished subprocess run of `reconciler`."""

    code: int
    stdout: str
    stderr: str


@dataclass
class World:
    """One test's files, sandbox and ways to run the command line against them."""

    tmp: Path
    url: str
    served: ServedSandbox | None = None
    runner: CliRunner = field(default_factory=CliRunner)
    files: int = 0

    @property
    def creds(self) -> bool:
        return self.served is not None

    @property
    def env(self) -> dict[str, str]:
        # Harmless where nothing references them; needed wherever a url is a real one.
        return dict(CREDS_ENV)

    # -- files ------------------------------------------------------------------------------

    def write(self, name: str, text: str | bytes) -> Path:
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    def desired(self, body: str = BASIC, name: str | None = None, **kw: Any) -> Path:
        """A desired-state file: the servers block for this sandbox, then `body`. Each call
        writes a new file (`desired.yaml`, `desired-2.yaml`, ...) unless `name` is given."""
        if name is None:
            self.files += 1
            name = "desired.yaml" if self.files == 1 else f"desired-{self.files}.yaml"
        return self.write(name, servers_yaml(self.url, creds=self.creds, **kw) + body)

    # -- running the command ------------------------------------------------------------------

    def run(
        self, *args: Any, env: Mapping[str, str | None] | None = None, input: str | None = None
    ) -> Result:
        """`reconciler ARGS` in process. An exception other than SystemExit fails the test with
        its traceback: the CLI must turn every error into a message."""
        merged: dict[str, str | None] = {**self.env, **(env or {})}
        result = self.runner.invoke(
            main, [str(a) for a in args], env=merged, input=input, catch_exceptions=True
        )
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            tb = "".join(traceback.format_exception(*result.exc_info)) if result.exc_info else ""
            raise AssertionError(
                f"reconciler {' '.join(map(str, args))} raised:\n{tb}\n{result.output}"
            )
        return result

    def process(
        self, *args: Any, env: Mapping[str, str] | None = None, timeout: float = 60
    ) -> Proc:
        """`python -m reconciler.cli ARGS` as a real subprocess (stdin closed, not a terminal)."""
        completed = subprocess.run(
            [sys.executable, "-m", "reconciler.cli", *map(str, args)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=process_env(self.env, env),
            cwd=self.tmp,
            timeout=timeout,
            check=False,
        )
        return Proc(
            completed.returncode,
            completed.stdout.decode("utf-8", "replace"),
            completed.stderr.decode("utf-8", "replace"),
        )

    # -- the sandbox directly -----------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        if self.served is not None:
            with httpx.Client(base_url=self.served.url, timeout=10, verify=TLS) as client:
                return client.request(method, path, headers=headers, json=json_body, params=params)

        async def send() -> httpx.Response:
            async with httpx.AsyncClient(
                transport=transport(self.url), base_url=SANDBOX_BASE_URL
            ) as client:
                response = await client.request(
                    method, path, headers=headers, json=json_body, params=params
                )
                await response.aread()
                return response

        return asyncio.run(send())

    def kubiya(self, method: str, path: str = "", **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {KUBIYA_TOKEN}"}
        return self.request(method, "/api/v1/custom-integrations" + path, headers=headers, **kw)

    def conductor(self, method: str, path: str, **kw: Any) -> httpx.Response:
        token = self.request(
            "POST", "/api/token", json_body={"keyId": KEY_ID, "keySecret": KEY_SECRET}
        )
        headers = {"X-Authorization": token.json()["token"]}
        return self.request(method, "/api" + path, headers=headers, **kw)

    def console(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {CONSOLE_KEY}"}
        return self.request(
            method, "/api/v1/console/agents/agt_demo/integrations" + path, headers=headers, **kw
        )

    def faults(self, **settings: Any) -> None:
        self.request("PUT", "/_sandbox/faults", json_body=settings).raise_for_status()

    def integrations(self, status: str | None = None) -> list[dict[str, Any]]:
        params = {"status": status} if status else None
        response = self.kubiya("GET", params=params)
        response.raise_for_status()
        rows: list[dict[str, Any]] = response.json()
        return rows

    def integration(self, name: str) -> dict[str, Any]:
        found = [r for r in self.integrations() if r["name"] == name]
        assert len(found) == 1, f"{name}: {len(found)} rows"
        return found[0]

    def integration_names(self) -> Counter[str]:
        return Counter(r["name"] for r in self.integrations())

    def create_integration(self, name: str, integration_type: str, tags: list[str]) -> dict[str, Any]:
        """An integration created on the Kubiya server by real HTTP, not by the tool; its row."""
        response = self.kubiya(
            "POST",
            json_body={"name": name, "integration_type": integration_type, "config": {}, "tags": tags},
        )
        assert response.status_code == 201, response.text
        row: dict[str, Any] = response.json()
        return row

    def create_unmanaged(self, name: str = "hand-made") -> dict[str, Any]:
        """An integration made by hand (no reconciler marker)."""
        return self.create_integration(name, "custom", ["by-hand"])


def process_env(*layers: Mapping[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    for layer in layers:
        env.update(layer or {})
    return env


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    url = f"sandbox:{tmp_path / 's.db'}"
    try:
        yield World(tmp_path, url)
    finally:
        forget(url)


@pytest.fixture
def served_world(tmp_path: Path, served_sandbox: ServedSandbox) -> Iterator[World]:
    served_sandbox.reset()
    try:
        yield World(tmp_path, served_sandbox.url, served_sandbox)
    finally:
        served_sandbox.reset()


# -- a loopback HTTP server ------------------------------------------------------------------


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Hook:
    """Answers every request with `(status, body, content_type)`, by path from `routes` or else
    `default`; records each request."""

    def __init__(self) -> None:
        self.default: tuple[int, bytes, str] = (200, b"ok", "text/plain")
        self.routes: dict[str, tuple[int, bytes, str]] = {}
        self.received: list[Received] = []
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length) if length else b""
                hook.received.append(Received(self.command, self.path, dict(self.headers), data))
                status, body, content_type = hook.routes.get(self.path.split("?")[0], hook.default)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep the test output clean

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                # A client hanging up mid-answer is expected here; socketserver would print
                # a traceback into the stderr of the command under test.
                hook.errors.append(repr(sys.exc_info()[1]))

        self.errors: list[str] = []
        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def answer(
        self, status: int, body: bytes, content_type: str = "application/json", path: str = ""
    ) -> None:
        if path:
            self.routes[path] = (status, body, content_type)
        else:
            self.default = (status, body, content_type)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    try:
        yield h
    finally:
        h.close()


def closed_port_url() -> str:
    """The url of a loopback port nobody listens on (bound, then released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(params=["inprocess", "served"])
def any_world(request: pytest.FixtureRequest) -> World:
    """The same test against the in-process sandbox and against `sandbox serve` over HTTP."""
    fixture = "world" if request.param == "inprocess" else "served_world"
    found: World = request.getfixturevalue(fixture)
    return found


def run_in_terminal(
    world: World, *args: Any, answer: str = "", env: Mapping[str, str] | None = None
) -> Proc:
    """`reconciler ARGS` with stdin, stdout and stderr on a pseudo-terminal, typing `answer` at
    the first prompt. Everything the terminal showed comes back as `stdout`."""
    import pty
    import select

    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler.cli", *map(str, args)],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=process_env(world.env, {"TERM": "xterm-256color"}, env),
        cwd=world.tmp,
        close_fds=True,
    )
    os.close(follower)
    shown = b""
    answered = not answer
    try:
        while True:
            ready, _, _ = select.select([leader], [], [], 30)
            if not ready:
                raise AssertionError(f"no output for 30 s:\n{shown.decode(errors='replace')}")
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            shown += chunk
            if not answered and b"Only 'yes' will be accepted" in shown:
                os.write(leader, answer.encode() + b"\n")
                answered = True
    finally:
        os.close(leader)
        code = proc.wait(timeout=30)
    return Proc(code, shown.decode("utf-8", "replace").replace("\r\n", "\n"), "")


class Terminal:
    """`reconciler ARGS` on a pseudo-terminal (stdin, stdout and stderr), driven step by step:
    read until a text shows, send a signal, type a line. Tests synchronise on what the terminal
    shows, never on time."""

    def __init__(self, world: World, *args: Any, env: Mapping[str, str] | None = None) -> None:
        import pty

        self.leader, follower = pty.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "reconciler.cli", *map(str, args)],
            stdin=follower,
            stdout=follower,
            stderr=follower,
            env=process_env(world.env, {"TERM": "xterm-256color"}, env),
            cwd=world.tmp,
            close_fds=True,
        )
        os.close(follower)
        self.shown = b""
        self.closed = False

    def _read(self) -> bool:
        import select

        ready, _, _ = select.select([self.leader], [], [], 60)
        if not ready:
            self.proc.kill()
            raise AssertionError(f"no output for 30 s:\n{self.text}")
        try:
            chunk = os.read(self.leader, 65536)
        except OSError:  # EIO: the process closed the terminal
            chunk = b""
        if not chunk:
            self.closed = True
            return False
        self.shown += chunk
        return True

    @property
    def text(self) -> str:
        return self.shown.decode("utf-8", "replace").replace("\r\n", "\n")

    def read_until(self, text: str) -> None:
        while text.encode() not in self.shown:
            if self.closed or not self._read():
                raise AssertionError(f"{text!r} never showed:\n{self.text}")

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def type(self, line: str) -> None:
        os.write(self.leader, line.encode() + b"\n")

    def finish(self) -> Proc:
        """Reads until the process closes the terminal; its exit code and everything shown."""
        try:
            while not self.closed and self._read():
                pass
        finally:
            os.close(self.leader)
            code = self.proc.wait(timeout=30)
        return Proc(code, self.text, "")
