"""`reconciler apply`: confirmation, creates, updates, type changes, prune, guards, revival."""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

import pytest

from tests.cli.conftest import BASIC, World

CACHE = """  - name: cache
    server: kubiya
    type: redis
    description: Session cache
    config:
      env_vars: {REDIS_URL: "redis://cache.internal:6379/0"}
"""


def line_of(path_text: str, needle: str) -> int:
    return next(i for i, line in enumerate(path_text.splitlines(), 1) if needle in line)


def test_without_auto_approve_and_no_terminal_nothing_is_written(world: World) -> None:
    result = world.run("apply", world.desired())
    assert result.exit_code == 1
    assert "apply needs confirmation, and standard input is not a terminal" in result.stderr
    assert "hint: review the plan, then run again with --auto-approve" in result.stderr
    assert "+ integration.kubiya.pg-main" in result.stdout  # the plan was shown first
    assert world.integrations() == []


def test_piped_yes_does_not_approve(world: World) -> None:
    # Approval comes from a person at a terminal, never from a pipe.
    result = world.run("apply", world.desired(), input="yes\n")
    assert result.exit_code == 1
    assert world.integrations() == []


def test_auto_approve_applies_and_converges(world: World) -> None:
    path = world.desired()
    result = world.run("apply", path, "--auto-approve")
    assert result.exit_code == 0, result.output
    assert (
        result.stdout.rstrip().splitlines()[-1]
        == "Apply complete: 5 added, 0 changed, 0 replaced, 0 destroyed."
    )
    # Each outcome was recorded on stdout (`apply > apply.log` keeps it), before the summary.
    assert re.search(
        r"^\S+ integration\.kubiya\.pg-main: created \(id [0-9a-f-]{36}\)$", result.stdout, re.M
    )
    assert "integration.kubiya.pg-main: created" not in result.stderr
    assert sorted(world.integration_names()) == ["cache", "pg-main"]
    row = world.integration("pg-main")
    assert row["config"]["env_vars"] == {"PGHOST": "db.internal", "PGPORT": "5432"}
    assert "managed-by:reconciler" in row["tags"]
    again = world.run("plan", path, "--detailed-exitcode")
    assert again.exit_code == 0
    assert again.stdout.strip() == "No changes. The live state matches the desired state."


def test_apply_with_nothing_to_do(world: World) -> None:
    path = world.desired()
    assert world.run("apply", path, "--auto-approve").exit_code == 0
    result = world.run("apply", path)  # no confirmation needed when there is nothing to do
    assert result.exit_code == 0
    assert "No changes." in result.stdout
    assert "Apply complete" not in result.stdout


