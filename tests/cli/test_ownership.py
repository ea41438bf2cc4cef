"""Ownership: scopes written into the marker, adoption of what exists, duplicates of declared
channels, Conductor keys that go away, and Kubiya's declarable status, end to end."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from tests.cli.conftest import World, servers_yaml

TEAM_A = """
integrations:
  - {name: a1, server: kubiya, type: redis, config: {env_vars: {A: "1"}}}
  - {name: a2, server: kubiya, type: redis}
providers:
  - {name: pa, server: orkes, type: ollama, configuration: {endpoint: "http://a"}}
"""

TEAM_B = """
integrations:
  - {name: b1, server: kubiya, type: redis}
providers:
  - {name: pb, server: orkes, type: ollama, configuration: {endpoint: "http://b"}}
"""


def scoped(world: World, name: str, body: str, owner: str | None) -> Path:
    """A desired-state file whose kubiya and orkes servers carry `owner:` (None: no scope)."""
    servers = servers_yaml(world.url, creds=world.creds)
    if owner is not None:
        servers = re.sub(r'(  (kubiya|orkes):\n    kind: \w+\n    url: "[^"]*"\n)', rf"\1    owner: {owner}\n", servers)
    return world.write(name, servers + body)


def plan_json(world: World, *args: Any) -> dict[str, Any]:
    result = world.run("plan", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def actions(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    return sorted((c["address"], c["action"], c["reason"]) for c in doc["changes"] if c["action"] != "no-op")


def provider_tags(world: World, name: str) -> dict[str, str]:
    response = world.conductor("GET", f"/integrations/provider/{name}/tags")
    assert response.status_code == 200, response.text
    return {t["key"]: t["value"] for t in response.json()}


def test_two_scopes_on_one_server_apply_and_prune_without_touching_each_other(any_world: World) -> None:
    world = any_world
    a = scoped(world, "a.yaml", TEAM_A, "team-a")
    b = scoped(world, "b.yaml", TEAM_B, "team-b")
    assert world.run("apply", a, "--auto-approve").exit_code == 0
    assert world.run("apply", b, "--auto-approve").exit_code == 0
    assert world.integration("a1")["tags"] == ["managed-by:reconciler:team-a"]
    assert provider_tags(world, "pb")["managed-by"] == "reconciler:team-b"

    # Each sees the other's resources as owned elsewhere, never as its own orphans.
    doc = plan_json(world, a, "--prune")
    assert actions(doc) == []
    assert doc["owned_elsewhere"] == {"integration.kubiya.b1": "team-b", "provider.orkes.pb": "team-b"}
    assert doc["orphaned"] == []
    assert doc["unmanaged"] == []

    # A drops a2 and prunes: exactly a2 goes; B's resources stay.
    a = scoped(world, "a.yaml", TEAM_A.replace("  - {name: a2, server: kubiya, type: redis}\n", ""), "team-a")
    assert actions(plan_json(world, a, "--prune")) == [("integration.kubiya.a2", "delete", "prune")]
    assert world.run("apply", a, "--prune", "--auto-approve").exit_code == 0
    # B drops pb and prunes: exactly pb goes; A's resources stay.
    b = scoped(world, "b.yaml", TEAM_B.split("providers:")[0], "team-b")
    assert actions(plan_json(world, b, "--prune")) == [("provider.orkes.pb", "delete", "prune")]
    assert world.run("apply", b, "--prune", "--auto-approve").exit_code == 0

    assert sorted(world.integration_names()) == ["a1", "b1"]
    providers = world.conductor("GET", "/integrations/provider", params={"activeOnly": "false"}).json()
    assert sorted(p["name"] for p in providers) == ["pa"]


def test_drift_lists_another_scopes_resources_without_counting_them(world: World) -> None:
    a = scoped(world, "a.yaml", TEAM_A, "team-a")
    b = scoped(world, "b.yaml", TEAM_B, "team-b")
    assert world.run("apply", a, "--auto-approve").exit_code == 0
    assert world.run("apply", b, "--auto-approve").exit_code == 0
    result = world.run("drift", a, "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [(i["address"], i["kind"], i["detail"]) for i in doc["items"]] == [
        ("integration.kubiya.b1", "owned_elsewhere", "owned by scope 'team-b' (not touched)"),
        ("provider.orkes.pb", "owned_elsewhere", "owned by scope 'team-b' (not touched)"),
    ]


def test_markers_written_without_a_scope_belong_to_the_default_scope(world: World) -> None:
    # The plain marker (what every earlier version wrote) is the default scope's.
    old = scoped(world, "old.yaml", TEAM_A, None)
    assert world.run("apply", old, "--auto-approve").exit_code == 0
    assert world.integration("a1")["tags"] == ["managed-by:reconciler"]
    assert actions(plan_json(world, old, "--prune")) == []
    # A named scope does not prune them: they are the default scope's.
    other = scoped(world, "other.yaml", TEAM_B, "team-b")
    doc = plan_json(world, other, "--prune")
    assert [c for c in actions(doc) if c[1] == "delete"] == []
    assert doc["owned_elsewhere"]["integration.kubiya.a1"] == ""


def test_declaring_another_scopes_resource_is_an_error_until_taken_over(world: World) -> None:
    a = scoped(world, "a.yaml", TEAM_A, "team-a")
    assert world.run("apply", a, "--auto-approve").exit_code == 0
    b = scoped(
        world,
        "b.yaml",
        TEAM_B + '  - {name: pa, server: orkes, type: ollama, configuration: {endpoint: "http://a"}}\n',
        "team-b",
    )
    refused = world.run("plan", b)
    assert refused.exit_code == 1
    assert "provider.orkes.pa is declared here (scope 'team-b') but owned by scope 'team-a'" in refused.stderr
    assert "--take-ownership provider.orkes.pa" in refused.stderr

    taken = world.run("apply", b, "--take-ownership", "provider.orkes.pa", "--auto-approve")
    assert taken.exit_code == 0, taken.output
    assert provider_tags(world, "pa")["managed-by"] == "reconciler:team-b"
    # Now team A is the one told that someone else owns it.
    again = world.run("plan", a)
    assert again.exit_code == 1
    assert "provider.orkes.pa is declared here (scope 'team-a') but owned by scope 'team-b'" in again.stderr


def test_an_integration_another_scope_owns_is_moved_with_take_ownership(world: World) -> None:
    a = scoped(world, "a.yaml", TEAM_A, "team-a")
    assert world.run("apply", a, "--auto-approve").exit_code == 0
    declared = TEAM_B.replace("providers:", "  - {name: a2, server: kubiya, type: redis}\nproviders:")
    b = scoped(world, "b.yaml", declared, "team-b")
    refused = world.run("apply", b, "--auto-approve")
    assert refused.exit_code == 1
    assert "integration.kubiya.a2 is declared here (scope 'team-b') but owned by scope 'team-a'" in refused.stderr
    assert world.integration("a2")["tags"] == ["managed-by:reconciler:team-a"]

    taken = world.run("apply", b, "--take-ownership", "integration.kubiya.a2", "--auto-approve")
    assert taken.exit_code == 0, taken.output
    # The marker is replaced, not added beside the old one: exactly one scope owns it.
    assert world.integration("a2")["tags"] == ["managed-by:reconciler:team-b"]
    # Team A drops it from its desired state: its prune leaves it to team B.
    a = scoped(world, "a.yaml", TEAM_A.replace("  - {name: a2, server: kubiya, type: redis}\n", ""), "team-a")
    doc = plan_json(world, a, "--prune")
    assert actions(doc) == []
    assert doc["owned_elsewhere"]["integration.kubiya.a2"] == "team-b"


def test_export_apply_then_removing_one_prunes_exactly_it(world: World) -> None:
    world.create_unmanaged("hand-1")
    world.create_unmanaged("hand-2")
    made = world.conductor(
        "POST",
        "/integrations/provider/hand-llm",
        json_body={"type": "openai", "category": "AI_MODEL", "configuration": {"api_key": "sk-by-hand-12345"}},
    )
    assert made.status_code == 200, made.text
    servers = world.write("servers.yaml", servers_yaml(world.url, creds=world.creds))
    files = []
    asked: list[str] = []
    for server in ("kubiya", "orkes"):
        out = world.tmp / f"{server}.yaml"
        result = world.run("export", servers, "--server", server, "--out", out)
        assert result.exit_code == 0, result.output
        asked += re.findall(r"[A-Z0-9_]+", result.stderr.partition("before planning: ")[2])
        files.append(out)
    env = {name: "sk-by-hand-12345" for name in asked}

    assert asked == ["ORKES_HAND_LLM_API_KEY"]
    adopt = world.run("plan", servers, *files, "--format", "json", env=env)
    assert adopt.exit_code == 0, adopt.output
    assert actions(json.loads(adopt.stdout)) == [
        ("integration.kubiya.hand-1", "update", "adopt"),
        ("integration.kubiya.hand-2", "update", "adopt"),
        ("provider.orkes.hand-llm", "update", "adopt"),
    ]
    assert world.run("apply", servers, *files, "--auto-approve", env=env).exit_code == 0
    # Marked and fingerprinted: nothing to do, and the write-only value is verifiable now.
    settled = world.run("plan", servers, *files, "--format", "json", env=env)
    assert actions(json.loads(settled.stdout)) == []
    assert json.loads(settled.stdout)["diagnostics"] == []

    kubiya = yaml.safe_load(files[0].read_text())
    kubiya["integrations"] = [i for i in kubiya["integrations"] if i["name"] != "hand-2"]
    files[0].write_text(yaml.safe_dump(kubiya))
    pruned = world.run("plan", servers, *files, "--prune", "--format", "json", env=env)
    assert actions(json.loads(pruned.stdout)) == [("integration.kubiya.hand-2", "delete", "prune")]


CHANNEL = """
channels:
  - server: console
    agent: agt_demo
    family: mcp_server
    name: docs-search
    server_url: https://mcp.example.com/docs
