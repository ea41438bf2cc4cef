"""Errors a person can act on: what failed, where it is written, and what to do about it.

Scoped runs that need only the selected servers' credentials; TLS against a plain-http port;
a refused credential named by its variable and location; a base url with an extra path
segment; an unknown console agent pointed at its `agent:` line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import World

UNREACHABLE_CONDUCTOR = """\
  orkes:
    kind: conductor
    url: https://orkes.example.com
    key_id: ${env:SCOPED_ORKES_ID}
    key_secret: ${env:SCOPED_ORKES_SECRET}
providers:
  - {name: p, server: orkes, type: openai, configuration: {api_key: "${env:SCOPED_OPENAI_KEY}"}}
"""


def scoped(world: World) -> Path:
    return world.write(
        "scoped.yaml",
        f'servers:\n  kubiya:\n    kind: kubiya\n    url: "{world.url}"\n'
        + UNREACHABLE_CONDUCTOR
        + 'integrations:\n  - {name: i, server: kubiya, type: redis, config: {env_vars: {A: "${env:SCOPED_A}"}}}\n',
    )


@pytest.mark.parametrize(
    ("command", "code"),
    # drift: the declared integration is missing from the server, which is drift (exit 2).
    [(("plan",), 0), (("drift",), 2), (("apply", "--auto-approve"), 0), (("export",), 0)],
    ids=["plan", "drift", "apply", "export"],
)
def test_server_resolves_only_the_selected_servers_references(
    world: World, command: tuple[str, ...], code: int
) -> None:
    result = world.run(*command, scoped(world), "--server", "kubiya", env={"SCOPED_A": "1"})
    assert result.exit_code == code, result.output
    assert "SCOPED_ORKES_ID" not in result.output


def test_the_selected_servers_references_are_still_required(world: World) -> None:
    result = world.run("plan", scoped(world), "--server", "kubiya")
    assert result.exit_code == 1
    assert "the environment variable SCOPED_A is not set" in result.stderr
    assert "SCOPED_ORKES_ID" not in result.stderr


def test_without_server_every_servers_references_are_required(world: World) -> None:
    result = world.run("plan", scoped(world), env={"SCOPED_A": "1"})
    assert result.exit_code == 1
    assert "the environment variable SCOPED_ORKES_ID is not set" in result.stderr


def one_server(world: World, kind: str, url: str, credential: str, body: str) -> Path:
    return world.write(f"{kind}.yaml", f'servers:\n  s:\n    kind: {kind}\n    url: "{url}"\n{credential}{body}')


KUBIYA_BODY = "integrations:\n  - {name: i, server: s, type: redis, config: {}}\n"
CONSOLE_BODY = "channels:\n  - {server: s, agent: agt_demo, family: mcp_server, name: c, server_url: 'https://m'}\n"


def test_a_refused_token_names_its_variable_and_where_it_is_written(world: World) -> None:
    path = one_server(world, "kubiya", world.url, "    token: ${env:MY_KUBIYA_TOKEN}\n", KUBIYA_BODY)
    result = world.run("plan", path, env={"MY_KUBIYA_TOKEN": "expired"})
    assert result.exit_code == 1
    assert "answered 401: Invalid or expired authentication token" in result.stderr
    assert f"check servers.s.token (${{env:MY_KUBIYA_TOKEN}}) at {path}:5:12" in result.stderr
    assert "expired" not in result.stderr.replace("Invalid or expired", "")


def test_a_missing_scope_is_named_as_such(world: World) -> None:
    path = one_server(world, "console", world.url, "    api_key: ${env:MY_CONSOLE_KEY}\n", CONSOLE_BODY)
    result = world.run("apply", path, "--auto-approve", env={"MY_CONSOLE_KEY": "sk_sandbox_readonly"})
    assert result.exit_code == 1
    assert "answered 403" in result.output
    assert (
        "the credentials were accepted but lack a permission (scope) for this call: "
        f"check servers.s.api_key (${{env:MY_CONSOLE_KEY}}) at {path}:5:14"
    ) in result.output


@pytest.mark.serve
@pytest.mark.parametrize(
    ("kind", "credential", "body", "first_path"),
    [
        ("kubiya", "    token: ${env:RC_KUBIYA_TOKEN}\n", KUBIYA_BODY, "/api/v1/custom-integrations"),
        ("console", "    api_key: ${env:RC_CONSOLE_KEY}\n", CONSOLE_BODY, "/api/v1/console/agents/agt_demo/"),
    ],
)
def test_an_extra_api_in_the_url_is_hinted_not_blamed_on_the_credentials(
    served_world: World, kind: str, credential: str, body: str, first_path: str
) -> None:
    path = one_server(served_world, kind, served_world.url + "/api", credential, body)
    result = served_world.run("plan", path)
    assert result.exit_code == 1
    assert (
        f"servers.s.url at {path}:4:10 ends in `/api`, and the API's paths already start with `/api` "
        f"(this request went to /api{first_path}"
    ) in result.stderr
    assert "remove the trailing `/api` from the url" in result.stderr
    assert "check servers.s." not in result.stderr.replace("check servers.s.url", "")


@pytest.mark.serve
def test_https_against_a_plain_http_port_names_tls(served_world: World) -> None:
    url = served_world.url.replace("http://", "https://")
    path = one_server(served_world, "kubiya", url, "    token: ${env:RC_KUBIYA_TOKEN}\n", KUBIYA_BODY)
    result = served_world.run("plan", path)
    assert result.exit_code == 1
    assert f"GET {url}/api/v1/custom-integrations: connection to s failed: the TLS handshake failed" in result.stderr
    assert "is it an http:// server, or is its certificate not trusted?" in result.stderr
    assert f"check servers.s.url at {path}:4:10" in result.stderr


def agent_file(world: World, agent: str) -> Path:
    return world.write(
        "agents.yaml",
        f'servers:\n  s:\n    kind: console\n    url: "{world.url}"\n    api_key: ${{env:MY_CONSOLE_KEY}}\n'
        "channels:\n  - server: s\n    family: mcp_server\n    name: c\n"
        f"    agent: {agent}\n    server_url: https://m\n",
    )


@pytest.mark.parametrize(
    ("agent", "key", "suggestion"),
    [
        ("agt_dmeo", "sk_sandbox", ": did you mean `agt_demo`?"),
        ("zzz", "sk_sandbox", "; agents this API key sees: agt_demo, agt_noflow"),
        ("agt_dmeo", "sk_sandbox_readonly", " (this API key cannot list agents to suggest one)"),
    ],
    ids=["close", "none-close", "key-cannot-list"],
)
def test_an_unknown_agent_points_at_its_agent_line(world: World, agent: str, key: str, suggestion: str) -> None:
    path = agent_file(world, agent)
    result = world.run("plan", path, env={"MY_CONSOLE_KEY": key})
    assert result.exit_code == 1
    assert f"agent '{agent}' was not found (GET /api/v1/console/agents/{agent}/integrations/" in result.stderr
    assert f"check `agent: {agent}` at {path}:10:12{suggestion}" in result.stderr


@dataclass
class Fault:
    """Which fault the sandbox's transport injects: `None` for none."""

    reads_fail: bool | None = None


