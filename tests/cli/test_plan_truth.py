"""What a plan promises and a pipeline relies on: usage errors exit 1 on every command, a
saved plan is recognised where desired-state files are expected, a refused plan saves nothing,
the saved plan matches its schema and applies from any directory, and `--replace` names what
it replaces."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest

from tests.cli.conftest import BASIC, World

SCHEMA = json.loads((Path(__file__).parents[2] / "schemas" / "plan.schema.json").read_text())


@pytest.mark.parametrize(
    "args",
    [
        ("validate", "--strict-secret"),
        ("plan", "--max-delete", "3"),
        ("apply", "--auto-aprove"),
        ("drift", "--ignore-unmanged"),
        ("export", "--format", "yaml"),
        ("sandbox", "serve", "--port", "http"),
        ("sandbox", "reset", "--bogus"),
        ("force-unlock", "--bogus"),
        ("init", "--bogus"),
        ("schema", "--bogus"),
        ("completion", "tcsh"),
        ("gitlab-note", "--bogus"),
        ("no-such-command",),
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_a_usage_error_exits_1_never_2(world: World, args: tuple[str, ...]) -> None:
    result = world.run(*args)
    assert result.exit_code == 1
    assert "Error:" in result.stderr


def test_plan_given_a_saved_plan_says_to_apply_it(world: World) -> None:
    plan_file = world.tmp / "plan.json"
    assert world.run("plan", world.desired(), "--out", plan_file).exit_code == 0
    result = world.run("plan", plan_file)
    assert result.exit_code == 1
    assert f"use `reconciler apply {plan_file}` to apply it" in result.stderr
    assert "unknown field" not in result.stderr


@pytest.mark.parametrize("gate", [("--fail-on", "create"), ("--max-changes", "1")], ids=["fail-on", "max-changes"])
def test_a_refused_plan_saves_no_plan_file(world: World, gate: tuple[str, str]) -> None:
    plan_file = world.tmp / "plan.json"
    result = world.run("plan", world.desired(), "--out", plan_file, *gate)
    assert result.exit_code == 1
    assert f"no plan was saved to {plan_file}" in result.stderr
    assert "apply it with" not in result.stderr
    assert not plan_file.exists()


def test_the_saved_plan_matches_the_plan_schema(world: World) -> None:
    plan_file = world.tmp / "plan.json"
    assert world.run("plan", world.desired(), "--out", plan_file, "--target", "integration.kubiya").exit_code == 0
    errors = [e.message for e in jsonschema.Draft202012Validator(SCHEMA).iter_errors(json.loads(plan_file.read_text()))]
    assert errors == []


def test_apply_refuses_a_plan_file_off_the_schema_naming_the_field(world: World) -> None:
    plan_file = world.tmp / "plan.json"
    assert world.run("plan", world.desired(), "--out", plan_file).exit_code == 0
    doc = json.loads(plan_file.read_text())
    doc["changes"][0]["surprise"] = 1
    plan_file.write_text(json.dumps(doc))
    result = world.run("apply", plan_file)
    assert result.exit_code == 1
    assert "changes[0]: unknown field(s) 'surprise'" in result.stderr
    assert world.integrations() == []


def test_a_saved_plan_applies_from_another_directory(world: World) -> None:
    (world.tmp / "plans").mkdir()
    plan_file = world.tmp / "plans" / "plan.json"
    assert world.run("plan", world.desired(), "--out", plan_file).exit_code == 0
    assert json.loads(plan_file.read_text())["sources"]["paths"] == ["../desired.yaml"]
    here = os.getcwd()
    os.chdir("/")
    try:
        result = world.run("apply", plan_file)
    finally:
        os.chdir(here)
    assert result.exit_code == 0, result.output
    assert sorted(world.integration_names()) == ["cache", "pg-main"]


def test_replace_of_an_unchanged_resource_says_it_was_requested(world: World) -> None:
    path = world.desired()
    assert world.run("apply", path, "--auto-approve").exit_code == 0
    result = world.run("plan", path, "--replace", "integration.kubiya.cache")
    assert result.exit_code == 0, result.output
    assert (
        "# integration.kubiya.cache will be replaced (deleted, then created): "
        "its replacement was requested (--replace)"
    ) in result.stdout


@pytest.mark.parametrize(
    ("flag", "typo", "suggestion"),
    [
        ("--replace", "integration.kubiya.cahce", "integration.kubiya.cache"),
        ("--target", "integration.kubiya.pg-mian", "integration.kubiya.pg-main"),
        ("--exclude", "provider.orkes.local-lm", "provider.orkes.local-llm"),
    ],
)
def test_an_address_matching_nothing_is_an_error_with_a_suggestion(
    world: World, flag: str, typo: str, suggestion: str
) -> None:
    result = world.run("plan", world.desired(), flag, typo)
    assert result.exit_code == 1
    assert f"{flag} {typo} matches no resource" in result.stderr
    assert f"(did you mean {suggestion}?)" in result.stderr


def test_an_unquoted_segment_holding_a_dot_is_suggested_quoted(world: World) -> None:
    body = BASIC.replace("{name: llama3, description: Chat}", '{name: "llama3.1", description: Chat}')
    result = world.run("plan", world.desired(body), "--replace", "model.orkes.local-llm.llama3.1")
    assert result.exit_code == 1
    assert '(did you mean model.orkes.local-llm."llama3.1"?)' in result.stderr
    assert "quote a segment holding dots" in result.stderr


LITERAL = """
integrations:
  - name: app
    server: kubiya
    type: postgres
    config:
      env_vars: {DB_PASSWORD: hunter2-literal, PGHOST: db.internal}
      secrets: [PG_PASSWORD]
