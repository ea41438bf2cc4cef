"""`reconciler drift`: changes behind git's back, missing and unmanaged resources, reports,
webhook notification. Runs against the in-process sandbox and over HTTP (`sandbox serve`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Hook, World, closed_port_url


@pytest.fixture
def applied(any_world: World) -> tuple[World, Path]:
    path = any_world.desired()
    result = any_world.run("apply", path, "--auto-approve")
    assert result.exit_code == 0, result.output
    return any_world, path


def test_clean(applied: tuple[World, Path]) -> None:
    world, path = applied
    result = world.run("drift", path)
    assert result.exit_code == 0
    assert result.stdout.strip() == "No drift: the live state matches the desired state."
    doc = json.loads(world.run("drift", path, "--format", "json").stdout)
    assert doc["drifted"] is False
    assert doc["items"] == []
    assert doc["servers"] == ["console", "kubiya", "orkes"]


def test_change_behind_gits_back(applied: tuple[World, Path]) -> None:
    world, path = applied
    row = world.integration("pg-main")
    edited = world.kubiya("PUT", f"/{row['id']}", json_body={"description": "edited in the UI"})
    assert edited.status_code == 200, edited.text
    result = world.run("drift", path)
    assert result.exit_code == 2
    assert "integration.kubiya.pg-main" in result.stdout
    assert "description" in result.stdout
    assert "edited in the UI" in result.stdout
    assert "Main database" in result.stdout
    doc = json.loads(world.run("drift", path, "--format", "json").stdout)
    assert doc["drifted"] is True
    assert doc["counts"]["changed"] == 1
    (item,) = doc["items"]
    assert item["address"] == "integration.kubiya.pg-main"
    assert item["kind"] == "changed"
    assert item["fields"] == [
        {
            "path": "description",
            "live": "edited in the UI",
            "desired": "Main database",
            "sensitive": False,
            "forces_replacement": False,
        }
    ]


def test_deleted_on_the_server_is_missing(applied: tuple[World, Path]) -> None:
    world, path = applied
    row = world.integration("cache")
    assert world.kubiya("DELETE", f"/{row['id']}").status_code == 204
    deleted = world.conductor("DELETE", "/integrations/provider/local-llm")
    assert deleted.status_code == 200
    result = world.run("drift", path, "--format", "json")
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    kinds = {i["address"]: (i["kind"], i["detail"]) for i in doc["items"]}
    assert kinds == {
        "integration.kubiya.cache": ("missing", "soft-deleted on the server"),
        "provider.orkes.local-llm": (
            "missing",
            "declared in the desired state but absent from the server",
        ),
        "model.orkes.local-llm.llama3": (
            "missing",
            "declared in the desired state but absent from the server",
        ),
    }
    human = world.run("drift", path)
    assert human.exit_code == 2
    assert "integration.kubiya.cache" in human.stdout
    assert "provider.orkes.local-llm" in human.stdout


def test_unmanaged_is_reported_unless_ignored(applied: tuple[World, Path]) -> None:
    world, path = applied
    world.create_unmanaged("hand-made")
    result = world.run("drift", path, "--format", "json")
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert doc["counts"] == {
        "changed": 0,
        "missing": 0,
        "duplicate": 0,
        "orphaned": 0,
        "unmanaged": 1,
        "owned_elsewhere": 0,
    }
    assert doc["items"] == [
        {
            "address": "integration.kubiya.hand-made",
            "kind": "unmanaged",
            "action": None,
            "detail": "exists on the server, not in the desired state",
            "fields": [],
        }
    ]
    assert "integration.kubiya.hand-made" in world.run("drift", path).stdout
    assert world.run("drift", path, "--ignore-unmanaged").exit_code == 0


def test_json_report_is_stable_and_sorted(applied: tuple[World, Path]) -> None:
    world, path = applied
    for name in ("zeta", "alpha", "mid"):
        world.create_unmanaged(f"hand-{name}")
    row = world.integration("pg-main")
    world.kubiya("PUT", f"/{row['id']}", json_body={"description": "x"})
    world.kubiya("DELETE", f"/{world.integration('cache')['id']}")
    out_file = world.tmp / "drift.json"
    first = world.run("drift", path, "--format", "json", "--out", out_file)
    second = world.run("drift", path, "--format", "json")
    assert first.exit_code == second.exit_code == 2
    assert first.stdout == second.stdout
    assert json.loads(out_file.read_text()) == json.loads(first.stdout)
    items = json.loads(first.stdout)["items"]
    order = {"changed": 0, "missing": 1, "orphaned": 2, "unmanaged": 3}
    keys = [(order[i["kind"]], i["address"]) for i in items]
    assert keys == sorted(keys)
    assert [i["address"] for i in items if i["kind"] == "unmanaged"] == [
        "integration.kubiya.hand-alpha",
        "integration.kubiya.hand-mid",
        "integration.kubiya.hand-zeta",
    ]


def test_notify_posts_a_slack_payload(applied: tuple[World, Path], hook: Hook) -> None:
    world, path = applied
    world.create_unmanaged("hand-made")
    result = world.run("drift", path, "--notify", hook.url + "/services/T/B/X")
    assert result.exit_code == 2
    assert "Drift report posted to the webhook." in result.stderr
    (posted,) = hook.received
    assert (posted.method, posted.path) == ("POST", "/services/T/B/X")
    assert posted.headers["Content-Type"] == "application/json"
    payload = posted.json()
    assert set(payload) == {"text", "blocks"}
    assert payload["text"].startswith("reconciler drift report")
    assert all(block["type"] in {"header", "section", "context"} for block in payload["blocks"])
    assert "integration.kubiya.hand-made" in json.dumps(payload["blocks"])


def test_no_notification_without_drift_unless_always(
    applied: tuple[World, Path], hook: Hook
) -> None:
    world, path = applied
    assert world.run("drift", path, "--notify", hook.url).exit_code == 0
    assert hook.received == []
    assert world.run("drift", path, "--notify", hook.url, "--notify-always").exit_code == 0
    assert len(hook.received) == 1


def test_a_refusing_webhook_is_a_warning_and_the_exit_code_stays_2(
    world: World, hook: Hook
) -> None:
    path = world.desired()
    hook.answer(403, b'{"message": "invalid_token"}')
    result = world.run("drift", path, "--notify", hook.url + "/services/T/B/secret-token")
    assert result.exit_code == 2
    assert (
        "Warning: notifying http://127.0.0.1 failed: answered 403: invalid_token" in result.stderr
    )
    assert "secret-token" not in result.output
    assert "integration.kubiya.pg-main" in result.stdout  # the report itself is intact
    assert len(hook.received) == 1  # a 403 is not retried


def test_a_webhook_error_echoing_the_url_path_is_left_out_of_the_warning(world: World, hook: Hook) -> None:
    path = world.desired()
    # What an Express server answers to an unknown route: the path, i.e. the webhook's token.
    hook.answer(404, b"Cannot POST /services/T0000/B0000/XoXoSecretPart", "text/html")
    result = world.run("drift", path, "--notify", hook.url + "/services/T0000/B0000/XoXoSecretPart")
    assert result.exit_code == 2
    assert "Warning: notifying http://127.0.0.1 failed: answered 404 (its message is left out" in result.stderr
    assert "XoXoSecretPart" not in result.output


def test_an_unreachable_webhook_is_a_warning_and_the_exit_code_stays_2(world: World) -> None:
    path = world.desired()
    result = world.run("drift", path, "--notify", closed_port_url() + "/hook")
    assert result.exit_code == 2
    assert "Warning: notifying http://127.0.0.1 failed: no answer (ConnectError)" in result.stderr
    assert "integration.kubiya.pg-main" in result.stdout