"""


def test_a_duplicate_of_a_declared_channel_is_a_planned_change_and_drift(world: World) -> None:
    path = world.desired(CHANNEL)
    assert world.run("apply", path, "--auto-approve").exit_code == 0
    made = world.console(
        "POST", "/mcp_server/configure", json_body={"name": "docs-search", "server_url": "https://other.example"}
    )
    assert made.status_code == 201, made.text
    extra = made.json()["data"]["id"]

    plan = world.run("plan", path, "--detailed-exitcode", "--format", "json")  # no --prune
    assert plan.exit_code == 2, plan.output
    changes = [c for c in json.loads(plan.stdout)["changes"] if c["action"] != "no-op"]
    assert [(c["address"], c["action"], c["reason"], c["live_id"]) for c in changes] == [
        ("channel.console.agt_demo.mcp_server.docs-search", "delete", "duplicate", extra)
    ]
    drift = world.run("drift", path, "--format", "json")
    assert drift.exit_code == 2
    assert [(i["address"], i["kind"]) for i in json.loads(drift.stdout)["items"]] == [
        ("channel.console.agt_demo.mcp_server.docs-search", "duplicate")
    ]
    assert world.run("apply", path, "--auto-approve").exit_code == 0
    listed = world.console("GET", "/mcp_server").json()["data"]
    assert [c["id"] for c in listed if c["config"]["name"] == "docs-search"] != [extra]
    assert sum(1 for c in listed if c["config"]["name"] == "docs-search") == 1


KEYS = """
providers:
  - name: keyed
    server: orkes
    type: ollama
    configuration: {endpoint: "http://localhost:11434", header: "X-Team"}
