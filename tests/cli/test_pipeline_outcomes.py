"""What a pipeline gets on every outcome: the Markdown of `plan` is never empty (a refusal, the
diagnostics or the error instead of a plan), `drift --out` never leaves a previous run's report
in place, and `drift --notify-always` posts when the check itself fails."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import BASIC, Hook, World, closed_port_url


def applied(world: World) -> Path:
    path = world.desired()
    assert world.run("apply", path, "--auto-approve").exit_code == 0
    return path


def without_cache(world: World) -> Path:
    """The desired state with one managed integration removed: pruning it is a delete."""
    text = BASIC.replace("  - name: cache\n    server: kubiya\n    type: redis\n    description: Session cache\n"
                         '    config:\n      env_vars: {REDIS_URL: "redis://cache.internal:6379/0"}\n', "")
    assert text != BASIC
    return world.desired(text, name="desired.yaml")


def test_markdown_of_a_plan_refused_by_fail_on_names_the_refusal_and_its_addresses(world: World) -> None:
    applied(world)
    path = without_cache(world)
    result = world.run("plan", path, "--prune", "--format", "markdown", "--fail-on", "delete")
    assert result.exit_code == 1
    assert result.stdout.startswith(
        "> [!CAUTION]\n> **Refused:** the plan holds 1 change(s) of a kind --fail-on refuses (delete)\n"
    )
    assert "> - `integration.kubiya.cache`" in result.stdout
    assert "### Reconciler plan: 0 to add, 0 to change, 0 to replace, 1 to destroy" in result.stdout


def test_markdown_of_a_plan_refused_by_max_deletes_names_the_addresses(world: World) -> None:
    applied(world)
    path = without_cache(world)
    result = world.run("plan", path, "--prune", "--format", "markdown", "--max-deletes", "0")
    assert result.exit_code == 1
    assert result.stdout.startswith("### ❌ Reconciler plan failed\n")
    assert "more than --max-deletes 0: integration.kubiya.cache" in result.stdout


def test_markdown_of_an_invalid_file_lists_its_diagnostics(world: World) -> None:
    path = world.desired(BASIC.replace("type: redis", "type: [not, a, string]"))
    result = world.run("plan", path, "--format", "markdown")
    assert result.exit_code == 1
    assert result.stdout.startswith("### ❌ Reconciler plan failed\n\n1 error(s)")
    assert f"- ❌ {path}:".replace("_", "\\_") in result.stdout


def test_markdown_of_an_unreachable_server_says_so(world: World) -> None:
    path = world.desired(urls={"kubiya": closed_port_url()})
    result = world.run("plan", path, "--format", "markdown")
    assert result.exit_code == 1
    assert result.stdout.startswith("### ❌ Reconciler plan failed\n\n**Error:** ")
    assert "kubiya" in result.stdout.split("\n")[2]


def test_drift_out_on_error_replaces_the_previous_report(world: World) -> None:
    path = applied(world)
    report = world.tmp / "drift.json"
    assert world.run("drift", path, "--out", report).exit_code == 0
    assert json.loads(report.read_text())["drifted"] is False
    broken = world.desired(urls={"kubiya": closed_port_url()}, name="desired.yaml")
    assert world.run("drift", broken, "--out", report).exit_code == 1
    doc = json.loads(report.read_text())
    assert (doc["format"], doc["drifted"]) == ("reconciler-drift", None)
    assert "kubiya" in doc["error"]["message"]


def test_drift_out_on_invalid_file_lists_the_diagnostics(world: World) -> None:
    path = world.desired(BASIC.replace("type: redis", "type: [not, a, string]"))
    report = world.tmp / "drift.json"
    assert world.run("drift", path, "--out", report).exit_code == 1
    doc = json.loads(report.read_text())
    assert doc["error"]["message"] == "1 error(s) found"
    assert [d["location"].startswith(str(path)) for d in doc["error"]["diagnostics"]] == [True]


def test_notify_always_posts_a_failed_check(world: World, hook: Hook) -> None:
    path = world.desired(urls={"kubiya": closed_port_url()})
    result = world.run("drift", path, "--notify", hook.url, "--notify-always", "--environment", "staging")
    assert result.exit_code == 1
    assert "Drift check failure posted to the webhook." in result.stderr
    (posted,) = hook.received
    payload = posted.json()
    assert payload["blocks"][0]["text"]["text"] == "reconciler drift check failed (staging)"


def test_a_failed_check_is_not_posted_without_notify_always(world: World, hook: Hook) -> None:
    path = world.desired(urls={"kubiya": closed_port_url()})
    assert world.run("drift", path, "--notify", hook.url).exit_code == 1
    assert hook.received == []