"""


def test_a_literal_under_a_secret_named_key_is_masked_on_create_in_every_view_and_the_plan_file(
    world: World,
) -> None:
    path = world.desired(LITERAL)
    plan_file = world.tmp / "plan.json"
    texts = {
        fmt: world.run("plan", path, "--format", fmt, "--no-color", *extra).stdout
        for fmt, extra in (("human", ()), ("json", ("--out", str(plan_file))), ("markdown", ()))
    }
    texts["plan file"] = plan_file.read_text()
    assert {name: "hunter2-literal" in text for name, text in texts.items()} == {name: False for name in texts}
    assert "+ config.env_vars.DB_PASSWORD = (sensitive)" in texts["human"]
    # Vault secret names are names, not secrets: shown.
    assert '+ config.secrets = ["PG_PASSWORD"]' in texts["human"]
    (change,) = json.loads(texts["json"])["changes"]
    masked = {f["path"]: (f["after"], f["sensitive"]) for f in change["fields"]}
    assert masked["config.env_vars.DB_PASSWORD"] == ("(sensitive)", True)


def test_validate_warns_on_a_literal_under_a_secret_named_key_without_echoing_it(world: World) -> None:
    result = world.run("validate", world.desired(LITERAL), "--format", "json")
    assert result.exit_code == 0, result.output
    (found,) = [d for d in json.loads(result.stdout)["diagnostics"] if d["code"] == "secret.literal-named"]
    assert found["severity"] == "warning"
    assert "config.env_vars.DB_PASSWORD" in found["message"]
    assert "hunter2-literal" not in result.output


LLM = """
providers:
  - name: llm
    server: orkes
    type: openai
    configuration: {api_key: "${env:LLM_KEY}", endpoint: "https://api.openai.com"}
    tags: {team: a}
    apis:
      - {name: chat, enabled: true}
      - {name: old-model}
"""
AZURE = """
providers:
  - name: llm
    server: orkes
    type: azure_openai
    lifecycle: {replace_on_type_change: true}
    configuration: {api_key: "${env:LLM_KEY}", endpoint: "https://llm.openai.azure.com"}
    tags: {team: b}
    apis:
      - {name: chat, enabled: false}
"""


def test_a_replacement_shows_every_field_and_its_models_and_counts_as_apply_does(world: World) -> None:
    env = {"LLM_KEY": "sk-llm-key-123"}
    assert world.run("apply", world.desired(LLM, name="llm.yaml"), "--auto-approve", env=env).exit_code == 0
    path = world.desired(AZURE, name="llm.yaml")
    plan = world.run("plan", path, "--format", "json", env=env)
    assert plan.exit_code == 0, plan.output
    changes = {c["address"]: c for c in json.loads(plan.stdout)["changes"] if c["action"] != "no-op"}
    assert {a: (c["action"], c["reason"]) for a, c in changes.items()} == {
        "provider.orkes.llm": ("replace", "type_changed"),
        "model.orkes.llm.chat": ("replace", "parent_replaced"),
        "model.orkes.llm.old-model": ("delete", "parent_replaced"),
    }
    provider = {f["path"]: f["forces_replacement"] for f in changes["provider.orkes.llm"]["fields"]}
    assert {p: f for p, f in provider.items() if p != "configuration.api_key"} == {
        "configuration.endpoint": False,
        "tags[0].value": False,
        "type": True,
    }
    assert [(f["path"], f["before"], f["after"]) for f in changes["model.orkes.llm.chat"]["fields"]] == [
        ("enabled", True, False)
    ]
    human = world.run("plan", path, "--no-color", env=env).stdout
    assert "Plan: 0 to add, 0 to change, 2 to replace, 1 to destroy." in human
    drift = json.loads(world.run("drift", path, "--format", "json", env=env).stdout)
    assert drift["replacements"] == 2
    applied = world.run("apply", path, "--auto-approve", env=env)
    assert "Apply complete: 0 added, 0 changed, 2 replaced, 1 destroyed." in applied.stdout
