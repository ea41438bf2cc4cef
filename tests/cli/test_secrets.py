"""Secrets never leak: not on stdout or stderr, not in a plan file, a drift report, an export
or a log record, whatever the command, the format, or the failure.

The CLI scrubs every line it prints of the secret values it resolved, as a last line of
defence. The suite runs twice: with that scrubber, as users get it, and with it switched off,
to show that the layers below leak nothing on their own (the files they write are not scrubbed
at all).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from click.testing import Result

from reconciler import cli
from tests.cli.conftest import CREDS_ENV, World, servers_yaml

OPENAI_KEY = "S3cr3t-VALUE-xyz"
DOCS_TOKEN = "S3cr3t-TOKEN-abc"
PG_PASSWORD = "S3cr3t-PG-789"
ROTATED_KEY = "S3cr3t-ROTATED-qrs"

DESIRED = """
integrations:
  - name: pg-main
    server: kubiya
    type: postgres
    description: Main database
    config:
      env_vars: {PGHOST: db.internal, PGPASSWORD: "${env:PG_PASSWORD}"}
providers:
  - name: openai-marketing
    server: orkes
    type: openai
    description: Marketing models
    configuration: {api_key: "${env:OPENAI_API_KEY}"}
    apis:
      - {name: gpt-4o, description: GPT-4o}
channels:
  - server: console
    agent: agt_demo
    family: custom_api
    name: docs-api
    base_url: https://docs.example.com/api
    auth_type: bearer
    auth_config: {token: "${env:DOCS_TOKEN}"}
