"""Where a `sandbox:` server keeps its state: relative paths are resolved against the
desired-state file, the command says which database it uses, and the read-only commands
(plan, drift) never create a database or a directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.sandbox.transport import forget
from tests.cli.conftest import BASIC, World, servers_yaml


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A working directory that is not the desired-state file's."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    yield cwd
    forget()


def test_a_relative_sandbox_path_is_beside_the_file(world: World, elsewhere: Path) -> None:
    path = world.write("team/desired.yaml", servers_yaml("sandbox:", creds=False) + BASIC)
    db = world.tmp / "team" / ".reconciler" / "sandbox.db"
    applied = world.run("apply", path, "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert f"Sandbox database {db} (servers kubiya, orkes, console): does not exist yet; created." in applied.stderr
    assert db.is_file()
    assert not (elsewhere / ".reconciler").exists()
    again = world.run("plan", path, "--detailed-exitcode")
    assert again.exit_code == 0, again.output
    assert f"Sandbox database {db} (servers kubiya, orkes, console)." in again.stderr


def test_a_relative_sandbox_file_names_a_path_from_the_file(world: World, elsewhere: Path) -> None:
    path = world.write("team/desired.yaml", servers_yaml("sandbox:state/s.db", creds=False) + BASIC)
    assert world.run("apply", path, "--auto-approve").exit_code == 0
    assert (world.tmp / "team" / "state" / "s.db").is_file()


@pytest.mark.parametrize("command", ["plan", "drift"])
def test_plan_and_drift_create_no_database(world: World, elsewhere: Path, command: str) -> None:
    missing = world.tmp / "nonexistent" / "dir" / "x.db"
    path = world.write("desired.yaml", servers_yaml(f"sandbox:{missing}", creds=False) + BASIC)
    result = world.run(command, path, "--detailed-exitcode") if command == "plan" else world.run(command, path)
    assert result.exit_code == 2, result.output  # changes (plan) or drift: everything is missing
    assert "does not exist yet; read as an empty sandbox, not created." in result.stderr
    assert not (world.tmp / "nonexistent").exists()
    assert not (elsewhere / ".reconciler").exists()
