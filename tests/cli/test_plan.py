"""`reconciler plan`: its formats, exit codes, saved plans and the options that shape a plan."""

from __future__ import annotations

import json
import re

import pytest

from tests.cli.conftest import ANSI, BASIC, BASIC_ADDRESSES, World, integrations_yaml

SUMMARY = re.compile(r"^Plan: (\d+) to add, (\d+) to change, (\d+) to replace, (\d+) to destroy\.$")


def summary_of(text: str) -> tuple[int, ...]:
    last = text.rstrip("\n").splitlines()[-1]
    match = SUMMARY.match(last)
    assert match, f"last line is not the summary: {last!r}"
    return tuple(int(n) for n in match.groups())


def test_human_plan_shows_each_create_and_ends_with_the_summary(world: World) -> None:
    result = world.run("plan", world.desired())
    assert result.exit_code == 0, result.output
    out = result.stdout
    for address in BASIC_ADDRESSES:
        assert re.search(rf"^  \+ {re.escape(address)}$", out, re.M), address
    assert '+ config.env_vars.PGHOST = "db.internal"' in out
    assert "does not exist on the server" in out
    assert summary_of(out) == (5, 0, 0, 0)
    assert ANSI not in out
    assert ANSI not in result.stderr


def test_detailed_exitcode_is_2_with_changes_and_0_once_applied(world: World) -> None:
    path = world.desired()
    assert world.run("plan", path, "--detailed-exitcode").exit_code == 2
    applied = world.run("apply", path, "--auto-approve")
    assert applied.exit_code == 0, applied.output
    result = world.run("plan", path, "--detailed-exitcode")
    assert result.exit_code == 0
    assert result.stdout.strip() == "No changes. The live state matches the desired state."


