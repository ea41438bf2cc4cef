"""Errors a person can act on: what failed, where it is written, and what to do about it.

Scoped runs that need only the selected servers' credentials; TLS against a plain-http port;
a refused credential named by its variable and location; a base url with an extra path
segment; an unknown console agent pointed at its `agent:` line.
"""

from __future__ import annotations

from pathlib import Path

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