"""

ENV = {"OPENAI_API_KEY": OPENAI_KEY, "DOCS_TOKEN": DOCS_TOKEN, "PG_PASSWORD": PG_PASSWORD}
ROTATED_ENV = {**ENV, "OPENAI_API_KEY": ROTATED_KEY}
SECRETS = (OPENAI_KEY, DOCS_TOKEN, PG_PASSWORD, ROTATED_KEY, *CREDS_ENV.values())


@pytest.fixture(params=["scrubbed", "unscrubbed"])
def scrubbing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "unscrubbed":
        monkeypatch.setattr(cli.Output, "learn", lambda self, secrets: None)
    monkeypatch.setattr(cli.OUT, "secrets", [])
    return str(request.param)


class Leaks:
    """Collects every text a run produced and checks that no secret is in any of them."""

    def __init__(self, world: World, caplog: pytest.LogCaptureFixture) -> None:
        self.world = world
        self.caplog = caplog
        self.seen: list[tuple[str, str]] = []

    def run(self, *args: object, env: dict[str, str] | None = None) -> Result:
        result = self.world.run(*args, env=env or ENV)
        label = " ".join(map(str, args[:1]))
        self.seen += [(f"{label} stdout", result.stdout), (f"{label} stderr", result.stderr)]
        return result

    def file(self, path: Path) -> str:
        text = path.read_text(encoding="utf-8")
        self.seen.append((str(path.name), text))
        return text

    def check(self) -> None:
        for record in self.caplog.records:
            self.seen.append((f"log {record.name}", record.getMessage()))
        for where, text in self.seen:
            for secret in SECRETS:
                assert secret not in text, f"{secret!r} leaked into {where}"


@pytest.fixture
def leaks(served_world: World, caplog: pytest.LogCaptureFixture, scrubbing: str) -> Leaks:
    caplog.set_level(logging.DEBUG)
    return Leaks(served_world, caplog)


def test_validate_and_plan(leaks: Leaks) -> None:
    world = leaks.world
    path = world.desired(DESIRED)
    assert leaks.run("validate", path).exit_code == 0
    assert leaks.run("validate", path, "--format", "json").exit_code == 0
    for fmt in ("human", "json", "markdown"):
        result = leaks.run("plan", path, "--format", fmt)
        assert result.exit_code == 0, result.output
        assert "docs-api" in result.stdout
    human = leaks.run("plan", path)
    assert "+ auth_config.token = (sensitive)" in human.stdout
    assert "+ configuration.api_key = (sensitive)" in human.stdout
    assert "+ config.env_vars.PGPASSWORD = (sensitive)" in human.stdout
    plan_file = world.tmp / "plan.json"
    assert leaks.run("plan", path, "--out", plan_file, "--format", "json").exit_code == 0
    assert "(sensitive)" in leaks.file(plan_file)
    leaks.check()


def test_apply_rotate_and_drift(leaks: Leaks) -> None:
    world = leaks.world
    path = world.desired(DESIRED)
    plan_file = world.tmp / "plan.json"
    assert leaks.run("plan", path, "--out", plan_file).exit_code == 0
    leaks.file(plan_file)
    applied = leaks.run("apply", plan_file)
    assert applied.exit_code == 0, applied.output
    assert leaks.run("plan", path, "--detailed-exitcode").exit_code == 0

    # A rotated key is seen through its fingerprint, and shown masked.
    rotated = leaks.run("plan", path, "--format", "json", env=ROTATED_ENV)
    assert '"reason": "write_only_changed"' in rotated.stdout
    assert (
        leaks.run("apply", path, "--auto-approve", "--format", "json", env=ROTATED_ENV).exit_code
        == 0
    )

    # Drift of the secret-bearing integration, in every format, and its report file.
    row = world.integration("pg-main")
    world.kubiya(
        "PUT",
        f"/{row['id']}",
        json_body={
            "config": {"env_vars": {"PGHOST": "db.internal", "PGPASSWORD": "changed-by-hand"}}
        },
    )
    report = world.tmp / "drift.json"
    for fmt in ("human", "json", "markdown"):
        result = leaks.run("drift", path, "--format", fmt, "--out", report, env=ROTATED_ENV)
        assert result.exit_code == 2
        assert "config.env_vars.PGPASSWORD" in result.stdout
        leaks.file(report)
    leaks.check()


def test_failing_apply(leaks: Leaks) -> None:
    world = leaks.world
    path = world.desired(DESIRED)
    assert leaks.run("plan", path).exit_code == 0
    # Every write has its connection dropped before the server acts on it. (Conductor's
    # token exchange is a POST too, so that server would fail at reading: leave it out.)
    world.faults(drop_before_rate=1.0)
    # Kubiya's apply lock is a write too: the apply stops there, before any change.
    locked = leaks.run("apply", path, "--auto-approve", "--server", "kubiya")
    assert locked.exit_code == 1
    assert "could not take the lock 'reconciler-lock'" in locked.stderr
    only = ("--server", "console")
    result = leaks.run("apply", path, "--auto-approve", *only)
    assert result.exit_code == 1
    assert "Apply failed: 0 added, 0 changed, 0 replaced, 0 destroyed; 1 failed, 0 skipped." in result.stdout
    assert "✗ channel.console.agt_demo.custom_api.docs-api: create failed" in result.stdout
    json_result = leaks.run("apply", path, "--auto-approve", "--format", "json", *only)
    assert json_result.exit_code == 1
    assert '"outcome": "failed"' in json_result.stdout
    # Every request answered 500/503: the apply cannot even read.
    world.faults(error_rate=1.0)
    refused = leaks.run("apply", path, "--auto-approve")
    assert refused.exit_code == 1
    assert "cannot read the live state" in refused.stderr
    leaks.check()


def test_unreachable_server_messages(leaks: Leaks) -> None:
    world = leaks.world
    path = world.desired(DESIRED)
    world.faults(error_rate=1.0)
    result = leaks.run("plan", path)
    assert result.exit_code == 1
    assert "cannot read the live state" in result.stderr
    leaks.check()


def test_export_of_write_only_secrets(leaks: Leaks) -> None:
    """Conductor masks the key and the console never returns the token: both become references."""
    world = leaks.world
    assert leaks.run("apply", world.desired(DESIRED), "--auto-approve").exit_code == 0
    servers = world.write("servers.yaml", servers_yaml(world.url, creds=True))
    for server, extra in (("orkes", ()), ("console", ("--agent", "agt_demo"))):
        out = world.tmp / f"{server}.yaml"
        assert leaks.run("export", servers, "--server", server, *extra).exit_code == 0
        assert leaks.run("export", servers, "--server", server, "--out", out, *extra).exit_code == 0
        assert "${env:" in leaks.file(out)
    leaks.check()


def test_export_writes_a_declared_secret_as_its_reference(leaks: Leaks) -> None:
    world = leaks.world
    path = world.desired(DESIRED)
    assert leaks.run("apply", path, "--auto-approve").exit_code == 0
    out = world.tmp / "kubiya.yaml"
    result = leaks.run("export", path, "--server", "kubiya", "--out", out)
    assert result.exit_code == 0
    text = leaks.file(out)
    printed = leaks.run("export", path, "--server", "kubiya").stdout
    leaks.check()
    assert "PGPASSWORD: ${env:PG_PASSWORD}" in text
    assert "(sensitive)" not in printed
