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