"""


def test_a_configuration_key_removed_from_the_desired_state_is_removed(world: World) -> None:
    path = world.desired(KEYS, name="keys.yaml")
    assert world.run("apply", path, "--auto-approve").exit_code == 0
    assert provider_tags(world, "keyed")["reconciler-keys"] == "endpoint,header"
    # Keys someone else added on the server: never declared, so never touched where the
    # client can read them; a write-only one cannot be sent back, and the plan says so.
    row = world.conductor("GET", "/integrations/provider/keyed").json()
    row["configuration"]["api_key"] = "by-hand-key-123"
    row["configuration"]["region"] = "by-hand"
    assert world.conductor("POST", "/integrations/provider/keyed", json_body=row).status_code == 200

    path = world.desired(KEYS.replace(', header: "X-Team"', ""), name="keys.yaml")
    plan = world.run("plan", path, "--format", "json")
    document = json.loads(plan.stdout)
    (change,) = [c for c in document["changes"] if c["action"] != "no-op"]
    assert change["fields"] == [
        {
            "path": "configuration.header",
            "before": "X-Team",
            "after": None,
            "sensitive": False,
            "forces_replacement": False,
        }
    ]
    assert [d["code"] for d in document["diagnostics"]] == ["conductor.unnamed-secret"]
    human = world.run("plan", path, "--no-color")
    assert "- configuration.header" in human.stdout
    assert world.run("apply", path, "--auto-approve").exit_code == 0
    config = world.conductor("GET", "/integrations/provider/keyed").json()["configuration"]
    assert config == {"endpoint": "http://localhost:11434", "region": "by-hand"}
    assert provider_tags(world, "keyed")["reconciler-keys"] == "endpoint"


def test_a_provider_without_a_key_record_is_named_in_the_plan(world: World) -> None:
    path = world.desired(KEYS, name="keys.yaml")
    assert world.run("apply", path, "--auto-approve").exit_code == 0
    # As an earlier version left it: the marker, no record of the declared keys.
    removed = world.conductor(
        "DELETE",
        "/integrations/provider/keyed/tags",
        json_body=[{"key": "reconciler-keys", "value": "endpoint,header"}],
    )
    assert removed.status_code == 200
    plan = world.run("plan", path, "--format", "json")
    assert [d["code"] for d in json.loads(plan.stdout)["diagnostics"]] == ["plan.keys-unrecorded"]
    assert "provider.orkes.keyed" in json.loads(plan.stdout)["diagnostics"][0]["message"]


STATUS = """
integrations:
  - {name: switch, server: kubiya, type: redis}