def test_apply_json_output(world: World) -> None:
    result = world.run("apply", world.desired(), "--auto-approve", "--format", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["format"] == "reconciler-apply"
    assert doc["ok"] is True
    assert doc["summary"]["added"] == 5
    assert {o["outcome"] for o in doc["outcomes"]} == {"done"}


def test_changed_description_is_an_update(world: World) -> None:
    assert world.run("apply", world.desired(), "--auto-approve").exit_code == 0
    before_id = world.integration("pg-main")["id"]
    changed = world.desired(BASIC.replace("Main database", "Primary database"))
    plan = world.run("plan", changed)
    assert "  ~ integration.kubiya.pg-main" in plan.stdout
    assert '~ description: "Main database" -> "Primary database"' in plan.stdout
    assert plan.stdout.rstrip().endswith("Plan: 0 to add, 1 to change, 0 to replace, 0 to destroy.")
    result = world.run("apply", changed, "--auto-approve")
    assert result.exit_code == 0
    assert "Apply complete: 0 added, 1 changed, 0 replaced, 0 destroyed." in result.stdout
    row = world.integration("pg-main")
    assert (row["id"], row["description"]) == (before_id, "Primary database")
    assert world.run("plan", changed, "--detailed-exitcode").exit_code == 0


def test_type_change_is_an_error_naming_the_place_and_both_types(world: World) -> None:
    assert world.run("apply", world.desired(), "--auto-approve").exit_code == 0
    before = world.integrations()
    changed = world.desired(BASIC.replace("type: redis", "type: memcached"))
    line = line_of(changed.read_text(), "- name: cache")  # the diagnostic points at the item
    result = world.run("apply", changed, "--auto-approve")
    assert result.exit_code == 1
    assert (
        f"Error: {changed}:{line}:5: integration.kubiya.cache: "
        "type cannot change from 'redis' to 'memcached'" in (result.stderr)
    )
    assert "replace_on_type_change: true" in result.stderr  # the hint names the way out
    assert "Apply complete" not in result.stdout
    assert world.integrations() == before


def test_type_change_with_replace_on_type_change_replaces(world: World) -> None:
    assert world.run("apply", world.desired(), "--auto-approve").exit_code == 0
    old_id = world.integration("cache")["id"]
    body = BASIC.replace(
        "    type: redis\n", "    type: memcached\n    lifecycle: {replace_on_type_change: true}\n"
    )
    changed = world.desired(body)
    plan = world.run("plan", changed)
    assert plan.exit_code == 0, plan.output
    assert "-/+ integration.kubiya.cache" in plan.stdout
    assert '~ type: "redis" -> "memcached" # forces replacement' in plan.stdout
    assert plan.stdout.rstrip().endswith("Plan: 0 to add, 0 to change, 1 to replace, 0 to destroy.")
    result = world.run("apply", changed, "--auto-approve")
    assert result.exit_code == 0, result.output
    assert "Apply complete: 0 added, 0 changed, 1 replaced, 0 destroyed." in result.stdout
    row = world.integration("cache")
    assert row["integration_type"] == "memcached"
    assert row["id"] != old_id
    assert world.run("plan", changed, "--detailed-exitcode").exit_code == 0


def test_prune_deletes_only_what_reconciler_created(world: World) -> None:
    assert CACHE in BASIC
    hand = world.create_unmanaged("hand-made")
    assert world.run("apply", world.desired(), "--auto-approve").exit_code == 0
    smaller = world.desired(BASIC.replace(CACHE, ""))
    plan = world.run("plan", smaller)
    assert "Unmanaged (not touched):\n  integration.kubiya.hand-made" in plan.stdout
    assert (
        "Orphaned (managed, not in the desired state; use --prune to delete):\n"
        "  integration.kubiya.cache" in (plan.stdout)
    )
    assert "No changes." in plan.stdout
    pruned = world.run("plan", smaller, "--prune")
    assert "  - integration.kubiya.cache" in pruned.stdout
    assert "hand-made" not in pruned.stdout.split("Unmanaged")[0]
    assert pruned.stdout.rstrip().endswith(
        "Plan: 0 to add, 0 to change, 0 to replace, 1 to destroy."
    )
    result = world.run("apply", smaller, "--prune", "--auto-approve")
    assert result.exit_code == 0, result.output
    assert "Apply complete: 0 added, 0 changed, 0 replaced, 1 destroyed." in result.stdout
    names = world.integration_names()
    assert set(names) == {"pg-main", "hand-made"}
    assert world.integration("hand-made")["id"] == hand["id"]


def test_prevent_destroy_refuses_the_plan(world: World) -> None:
    body = BASIC.replace(
        "    type: redis\n", "    type: redis\n    lifecycle: {prevent_destroy: true}\n"
    )
    path = world.desired(body)
    assert world.run("apply", path, "--auto-approve").exit_code == 0
    typed = world.desired(
        body.replace("type: redis", "type: memcached").replace(
            "prevent_destroy: true", "prevent_destroy: true, replace_on_type_change: true"
        )
    )
    before = world.integrations()
    refused = world.run("apply", typed, "--auto-approve")
    assert refused.exit_code == 1
    assert (
        "integration.kubiya.cache would be replaced (deleted, then created), "
        "but lifecycle.prevent_destroy is set" in refused.stderr
    )
    forced = world.run("apply", path, "--replace", "integration.kubiya.cache", "--auto-approve")
    assert forced.exit_code == 1
    assert "lifecycle.prevent_destroy is set" in forced.stderr
    assert world.integrations() == before


def test_max_deletes_guard(world: World) -> None:
    many = "integrations:\n" + "".join(
        f"  - {{name: n{i}, server: kubiya, type: redis, config: {{}}}}\n" for i in range(3)
    )
    assert world.run("apply", world.desired(many), "--auto-approve").exit_code == 0
    empty = world.desired(
        "integrations:\n  - {name: keep, server: kubiya, type: redis, config: {}}\n"
    )
    result = world.run("apply", empty, "--prune", "--max-deletes", "2", "--auto-approve")
    assert result.exit_code == 1
    assert "the plan deletes or replaces 3 resources, more than --max-deletes 2" in result.stderr
    assert set(world.integration_names()) == {"n0", "n1", "n2"}
    ok = world.run("apply", empty, "--prune", "--max-deletes", "3", "--auto-approve")
    assert ok.exit_code == 0
    assert set(world.integration_names()) == {"keep"}


def test_soft_deleted_name_is_revived_not_created(world: World) -> None:
    path = world.desired()
    assert world.run("apply", path, "--auto-approve").exit_code == 0
    row = world.integration("cache")
    assert world.kubiya("DELETE", f"/{row['id']}").status_code == 204
    assert "cache" not in world.integration_names()
    plan = world.run("plan", path)
    assert "+ integration.kubiya.cache" in plan.stdout
    assert "a soft-deleted integration holds the name; it will be revived" in plan.stdout
    result = world.run("apply", path, "--auto-approve")
    assert result.exit_code == 0, result.output
    assert "Apply complete: 1 added, 0 changed, 0 replaced, 0 destroyed." in result.stdout
    revived = world.integration("cache")
    assert revived["id"] == row["id"]
    assert revived["status"] == "active"
    assert world.run("plan", path, "--detailed-exitcode").exit_code == 0


def test_prune_on_conductor_deletes_the_managed_provider_with_its_models_only(world: World) -> None:
    made = world.conductor(
        "POST",
        "/integrations/provider/hand-llm",
        json_body={
            "type": "ollama",
            "category": "AI_MODEL",
            "description": "by hand",
            "enabled": True,
            "configuration": {"endpoint": "http://elsewhere:11434"},
        },
    )
    assert made.status_code == 200, made.text
    assert world.run("apply", world.desired(), "--auto-approve").exit_code == 0
    no_providers = world.desired(
        BASIC.split("providers:")[0] + "channels:" + BASIC.split("channels:")[1]
    )
    plan = world.run("plan", no_providers, "--prune")
    assert "  - provider.orkes.local-llm" in plan.stdout
    # The server deletes the provider's models with it: one delete, not two.
    assert plan.stdout.rstrip().endswith("Plan: 0 to add, 0 to change, 0 to replace, 1 to destroy.")
    assert "Unmanaged (not touched):\n  provider.orkes.hand-llm" in plan.stdout
    result = world.run("apply", no_providers, "--prune", "--auto-approve")
    assert result.exit_code == 0, result.output
    providers = world.conductor("GET", "/integrations/", params={"activeOnly": "false"}).json()
    assert [p["name"] for p in providers] == ["hand-llm"]
    assert world.run("plan", no_providers, "--prune", "--detailed-exitcode").exit_code == 0


def test_changed_channel_is_replaced_with_a_new_id(world: World) -> None:
    assert world.run("apply", world.desired(), "--auto-approve").exit_code == 0
    (old,) = world.console("GET", "/mcp_server").json()["data"]
    moved = world.desired(BASIC.replace("mcp.example.com/docs", "mcp.example.com/v2"))
    result = world.run("apply", moved, "--auto-approve")
    assert result.exit_code == 0, result.output
    assert "-/+ channel.console.agt_demo.mcp_server.docs-search" in result.stdout
    assert "Apply complete: 0 added, 0 changed, 1 replaced, 0 destroyed." in result.stdout
    (new,) = world.console("GET", "/mcp_server").json()["data"]
    assert new["id"] != old["id"]
    assert new["config"]["server_url"] == "https://mcp.example.com/v2"
    assert world.run("plan", moved, "--detailed-exitcode").exit_code == 0


def test_replace_option_recreates_an_unchanged_channel(world: World) -> None:
    path = world.desired()
    assert world.run("apply", path, "--auto-approve").exit_code == 0
    (old,) = world.console("GET", "/mcp_server").json()["data"]
    address = "channel.console.agt_demo.mcp_server.docs-search"
    result = world.run("apply", path, "--replace", address, "--auto-approve")
    assert result.exit_code == 0, result.output
    assert f"-/+ {address}" in result.stdout
    assert result.stdout.rstrip().endswith("Apply complete: 0 added, 0 changed, 1 replaced, 0 destroyed.")
    (new,) = world.console("GET", "/mcp_server").json()["data"]
    assert new["id"] != old["id"]


def test_model_update(world: World) -> None:
    assert world.run("apply", world.desired(), "--auto-approve").exit_code == 0
    changed = world.desired(BASIC.replace("description: Chat", "description: Chat model"))
    result = world.run("apply", changed, "--auto-approve")
    assert result.exit_code == 0, result.output
    assert "  ~ model.orkes.local-llm.llama3" in result.stdout
    assert '~ description: "Chat" -> "Chat model"' in result.stdout
    assert "Apply complete: 0 added, 1 changed, 0 replaced, 0 destroyed." in result.stdout
    api = world.conductor("GET", "/integrations/provider/local-llm/integration/llama3").json()
    assert api["description"] == "Chat model"
    assert world.run("plan", changed, "--detailed-exitcode").exit_code == 0


def test_ignore_changes_hides_a_field_from_plan_and_drift(world: World) -> None:
    body = BASIC.replace(
        "    description: Main database\n",
        "    description: Main database\n    lifecycle: {ignore_changes: [description]}\n",
    )
    path = world.desired(body)
    assert world.run("apply", path, "--auto-approve").exit_code == 0
    row = world.integration("pg-main")
    world.kubiya("PUT", f"/{row['id']}", json_body={"description": "edited in the UI"})
    assert world.run("plan", path, "--detailed-exitcode").exit_code == 0
    assert world.run("drift", path).exit_code == 0
    # A field that is not ignored still shows.
    world.kubiya("PUT", f"/{row['id']}", json_body={"tags": ["managed-by:reconciler", "new"]})
    drift = world.run("drift", path)
    assert drift.exit_code == 2
    assert "tags" in drift.stdout
    assert "description" not in drift.stdout


def test_apply_never_removes_what_the_plan_did_not_show(world: World) -> None:
    assert world.run("apply", world.desired(), "--auto-approve").exit_code == 0
    row = world.integration("pg-main")
    config = {**row["config"], "env_vars": {**row["config"]["env_vars"], "EXTRA": "by-hand"}}
    assert world.kubiya("PUT", f"/{row['id']}", json_body={"config": config}).status_code == 200
    changed = world.desired(BASIC.replace("PGHOST: db.internal", "PGHOST: db2.internal"))
    plan = world.run("plan", changed, "--no-color")
    # The declared env_vars are owned whole: the key added by hand is shown as removed, and
    # apply removes exactly what was shown.
    assert '- config.env_vars.EXTRA = "by-hand"' in plan.stdout
    assert world.run("apply", changed, "--auto-approve").exit_code == 0
    env_vars = world.integration("pg-main")["config"]["env_vars"]
    assert env_vars == {"PGHOST": "db2.internal", "PGPORT": "5432"}


SECRET_ENDPOINT = "http://s3cret-endpoint.internal:11434"


def _broken_save(world: World, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An adapter bug: Kubiya's save raises a KeyError whose text holds a secret value."""
    from reconciler.platforms.kubiya import KubiyaPlatform

    async def broken(self: Any, *args: Any, **kwargs: Any) -> None:
        raise KeyError(f"token {SECRET_TOKEN}")

    monkeypatch.setattr(KubiyaPlatform, "save", broken)
    body = BASIC.replace("PGPORT: \"5432\"}", "PGPORT: \"5432\", API_TOKEN: \"${env:RC_SECRET_TOKEN}\"}")
    return world.desired(body)


SECRET_TOKEN = "tok-9f8e7d6c5b4a"


def test_an_adapter_bug_fails_its_changes_and_points_at_debug(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _broken_save(world, monkeypatch)
    result = world.run("apply", path, "--auto-approve", "--server", "kubiya", env={"RC_SECRET_TOKEN": SECRET_TOKEN})
    assert result.exit_code == 1
    assert "internal error: KeyError (run with --debug for the traceback)" in result.stdout
    assert "Traceback" not in result.stderr


def test_debug_logs_the_traceback_scrubbed(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _broken_save(world, monkeypatch)
    result = world.run(
        "--debug", "apply", path, "--auto-approve", "--server", "kubiya", env={"RC_SECRET_TOKEN": SECRET_TOKEN}
    )
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "KeyError: 'token (sensitive)'" in result.stderr
    assert SECRET_TOKEN not in result.stdout + result.stderr


def test_an_integration_ignoring_its_whole_config_keeps_the_servers_config_on_update(world: World) -> None:
    body = BASIC.replace(
        "    description: Main database\n",
        "    description: Main database\n    lifecycle: {ignore_changes: [config]}\n",
    )
    assert world.run("apply", world.desired(body), "--auto-approve").exit_code == 0
    row = world.integration("pg-main")
    by_hand = {**row["config"], "env_vars": {"PGHOST": "edited.internal"}}
    assert world.kubiya("PUT", f"/{row['id']}", json_body={"config": by_hand}).status_code == 200
    changed = world.desired(body.replace("description: Main database", "description: Primary database"))
    result = world.run("apply", changed, "--auto-approve")
    assert result.exit_code == 0, result.output
    assert world.integration("pg-main")["config"]["env_vars"] == {"PGHOST": "edited.internal"}


def test_a_model_ignoring_its_whole_configuration_keeps_the_servers_configuration_on_update(world: World) -> None:
    body = BASIC.replace(
        "      - {name: llama3, description: Chat}\n",
        "      - {name: llama3, description: Chat, configuration: {temperature: '0.2'},"
        " lifecycle: {ignore_changes: [configuration]}}\n",
    )
    assert world.run("apply", world.desired(body), "--auto-approve").exit_code == 0
    path = "/integrations/provider/local-llm/integration/llama3"
    model = world.conductor("GET", path).json()
    edited = {"description": model["description"], "enabled": True, "configuration": {"temperature": "0.9"}}
    assert world.conductor("POST", path, json_body=edited).status_code == 200
    changed = world.desired(body.replace("description: Chat,", "description: Chat model,"))
    result = world.run("apply", changed, "--auto-approve")
    assert result.exit_code == 0, result.output
    assert world.conductor("GET", path).json()["configuration"] == {"temperature": "0.9"}


def test_a_provider_ignoring_its_whole_configuration_keeps_it_and_never_sends_the_mask(world: World) -> None:
    body = BASIC.replace(
        '    configuration: {endpoint: "http://localhost:11434"}\n',
        '    configuration: {endpoint: "http://localhost:11434", api_key: "${env:RC_OLLAMA_KEY}"}\n'
        "    lifecycle: {ignore_changes: [configuration]}\n",
    )
    env = {"RC_OLLAMA_KEY": "ollama-secret-1"}
    assert world.run("apply", world.desired(body), "--auto-approve", env=env).exit_code == 0
    live = world.conductor("GET", "/integrations/provider/local-llm").json()
    by_hand = {**live["configuration"], "endpoint": "http://edited:11434", "api_key": "ollama-secret-1"}
    edit = {"type": "ollama", "description": live["description"], "configuration": by_hand}
    assert world.conductor("POST", "/integrations/provider/local-llm", json_body=edit).status_code == 200
    changed = world.desired(body.replace("description: Local models", "description: Local LLMs"))
    result = world.run("apply", changed, "--auto-approve", env=env)
    assert result.exit_code == 0, result.output
    with sqlite3.connect(world.url.removeprefix("sandbox:")) as conn:
        (stored,) = conn.execute("SELECT configuration FROM conductor_provider WHERE name = 'local-llm'").fetchone()
    assert json.loads(stored) == {"endpoint": "http://edited:11434", "api_key": "ollama-secret-1"}


def test_apply_goes_through_the_clients_own_send_where_httpx_lacks_its_private_lookup(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The request path asks httpx for the transport of a url through a private method; where a
    # release lacks it, the client's public send is the transport, and everything still works.
    from reconciler.platforms import http, transports

    monkeypatch.setattr(http, "transport_of", transports.ViaClient)
    path = world.desired()
    result = world.run("apply", path, "--auto-approve")
    assert result.exit_code == 0, result.output
    assert sorted(world.integration_names()) == ["cache", "pg-main"]
    assert world.run("plan", path, "--detailed-exitcode").exit_code == 0


def test_a_provider_ignoring_one_secret_key_never_sends_the_mask(world: World) -> None:
    body = BASIC.replace(
        '    configuration: {endpoint: "http://localhost:11434"}\n',
        '    configuration: {endpoint: "http://localhost:11434", api_key: "${env:RC_OLLAMA_KEY}"}\n'
        "    lifecycle: {ignore_changes: [configuration.api_key]}\n",
    )
    env = {"RC_OLLAMA_KEY": "ollama-secret-1"}
    assert world.run("apply", world.desired(body), "--auto-approve", env=env).exit_code == 0
    changed = world.desired(body.replace("description: Local models", "description: Local LLMs"))
    result = world.run("apply", changed, "--auto-approve", env=env)
    assert result.exit_code == 0, result.output
    with sqlite3.connect(world.url.removeprefix("sandbox:")) as conn:
        (stored,) = conn.execute("SELECT configuration FROM conductor_provider WHERE name = 'local-llm'").fetchone()
    assert json.loads(stored) == {"endpoint": "http://localhost:11434", "api_key": "ollama-secret-1"}