def test_json_plan_lists_every_change(world: World) -> None:
    result = world.run("plan", world.desired(), "--format", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["format"] == "reconciler-plan"
    assert doc["summary"] == {"add": 5, "change": 0, "replace": 0, "destroy": 0}
    changes = {c["address"]: c for c in doc["changes"]}
    assert set(changes) == set(BASIC_ADDRESSES)
    for change in changes.values():
        assert change["action"] == "create"
        assert change["reason"] == "new"
        assert change["fields"], change["address"]
        assert all({"path", "before", "after", "sensitive"} <= set(f) for f in change["fields"])
    pg = {f["path"]: f["after"] for f in changes["integration.kubiya.pg-main"]["fields"]}
    assert pg["config.env_vars.PGPORT"] == "5432"
    assert pg["type"] == "postgres"


def test_markdown_plan_stays_under_the_comment_limit(world: World) -> None:
    names = [f"svc-{i:04d}-{'x' * 40}" for i in range(400)]
    body = integrations_yaml(names, description="A long description " * 8)
    result = world.run("plan", world.desired(body), "--format", "markdown")
    assert result.exit_code == 0
    out = result.stdout
    assert len(out) < 60_000
    assert out.startswith(
        "### Reconciler plan: 400 to add, 0 to change, 0 to replace, 0 to destroy"
    )
    shown = re.findall(r"^- \S+ `\+` `integration\.kubiya\.svc-(\d{4})-", out, re.M)
    assert shown == [f"{i:04d}" for i in range(len(shown))]  # in plan order, none skipped
    note = re.search(r"(\d+) of 400 changes are not shown", out)
    assert note, out[-800:]
    assert len(shown) + int(note.group(1)) == 400


def test_markdown_plan_of_a_small_plan_lists_every_address(world: World) -> None:
    result = world.run("plan", world.desired(), "--format", "markdown")
    assert result.exit_code == 0
    out = result.stdout
    assert out.startswith("### Reconciler plan: 5 to add, 0 to change, 0 to replace, 0 to destroy")
    for address in BASIC_ADDRESSES:
        assert f"`+` `{address}`" in out, address
    assert "not shown" not in out


def test_no_ansi_escapes_with_no_color_or_without_a_terminal(world: World) -> None:
    path = world.desired()
    for env in ({"NO_COLOR": "1"}, {"NO_COLOR": None, "TERM": "xterm-256color"}):
        result = world.run("plan", path, env=env)
        assert result.exit_code == 0
        assert ANSI not in result.output
        assert "+ integration.kubiya.pg-main" in result.stdout
    assert ANSI not in world.run("plan", path, "--no-color").output


def test_saved_plan_applies(world: World) -> None:
    path = world.desired()
    plan_file = world.tmp / "plan.json"
    result = world.run("plan", path, "--out", plan_file)
    assert result.exit_code == 0
    assert f"Saved the plan to {plan_file}" in result.stderr
    saved = json.loads(plan_file.read_text())
    assert saved["format"] == "reconciler-plan"
    assert {c["address"] for c in saved["changes"]} == set(BASIC_ADDRESSES)
    applied = world.run("apply", plan_file)
    assert applied.exit_code == 0, applied.output
    assert "Apply complete: 5 added, 0 changed, 0 replaced, 0 destroyed." in applied.stdout
    assert world.integration("pg-main")["integration_type"] == "postgres"
    assert world.run("plan", path, "--detailed-exitcode").exit_code == 0


def test_stale_saved_plan_is_refused_naming_what_changed(world: World) -> None:
    path = world.desired()
    assert world.run("apply", path, "--auto-approve").exit_code == 0
    changed = world.desired(BASIC.replace("Main database", "Primary database"))
    plan_file = world.tmp / "plan.json"
    assert world.run("plan", changed, "--out", plan_file).exit_code == 0
    # Someone else applies another change to the same integration in between.
    other = world.write("other.yaml", path.read_text().replace("Main database", "Someone else's"))
    assert world.run("apply", other, "--auto-approve").exit_code == 0
    before = world.integration("pg-main")
    result = world.run("apply", plan_file)
    assert result.exit_code == 1
    assert (
        "the desired or the live state changed since the plan was made: integration.kubiya.pg-main"
        in result.stderr
    )
    assert "integration.kubiya.cache" not in result.stderr
    assert world.integration("pg-main") == before


def test_fail_on_refuses_a_plan_that_replaces(world: World) -> None:
    path = world.desired()
    assert world.run("apply", path, "--auto-approve").exit_code == 0
    moved = world.desired(
        BASIC.replace("https://mcp.example.com/docs", "https://mcp.example.com/v2")
    )
    result = world.run("plan", moved, "--fail-on", "delete,replace")
    assert result.exit_code == 1
    assert "-/+ channel.console.agt_demo.mcp_server.docs-search" in result.stdout
    assert "--fail-on refuses (replace)" in result.stderr
    # The same gate lets a plan of creates and updates through.
    assert (
        world.run(
            "plan",
            world.desired(BASIC.replace("Local models", "LLMs")),
            "--fail-on",
            "delete,replace",
        ).exit_code
        == 0
    )


def test_fail_on_rejects_an_unknown_action(world: World) -> None:
    result = world.run("plan", world.desired(), "--fail-on", "explode")
    assert result.exit_code == 1
    assert "unknown action 'explode'" in result.stderr


def test_max_changes(world: World) -> None:
    path = world.desired()
    over = world.run("plan", path, "--max-changes", "4")
    assert over.exit_code == 1
    assert "the plan holds 5 changes, more than --max-changes 4" in over.stderr
    assert world.run("plan", path, "--max-changes", "5").exit_code == 0


@pytest.mark.parametrize(
    ("option", "pattern", "expected"),
    [
        (
            "--target",
            "integration.kubiya",
            {"integration.kubiya.pg-main", "integration.kubiya.cache"},
        ),
        (
            "--target",
            "provider.orkes.local-llm",
            {"provider.orkes.local-llm", "model.orkes.local-llm.llama3"},
        ),
        ("--target", "integration.kubiya.cache", {"integration.kubiya.cache"}),
        (
            "--exclude",
            "integration.kubiya",
            {
                "provider.orkes.local-llm",
                "model.orkes.local-llm.llama3",
                "channel.console.agt_demo.mcp_server.docs-search",
            },
        ),
        (
            "--exclude",
            "provider.orkes.local-llm",
            {
                "integration.kubiya.pg-main",
                "integration.kubiya.cache",
                "channel.console.agt_demo.mcp_server.docs-search",
            },
        ),
    ],
)
def test_target_and_exclude_scope_the_plan(
    world: World, option: str, pattern: str, expected: set[str]
) -> None:
    result = world.run("plan", world.desired(), option, pattern, "--format", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert {c["address"] for c in doc["changes"] if c["action"] != "no-op"} == expected


def test_targeted_apply_touches_only_the_target(world: World) -> None:
    path = world.desired()
    result = world.run("apply", path, "--auto-approve", "--target", "integration.kubiya.cache")
    assert result.exit_code == 0
    assert "Apply complete: 1 added, 0 changed, 0 replaced, 0 destroyed." in result.stdout
    assert set(world.integration_names()) == {"cache"}


def test_unknown_server_is_an_error(world: World) -> None:
    result = world.run("plan", world.desired(), "--server", "nope")
    assert result.exit_code == 1
    assert "unknown server(s): nope" in result.stderr
    assert "console, kubiya, orkes" in result.stderr


def test_saved_plan_is_refused_when_the_resource_was_deleted_since(world: World) -> None:
    assert world.run("apply", world.desired(), "--auto-approve").exit_code == 0
    changed = world.desired(BASIC.replace("Main database", "Primary database"))
    plan_file = world.tmp / "plan.json"
    assert world.run("plan", changed, "--out", plan_file).exit_code == 0
    world.kubiya("DELETE", f"/{world.integration('pg-main')['id']}")
    result = world.run("apply", plan_file)
    assert result.exit_code == 1
    assert "changed since the plan was made: integration.kubiya.pg-main" in result.stderr
    assert "pg-main" not in world.integration_names()


def test_saved_plan_is_refused_when_the_desired_files_changed_since(world: World) -> None:
    path = world.desired()
    plan_file = world.tmp / "plan.json"
    assert world.run("plan", path, "--out", plan_file).exit_code == 0
    path.write_text(path.read_text().replace("Session cache", "Edited after the plan"))
    result = world.run("apply", plan_file)
    assert result.exit_code == 1
    assert "integration.kubiya.cache" in result.stderr
    assert world.integrations() == []


@pytest.mark.parametrize(
    "document",
    [
        {"changes": "zzz"},
        {"changes": [{"action": "create"}]},
        {"changes": [1]},
        {"options": {"targets": 5}},
        {"options": "x"},
        {"sources": "desired.yaml"},
    ],
    ids=[
        "changes-string",
        "change-without-address",
        "change-number",
        "targets-number",
        "options-string",
        "sources-string",
    ],
)
def test_malformed_plan_file_is_an_error_not_a_traceback(world: World, document: dict[str, object]) -> None:
    path = world.desired()
    plan_file = world.tmp / "plan.json"
    assert world.run("plan", path, "--out", plan_file).exit_code == 0
    saved = json.loads(plan_file.read_text())
    plan_file.write_text(json.dumps({**saved, **document}))
    result = world.run("apply", plan_file)
    assert result.exit_code == 1
    assert str(plan_file) in result.stderr
    assert world.integrations() == []


@pytest.mark.parametrize("command", ["plan", "drift", "export"])
def test_unwritable_out_path_is_an_error_not_a_traceback(world: World, command: str) -> None:
    path = world.desired()
    out = world.tmp / "missing-dir" / "out.json"
    extra = ("--server", "kubiya") if command == "export" else ()
    result = world.run(command, path, "--out", out, *extra)
    assert result.exit_code == 1
    assert "missing-dir" in result.stderr


def test_detailed_exitcode_is_1_on_error(world: World) -> None:
    bad = world.desired("integrations:\n  - {name: x, server: nowhere, type: redis, config: {}}\n")
    result = world.run("plan", bad, "--detailed-exitcode")
    assert result.exit_code == 1
    assert "names server 'nowhere'" in result.stderr
    assert result.stdout == ""


def test_saved_plan_keeps_its_server_selection(world: World) -> None:
    path = world.desired()
    plan_file = world.tmp / "plan.json"
    assert world.run("plan", path, "--server", "kubiya", "--out", plan_file).exit_code == 0
    applied = world.run("apply", plan_file)
    assert applied.exit_code == 0, applied.output
    assert world.integrations() != []
    # Only the selected server was touched.
    assert world.conductor("GET", "/integrations/", params={"activeOnly": "false"}).json() == []


def test_planning_options_are_refused_with_a_saved_plan(world: World) -> None:
    path = world.desired()
    plan_file = world.tmp / "plan.json"
    assert world.run("plan", path, "--out", plan_file).exit_code == 0
    result = world.run("apply", plan_file, "--prune")
    assert result.exit_code == 1
    assert "--prune cannot be combined with a saved plan" in result.stderr
    assert world.integrations() == []


def test_fail_on_accepts_the_words_the_plan_prints(world: World) -> None:
    path = world.desired()
    assert world.run("apply", path, "--auto-approve").exit_code == 0
    smaller = world.desired(BASIC.replace("  - name: cache", "  - name: cache-2"))
    result = world.run("plan", smaller, "--prune", "--fail-on", "destroy")
    assert result.exit_code == 1
    assert "1 to destroy" in result.stdout
    assert "--fail-on refuses (delete)" in result.stderr


def test_force_color_colours_piped_output_and_no_color_wins(world: World) -> None:
    path = world.desired()
    forced = world.run("plan", path, env={"FORCE_COLOR": "1", "NO_COLOR": None})
    assert forced.exit_code == 0
    assert ANSI + "1m" in forced.stdout  # the summary line, bold
    both = world.run("plan", path, env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert ANSI not in both.output
    flag = world.run("plan", path, "--no-color", env={"FORCE_COLOR": "1", "NO_COLOR": None})
    assert ANSI not in flag.output


def _channels(count: int) -> str:
    return "channels:\n" + "".join(
        f"  - {{server: console, agent: agt_demo, family: mcp_server, name: c{i:02d}, "
        f'server_url: "https://mcp.example.com/{i}"}}\n'
        for i in range(count)
    )


def test_the_plan_warns_before_an_agent_passes_its_declared_channel_limit(world: World) -> None:
    # The sandbox's agt_demo may hold 25 channels, as its seed says; the desired state declares it.
    path = world.write(
        "limit.yaml",
        f'servers:\n  console: {{kind: console, url: "{world.url}", channel_limit: 25}}\n' + _channels(26),
    )
    plan = world.run("plan", path)
    assert plan.exit_code == 0, plan.output
    assert (
        "Warning: agent 'agt_demo' on server 'console' would hold 26 channels after this apply, "
        "more than its limit of 25"
    ) in plan.output
    # The warning tells the truth: the 26th create is the one the console refuses.
    applied = world.run("apply", path, "--auto-approve", "--no-color")
    assert applied.exit_code == 1
    assert "✗ channel.console.agt_demo.mcp_server.c25: create failed:" in applied.stdout
    assert applied.stdout.rstrip().endswith("Apply failed: 25 added, 0 changed, 0 replaced, 0 destroyed; 1 failed, 0 skipped.")


def test_no_channel_limit_warning_up_to_the_limit(world: World) -> None:
    path = world.write(
        "limit.yaml",
        f'servers:\n  console: {{kind: console, url: "{world.url}", channel_limit: 25}}\n' + _channels(25),
    )
    plan = world.run("plan", path)
    assert plan.exit_code == 0, plan.output
    assert "Plan: 25 to add" in plan.stdout
    assert "Warning" not in plan.output