"""


def test_status_is_declared_planned_drifted_exported_and_revived(world: World) -> None:
    path = world.desired(STATUS, name="status.yaml")
    assert world.run("apply", path, "--auto-approve").exit_code == 0
    assert world.integration("switch")["status"] == "active"

    # Switched off by hand: drift, and the plan switches it on again.
    row = world.integration("switch")
    assert world.kubiya("PUT", f"/{row['id']}", json_body={"status": "inactive"}).status_code == 200
    drift = world.run("drift", path, "--format", "json")
    assert drift.exit_code == 2
    (item,) = json.loads(drift.stdout)["items"]
    assert item["fields"] == [
        {"path": "status", "live": "inactive", "desired": "active", "sensitive": False, "forces_replacement": False}
    ]

    # Switched off from git.
    off = world.desired(STATUS.replace("type: redis}", "type: redis, status: inactive}"), name="status.yaml")
    assert world.run("apply", off, "--auto-approve").exit_code == 0
    plan = world.run("plan", off, "--detailed-exitcode")
    assert plan.exit_code == 0, plan.output
    servers = world.write("servers.yaml", servers_yaml(world.url, creds=world.creds))
    exported = yaml.safe_load(world.run("export", servers, "--server", "kubiya").stdout)
    assert exported["integrations"][0]["status"] == "inactive"

    # Soft-deleted, then revived as declared: inactive.
    assert world.kubiya("DELETE", f"/{row['id']}").status_code == 204
    revive = world.run("plan", off, "--format", "json")
    (change,) = [c for c in json.loads(revive.stdout)["changes"] if c["action"] != "no-op"]
    assert change["reason"] == "revive"
    assert world.run("apply", off, "--auto-approve").exit_code == 0
    assert world.integration("switch")["status"] == "inactive"


def test_an_integration_declared_inactive_is_created_inactive(world: World) -> None:
    path = world.desired(STATUS.replace("type: redis}", "type: redis, status: inactive}"), name="status.yaml")
    assert world.run("apply", path, "--auto-approve").exit_code == 0
    assert world.integration("switch")["status"] == "inactive"
    assert world.run("plan", path, "--detailed-exitcode").exit_code == 0


CHANNEL_A = """
channels:
  - {server: console, agent: agt_demo, family: mcp_server, name: team-a-docs, server_url: "https://a.example"}
