"""A refused Conductor key names both credential variables; a 403 states its status once."""

from __future__ import annotations

from tests.cli.conftest import World

CONDUCTOR = (
    "    key_id: ${env:MY_ORKES_ID}\n    key_secret: ${env:MY_ORKES_SECRET}\n"
    "providers:\n  - {name: p, server: s, type: openai, configuration: {api_key: '${env:MY_OPENAI_KEY}'}}\n"
)
CONSOLE = (
    "    api_key: ${env:MY_CONSOLE_KEY}\n"
    "channels:\n  - {server: s, agent: agt_demo, family: mcp_server, name: c, server_url: 'https://m'}\n"
)


def test_a_refused_conductor_key_names_its_variables(world: World) -> None:
    path = world.write("c.yaml", f'servers:\n  s:\n    kind: conductor\n    url: "{world.url}"\n{CONDUCTOR}')
    result = world.run("plan", path, env={"MY_ORKES_ID": "wrong-id", "MY_ORKES_SECRET": "wrong-secret-value", "MY_OPENAI_KEY": "k"})
    assert result.exit_code == 1, result.output
    assert "POST /api/token answered 401" in result.stderr
    assert f"check servers.s.key_id (${{env:MY_ORKES_ID}}) at {path}:5:13" in result.stderr
    assert f"servers.s.key_secret (${{env:MY_ORKES_SECRET}}) at {path}:6:17" in result.stderr
    assert "wrong-secret-value" not in result.output
    assert "Traceback" not in result.output


def test_a_forbidden_call_names_its_status_once(world: World) -> None:
    path = world.write("k.yaml", f'servers:\n  s:\n    kind: console\n    url: "{world.url}"\n{CONSOLE}')
    result = world.run("apply", path, "--auto-approve", env={"MY_CONSOLE_KEY": "sk_sandbox_readonly"})
    assert result.exit_code == 1, result.output
    failure = next(line for line in result.output.splitlines() if "answered 403" in line)
    assert failure.count("403") == 1, failure