class Published102(httpx.AsyncBaseTransport):
    """kubiya-control-plane-api 1.0.2 as published: every write is carried out, and every answer
    whose body holds a row is a plain-text 500 (its response model declares `created_at: str`
    for a DateTime column, so serializing a row fails after the commit); an empty list still
    serializes. With `reads_fail=False` only the answers to writes are lost.

    With `reads_fail=True`, reads fail only once an integration has been written (the apply
    lock's own create and reads pass): the published router would refuse the lock too, and
    what is tested here is the create whose answer and follow-up read were both lost."""

    def __init__(self, inner: httpx.AsyncBaseTransport, fault: Fault) -> None:
        self.inner = inner
        self.fault = fault
        self.written = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        reads_fail = self.fault.reads_fail
        if reads_fail is None:
            return await self.inner.handle_async_request(request)
        lock = b"reconciler-lock" in request.content
        if request.method == "GET" and self.written:
            return httpx.Response(500, text="Internal Server Error")
        response = await self.inner.handle_async_request(request)
        await response.aread()
        holds_rows = response.status_code in (200, 201) and response.content not in (b"[]", b"")
        if request.method == "POST" and holds_rows and not (lock and reads_fail):
            self.written = reads_fail and not lock
            return httpx.Response(500, text="Internal Server Error")
        return response


@pytest.fixture
def published_102(monkeypatch: pytest.MonkeyPatch) -> Fault:
    from reconciler.sandbox import transport as sandbox_transport_module

    real = sandbox_transport_module.transport
    fault = Fault()
    # No waiting between retries: what is asserted is what was tried, not when.
    monkeypatch.setattr("reconciler.platforms.retry.random.uniform", lambda low, high: 0.0)
    monkeypatch.setattr(
        sandbox_transport_module, "transport", lambda url, app=None: Published102(real(url, app), fault)
    )
    return fault


def kubiya_file(world: World) -> Path:
    return world.write(
        "kubiya.yaml",
        f'servers:\n  k:\n    kind: kubiya\n    url: "{world.url}"\n    parallelism: 1\n'
        "integrations:\n  - {name: pg, server: k, type: postgres, config: {}}\n",
    )


def rows_named(world: World, name: str) -> int:
    result = world.run("export", kubiya_file(world), "--server", "k")
    return result.stdout.count(f"name: {name}")


def test_a_create_whose_answer_was_a_500_after_the_write_is_adopted(
    world: World, published_102: Fault
) -> None:
    published_102.reads_fail = False
    path = kubiya_file(world)
    result = world.run("apply", path, "--auto-approve")
    assert result.exit_code == 0, result.output
    assert "adopted: written by an earlier try whose answer was lost" in result.output
    published_102.reads_fail = None
    assert world.run("plan", path, "--detailed-exitcode").exit_code == 0
    assert rows_named(world, "pg") == 1


def test_against_the_published_router_a_create_may_have_been_written_and_a_rerun_converges(
    world: World, published_102: Fault
) -> None:
    published_102.reads_fail = True
    path = kubiya_file(world)
    result = world.run("apply", path, "--auto-approve")
    assert result.exit_code == 1
    assert (
        "POST /api/v1/custom-integrations: HTTP 500; reading it back then failed "
        "(GET /api/v1/custom-integrations answered 500: Internal Server Error): "
        "it may have been written; the next plan will tell"
    ) in result.output
    assert "carried out anyway" not in result.output
    assert "Traceback" not in result.output
    published_102.reads_fail = None
    again = world.run("apply", path, "--auto-approve")
    assert again.exit_code == 0, again.output
    assert "No changes. The live state matches the desired state." in again.output
    assert rows_named(world, "pg") == 1
