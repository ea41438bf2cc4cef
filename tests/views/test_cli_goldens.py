"""Goldens of what the command line shows in the cases a pipeline must read right: a plan
refused by `--fail-on` or `--max-deletes`, a `--target`/`--exclude`/`--replace` address that
matches nothing (with its did-you-mean), a literal value under a secret-named key, and a saved
plan given to `reconciler plan`; each in the human, JSON and Markdown formats.

Each golden is a transcript of one run against the in-process sandbox: the command, its exit
code, its stdout and its stderr. What differs from run to run (the temporary directory, server
ids, timestamps, the plan's salt) is replaced by a placeholder before the comparison.
`UPDATE_GOLDEN=1 python3 -m pytest tests/views` rewrites them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reconciler.sandbox.transport import forget
from tests.cli.conftest import BASIC, World

Golden = Callable[[str, str], None]

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_CHANNEL_ID = re.compile(r"\bch_[0-9a-f]{24}\b")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?")
_SALT = re.compile(r'"variables_salt": "[0-9a-f]+"')
# Conductor's version of a provider or model is its update time in milliseconds.
_MILLIS = re.compile(r'"live_version": "\d{12,}"')

# The plan after BASIC is applied: pg-main changes, cache goes, a new integration comes.
CHANGED = BASIC.replace("description: Main database", "description: Primary database").replace(
    """  - name: cache
    server: kubiya
    type: redis
    description: Session cache
    config:
      env_vars: {REDIS_URL: "redis://cache.internal:6379/0"}
""",
    """  - name: queue
    server: kubiya
    type: rabbitmq
    description: Job queue
    config:
      env_vars: {AMQP_HOST: mq.internal}
""",
)

# BASIC without its cache integration and its provider: with --prune, two deletes (the
# provider's model goes with it, uncounted).
SHRUNK = BASIC.split("  - name: cache")[0] + "channels:" + BASIC.split("channels:")[1]

LITERAL_SECRET = BASIC.replace(
    'env_vars: {PGHOST: db.internal, PGPORT: "5432"}',
    'env_vars: {PGHOST: db.internal, PGPORT: "5432", DB_PASSWORD: hunter2-literal}',
)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    # Run from the world's directory, so that file names read as they would in a repository.
    monkeypatch.chdir(tmp_path)
    url = f"sandbox:{tmp_path / 's.db'}"
    try:
        yield World(tmp_path, url)
    finally:
        forget(url)


def transcript(world: World, *args: str) -> str:
    """`reconciler ARGS` run once, as a transcript with the run-to-run differences replaced."""
    result = world.run(*args)
    text = (
        f"$ reconciler {' '.join(args)}\n"
        f"# exit code {result.exit_code}\n"
        f"# stdout\n{result.stdout}"
        f"# stderr\n{result.stderr}"
    )
    text = text.replace(str(world.tmp), "<tmp>")
    text = _UUID.sub("<uuid>", text)
    text = _CHANNEL_ID.sub("ch_<id>", text)
    text = _TIME.sub("<time>", text)
    text = _MILLIS.sub('"live_version": "<time>"', text)
    return _SALT.sub('"variables_salt": "<salt>"', text)


def applied(world: World, body: str = BASIC) -> None:
    """`body` applied, and the file rewritten for the next step."""
    world.desired(body, name="desired.yaml")
    result = world.run("apply", "desired.yaml", "--auto-approve")
    assert result.exit_code == 0, result.output


FORMATS = ["human", "json", "markdown"]


REFUSALS = {
    "fail_on": (CHANGED, ["--fail-on", "delete"]),
    "max_deletes": (SHRUNK, ["--max-deletes", "1"]),
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("refusal", sorted(REFUSALS))
def test_golden_plan_refused(world: World, golden: Golden, refusal: str, fmt: str) -> None:
    """A refused plan says why, in each format, and writes no plan file."""
    body, flags = REFUSALS[refusal]
    applied(world)
    world.desired(body, name="desired.yaml")
    args = ["plan", "desired.yaml", "--prune", *flags, "--out", "plan.json", "--format", fmt]
    golden(f"cli_plan_refused_{refusal}_{fmt}.txt", transcript(world, *args))
    assert not (world.tmp / "plan.json").exists()


@pytest.mark.parametrize("fmt", FORMATS)
def test_golden_addresses_matching_nothing_suggest_the_close_one(world: World, golden: Golden, fmt: str) -> None:
    applied(world)
    args = [
        "plan",
        "desired.yaml",
        "--target",
        "integration.kubiya.pg-mian",
        "--exclude",
        "provider.orkes.local-lm",
        "--replace",
        "channel.console.agt_demo.mcp_server.docs-serach",
        "--format",
        fmt,
    ]
    golden(f"cli_plan_did_you_mean_{fmt}.txt", transcript(world, *args))


def test_golden_an_unquoted_dotted_name_suggests_the_quoted_address(world: World, golden: Golden) -> None:
    world.desired(BASIC.replace("{name: llama3,", '{name: "llama3.1",'), name="desired.yaml")
    args = ["plan", "desired.yaml", "--replace", "model.orkes.local-llm.llama3.1"]
    golden("cli_plan_did_you_mean_quoting_human.txt", transcript(world, *args))


@pytest.mark.parametrize("fmt", ["human", "json"])
def test_golden_validate_warns_on_a_literal_under_a_secret_named_key(world: World, golden: Golden, fmt: str) -> None:
    world.desired(LITERAL_SECRET, name="desired.yaml")
    text = transcript(world, "validate", "desired.yaml", "--format", fmt)
    golden(f"cli_validate_secret_literal_named_{fmt}.txt", text)
    assert "hunter2-literal" not in text


@pytest.mark.parametrize("fmt", FORMATS)
def test_golden_plan_warns_on_a_literal_under_a_secret_named_key(world: World, golden: Golden, fmt: str) -> None:
    world.desired(LITERAL_SECRET, name="desired.yaml")
    text = transcript(world, "plan", "desired.yaml", "--target", "integration.kubiya.pg-main", "--format", fmt)
    golden(f"cli_plan_secret_literal_named_{fmt}.txt", text)
    assert "hunter2-literal" not in text


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("command", ["plan", "drift"])
def test_golden_a_saved_plan_where_desired_files_are_expected(
    world: World, golden: Golden, command: str, fmt: str
) -> None:
    """Refused in the command's format, on stdout too: a pipeline posts stdout as its comment."""
    world.desired(BASIC, name="desired.yaml")
    assert world.run("plan", "desired.yaml", "--out", "plan.json").exit_code == 0
    golden(f"cli_{command}_saved_plan_{fmt}.txt", transcript(world, command, "plan.json", "--format", fmt))
