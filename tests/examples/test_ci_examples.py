"""Runs the commands of every CI example (GitHub Actions, GitLab CI, the drift cron job)
against the sandbox, in the order the pipelines run them: pull request, merge, nightly cron."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / "examples" / "ci"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A checkout: `integrations/` holds the quickstart (sandbox urls, no credentials needed),
    and `reconciler` on PATH runs this interpreter's package."""
    (tmp_path / "integrations").mkdir()
    shutil.copy(ROOT / "examples" / "quickstart.yaml", tmp_path / "integrations" / "quickstart.yaml")
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "reconciler").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m reconciler.cli "$@"\n')
    (shim / "reconciler").chmod(0o755)
    return tmp_path


def sh(workdir: Path, command: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{workdir / 'bin'}{os.pathsep}{os.environ['PATH']}", "NO_COLOR": "1"}
    env.pop("DRIFT_WEBHOOK_URL", None)
    return subprocess.run(
        ["bash", "-c", command], cwd=workdir, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def reconciler_lines(commands: list[str]) -> list[str]:
    return [c.strip() for c in commands if c.strip().startswith("reconciler ")]


def github_commands(job: str) -> list[str]:
    workflow = yaml.safe_load((CI / "github-actions.yml").read_text())
    return reconciler_lines([step["run"] for step in workflow["jobs"][job]["steps"] if "run" in step])


def gitlab_commands(job: str) -> list[str]:
    pipeline = yaml.safe_load((CI / "gitlab-ci.yml").read_text())
    return reconciler_lines(pipeline[job]["script"])


def run_all(workdir: Path, commands: list[str]) -> None:
    assert commands
    for command in commands:
        done = sh(workdir, command)
        assert done.returncode == 0, (command, done.stdout[-2000:], done.stderr[-2000:])
        assert "Traceback" not in done.stderr


def test_github_actions_pull_request_then_merge(workdir: Path) -> None:
    run_all(workdir, github_commands("plan"))
    comment = (workdir / "plan.md").read_text()
    assert "plan: 10 to add, 0 to change, 0 to replace, 0 to destroy" in comment
    assert json.loads((workdir / "plan.json").read_text())["format"] == "reconciler-plan"
    run_all(workdir, github_commands("apply"))
    again = sh(workdir, "reconciler plan integrations/ --detailed-exitcode")
    assert again.returncode == 0, again.stdout


def test_gitlab_merge_request_then_default_branch(workdir: Path) -> None:
    for job in ("validate", "plan", "apply"):
        run_all(workdir, gitlab_commands(job))
    assert json.loads((workdir / "validate.json").read_text())["format"] == "reconciler-diagnostics"
    assert "plan: 10 to add" in (workdir / "plan.md").read_text()
    assert sh(workdir, "reconciler plan integrations/ --detailed-exitcode").returncode == 0


def test_drift_cron_reports_clean_then_drift(workdir: Path) -> None:
    shutil.copy(CI / "drift-cron.sh", workdir / "drift-cron.sh")
    first = sh(workdir, "./drift-cron.sh")
    assert first.returncode == 2 and "drift found" in first.stdout  # nothing applied yet: all missing
    assert json.loads((workdir / "drift.json").read_text())["counts"]["missing"] == 10
    assert sh(workdir, "reconciler apply integrations/ --auto-approve").returncode == 0
    clean = sh(workdir, "./drift-cron.sh")
    assert clean.returncode == 0 and "no drift" in clean.stdout
    # Someone edits a provider by hand, behind git's back.
    edit = (
        "import asyncio, httpx\n"
        "from reconciler.sandbox.transport import transport\n"
        "async def main():\n"
        "    async with httpx.AsyncClient(transport=transport('sandbox:'), base_url='http://s') as c:\n"
        "        t = (await c.post('/api/token', json={'keyId': 'sandbox-key-id', 'keySecret': 'sandbox-key-secret'})).json()['token']\n"
        "        r = await c.post('/api/integrations/provider/local-llm', headers={'X-Authorization': t},\n"
        "            json={'type': 'ollama', 'description': 'edited by hand', 'enabled': True, 'configuration': {'endpoint': 'http://other:11434'}})\n"
        "        assert r.status_code == 200, r.text\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run([sys.executable, "-c", edit], cwd=workdir, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    drifted = sh(workdir, "./drift-cron.sh")
    assert drifted.returncode == 2 and "drift found" in drifted.stdout
    report = json.loads((workdir / "drift.json").read_text())
    (item,) = [i for i in report["items"] if i["kind"] == "changed"]
    assert item["address"] == "provider.orkes.local-llm"
    assert {f["path"] for f in item["fields"]} == {"configuration.endpoint", "description"}
