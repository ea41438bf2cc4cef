"""`reconciler init`, `schema` and `completion`: a new repository that validates and plans
against the sandbox as written, the schema its files point at, and shell completion of
server names and addresses from the desired-state files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.shell_completion import ShellComplete
from click.testing import CliRunner

from reconciler.cli import main
from reconciler.scaffold import SANDBOX_CREDENTIALS

REPO = Path(__file__).resolve().parents[2]


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    code, _, err = run("init", "repo")
    assert code == 0, err
    monkeypatch.chdir(tmp_path / "repo")
    return tmp_path / "repo"


def test_init_then_validate_then_plan_against_the_sandbox(fresh: Path) -> None:
    env = dict(SANDBOX_CREDENTIALS)
    assert run("validate", "integrations/", "--strict-secrets", env=env)[0] == 0
    code, out, err = run("plan", "integrations/", "--detailed-exitcode", "--no-color", env=env)
    assert code == 2, err
    assert "Plan: 4 to add, 0 to change, 0 to replace, 0 to destroy." in out


def test_init_writes_credentials_as_references_only(fresh: Path) -> None:
    servers = (fresh / "integrations" / "servers.yaml").read_text()
    assert [line.split(":", 1)[1].strip() for line in servers.splitlines() if line.strip().startswith(("token:", "key_id:", "key_secret:", "api_key:"))] == [
        "${env:KUBIYA_TOKEN}", "${env:ORKES_KEY_ID}", "${env:ORKES_KEY_SECRET}", "${env:CONSOLE_API_KEY}",
    ]


def test_the_modeline_points_at_the_schema_written_beside_it(fresh: Path) -> None:
    for name in ("servers.yaml", "examples.yaml"):
        first = (fresh / "integrations" / name).read_text().splitlines()[0]
        target = first.removeprefix("# yaml-language-server: $schema=")
        assert target != first
        assert (fresh / "integrations" / target).read_text() == (REPO / "schemas" / "desired-state.schema.json").read_text()


def test_init_ignores_the_local_state_and_writes_the_example_workflow(fresh: Path) -> None:
    assert ".reconciler/" in (fresh / ".gitignore").read_text().splitlines()
    workflow = (fresh / ".github" / "workflows" / "integrations.yml").read_text()
    assert workflow == (REPO / "examples" / "ci" / "github-actions.yml").read_text()


def test_init_never_overwrites(fresh: Path) -> None:
    (fresh / "integrations" / "servers.yaml").write_text("# mine\n")
    code, _, err = run("init", ".")
    assert code == 1
    assert "already exist(s); init never overwrites" in err
    assert (fresh / "integrations" / "servers.yaml").read_text() == "# mine\n"


def test_schema_prints_the_json_schema() -> None:
    code, out, _ = run("schema")
    assert code == 0
    assert json.loads(out) == json.loads((REPO / "schemas" / "desired-state.schema.json").read_text())


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_a_script_for_the_shell(shell: str) -> None:
    code, out, _ = run("completion", shell)
    assert code == 0
    assert "_RECONCILER_COMPLETE" in out
    assert f"{shell}_complete" in out


def completions(args: list[str], incomplete: str) -> list[str]:
    return [c.value for c in ShellComplete(main, {}, "reconciler", "_RECONCILER_COMPLETE").get_completions(args, incomplete)]


def test_server_names_complete_from_the_desired_files() -> None:
    assert completions(["plan", str(REPO / "examples" / "quickstart.yaml"), "--server"], "") == ["console", "kubiya", "orkes"]


def test_addresses_complete_from_the_desired_files_without_their_secrets() -> None:
    # The quickstart needs no variable; one holding references completes all the same.
    found = completions(["apply", str(REPO / "examples" / "quickstart.yaml"), "--target"], "provider.")
    assert found == ["provider.orkes.events-bus", "provider.orkes.local-llm"]


def test_addresses_complete_from_integrations_by_default(fresh: Path) -> None:
    assert completions(["plan", "--exclude"], "channel.") == ["channel.console.agt_demo.mcp_server.docs-search"]