"""
CHANNEL_B = """
channels:
  - {server: console, agent: agt_demo, family: mcp_server, name: team-b-docs, server_url: "https://b.example"}
"""


def scoped_console(world: World, name: str, body: str, owner: str) -> Path:
    servers = servers_yaml(world.url, creds=world.creds)
    servers = re.sub(r'(  console:\n    kind: console\n    url: "[^"]*"\n)', rf"\1    owner: {owner}\n", servers)
    assert f"owner: {owner}" in servers
    return world.write(name, servers + body)


def test_a_channel_another_scope_declares_is_never_pruned_and_the_plan_says_why(world: World) -> None:
    a = scoped_console(world, "a.yaml", CHANNEL_A, "team-a")
    b = scoped_console(world, "b.yaml", CHANNEL_B, "team-b")
    assert world.run("apply", a, "--auto-approve").exit_code == 0
    assert world.run("apply", b, "--auto-approve").exit_code == 0

    doc = plan_json(world, a, "--prune", "--max-deletes", "0")
    assert actions(doc) == []
    assert "channel.console.agt_demo.mcp_server.team-b-docs" in doc["unmanaged"]
    (note,) = [d for d in doc["diagnostics"] if d["code"] == "plan.channel-scope"]
    assert "console channels carry no ownership marker" in note["message"]
    assert world.run("apply", a, "--prune", "--auto-approve").exit_code == 0
    names = [c["config"]["name"] for c in world.console("GET", "/mcp_server").json()["data"]]
    assert {"team-a-docs", "team-b-docs"} <= set(names)


def test_max_deletes_counts_only_this_scopes_resources(world: World) -> None:
    a = scoped(world, "a.yaml", TEAM_A, "team-a")
    b = scoped(world, "b.yaml", TEAM_B, "team-b")
    assert world.run("apply", a, "--auto-approve").exit_code == 0
    assert world.run("apply", b, "--auto-approve").exit_code == 0
    # B's two resources are not A's to delete, so they count for nothing against the guard.
    assert actions(plan_json(world, a, "--prune", "--max-deletes", "0")) == []
    a = scoped(world, "a.yaml", TEAM_A.replace("  - {name: a2, server: kubiya, type: redis}\n", ""), "team-a")
    refused = world.run("plan", a, "--prune", "--max-deletes", "0")
    assert refused.exit_code == 1
    assert "deletes or replaces 1 resources, more than --max-deletes 0: integration.kubiya.a2" in refused.stderr


def test_read_only_adoption_updates_an_unmarked_integration_without_marking_it(world: World) -> None:
    world.create_unmanaged("hand-1")
    path = world.desired(
        "integrations:\n"
        "  - {name: hand-1, server: kubiya, type: custom, description: from git, tags: [by-hand]}\n"
    )
    result = world.run("apply", path, "--no-adopt", "--auto-approve")
    assert result.exit_code == 0, result.output
    row = world.integration("hand-1")
    assert (row["description"], row["tags"]) == ("from git", ["by-hand"])


def test_read_only_adoption_updates_an_unmarked_provider_without_its_marker_or_fingerprint(world: World) -> None:
    made = world.conductor(
        "POST",
        "/integrations/provider/hand-llm",
        json_body={
            "type": "openai",
            "category": "AI_MODEL",
            "configuration": {"api_key": "sk-by-hand-12345"},
            "tags": [{"key": "team", "value": "ml"}],
        },
    )
    assert made.status_code == 200, made.text
    path = world.desired(
        "providers:\n"
        "  - name: hand-llm\n"
        "    server: orkes\n"
        "    type: openai\n"
        "    description: from git\n"
        "    configuration: {api_key: '${env:HAND_LLM_KEY}'}\n"
        "    tags: [{key: team, value: ml}]\n"
    )
    result = world.run("apply", path, "--no-adopt", "--auto-approve", env={"HAND_LLM_KEY": "sk-by-hand-12345"})
    assert result.exit_code == 0, result.output
    row = world.conductor("GET", "/integrations/provider/hand-llm").json()
    assert (row["description"], provider_tags(world, "hand-llm")) == ("from git", {"team": "ml"})
