"""Conductor as the vendor's spec has it: the real category enum, names the server reserves,
an unreadable type catalog and older servers' version fields, through the command line."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from reconciler.sandbox import transport as sandbox_transport_module
from reconciler.sandbox.transport import transport
from tests.cli.conftest import World

AWS = """
providers:
  - name: cloud
    server: orkes
    type: aws
    configuration: {connectionType: CONDUCTOR_ROLE, region: us-east-1}
"""


class Rewriting(httpx.AsyncBaseTransport):
    """The sandbox, with each answer passed through `rewrite(method, path, response)`."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport, rewrite: Callable[[str, str, httpx.Response], httpx.Response]
    ) -> None:
        self.inner = inner
        self.rewrite = rewrite

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        await response.aread()
        return self.rewrite(request.method, request.url.path, response)


def rewrite_answers(monkeypatch: pytest.MonkeyPatch, rewrite: Callable[[str, str, httpx.Response], httpx.Response]) -> None:
    monkeypatch.setattr(sandbox_transport_module, "transport", lambda url, **kw: Rewriting(transport(url, **kw), rewrite))


def rename_fields(body: Any, renames: dict[str, str | None]) -> Any:
    if isinstance(body, list):
        return [rename_fields(item, renames) for item in body]
    if isinstance(body, dict):
        out = {}
        for key, value in body.items():
            new = renames.get(key, key)
            if new is not None:
                out[new] = rename_fields(value, renames)
        return out
    return body


def renaming(renames: dict[str, str | None]) -> Callable[[str, str, httpx.Response], httpx.Response]:
    def rewrite(method: str, path: str, response: httpx.Response) -> httpx.Response:
        if method != "GET" or not path.startswith("/api/integrations") or response.status_code != 200:
            return response
        body = rename_fields(response.json(), renames)
        return httpx.Response(200, json=body)

    return rewrite


def test_a_model_named_all_is_refused_by_validate(world: World) -> None:
    path = world.desired(
        "providers:\n  - name: oa\n    server: orkes\n    type: ollama\n"
        "    configuration: {endpoint: http://x}\n    apis:\n      - {name: all}\n"
    )
    result = world.run("validate", path)
    assert result.exit_code == 1
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "name: all" in text)
    assert f"{path}:{line}:" in result.stderr
    assert "model name 'all' cannot be used with Conductor" in result.stderr


def test_category_cloud_is_not_in_the_real_enum(world: World) -> None:
    path = world.desired(AWS.replace("type: aws", "type: aws\n    category: CLOUD"))
    result = world.run("validate", path)
    assert result.exit_code == 1
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "CLOUD" in text)
    assert f"Error: {path}:{line}:15: " in result.stderr
    assert "must be one of: API, AI_MODEL, VECTOR_DB, RELATIONAL_DB, MESSAGE_BROKER, GIT, EMAIL, MCP" in result.stderr


def test_aws_gets_no_category_unless_the_user_sets_one(world: World) -> None:
    assert world.run("apply", world.desired(AWS), "--auto-approve").exit_code == 0
    assert "category" not in world.conductor("GET", "/integrations/provider/cloud").json()
    assert world.run("plan", world.desired(AWS), "--detailed-exitcode").exit_code == 0
    with_category = world.desired(AWS.replace("type: aws", "type: aws\n    category: API"))
    assert world.run("apply", with_category, "--auto-approve").exit_code == 0
    assert world.conductor("GET", "/integrations/provider/cloud").json()["category"] == "API"


def test_an_unreadable_type_catalog_is_a_warning_of_the_plan(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_catalog(method: str, path: str, response: httpx.Response) -> httpx.Response:
        if path == "/api/integrations/def":
            return httpx.Response(404, json={"status": 404, "message": "Not found"})
        return response

    rewrite_answers(monkeypatch, no_catalog)
    result = world.run("plan", world.desired(AWS))
    assert result.exit_code == 0, result.output
    assert "the type catalog (GET /api/integrations/def) could not be read" in result.output


def test_an_older_server_sending_updated_on_keeps_the_version(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    assert world.run("apply", world.desired(AWS), "--auto-approve").exit_code == 0
    rewrite_answers(monkeypatch, renaming({"updateTime": "updatedOn", "createTime": "createdOn"}))
    out = world.tmp / "plan.json"
    result = world.run("plan", world.desired(AWS.replace("us-east-1", "eu-west-1")), "--out", out)
    assert result.exit_code == 0, result.output
    assert "updatedOn" not in result.output
    (change,) = [c for c in json.loads(out.read_text())["changes"] if c["action"] == "update"]
    assert change["live_version"] == str(world.conductor("GET", "/integrations/provider/cloud").json()["updateTime"])


def test_a_server_without_version_fields_is_warned_about(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    assert world.run("apply", world.desired(AWS), "--auto-approve").exit_code == 0
    rewrite_answers(monkeypatch, renaming({"updateTime": None, "createTime": None}))
    result = world.run("plan", world.desired(AWS))
    assert result.exit_code == 0, result.output
    assert "sends neither updateTime nor updatedOn for 1 resource(s)" in result.output


def test_a_password_field_the_desired_state_does_not_name_is_warned_about(world: World) -> None:
    assert world.run("apply", world.desired(AWS), "--auto-approve").exit_code == 0
    live = world.conductor("GET", "/integrations/provider/cloud").json()
    by_hand = {**live["configuration"], "externalId": "ext-by-hand"}
    body = {"type": "aws", "description": live["description"], "configuration": by_hand}
    assert world.conductor("POST", "/integrations/provider/cloud", json_body=body).status_code == 200
    result = world.run("plan", world.desired(AWS))
    assert result.exit_code == 0, result.output
    assert "provider.orkes.cloud: the server holds the password field(s) externalId" in result.output
    assert "ext-by-hand" not in result.output


@pytest.mark.parametrize("key", ["awsAccountId", "schemaRegistryApiSecret", "keyStorePassword"])
def test_a_password_field_of_the_java_sdk_is_masked_and_compared_by_fingerprint(world: World, key: str) -> None:
    # The Java SDK's ConfigKey.java marks these as PASSWORD beside api_key, password, externalId.
    path = world.desired(AWS.replace("region: us-east-1", f'region: us-east-1, {key}: "${{env:PW_FIELD}}"'))
    first, second = "first-value-of-the-field", "second-value-of-the-field"
    applied = world.run("apply", path, "--auto-approve", env={"PW_FIELD": first})
    assert applied.exit_code == 0, applied.output
    assert f"+ configuration.{key} = (sensitive)" in applied.output
    live = world.conductor("GET", "/integrations/provider/cloud").json()
    assert live["configuration"][key] == "********"
    assert any(t["key"] == "reconciler-fingerprint" for t in live["tags"])
    # The masked value read back is not a difference: the fingerprint of the same value matches.
    same = world.run("plan", path, "--detailed-exitcode", env={"PW_FIELD": first})
    assert same.exit_code == 0, same.output
    changed = world.run("plan", path, "--detailed-exitcode", env={"PW_FIELD": second})
    assert changed.exit_code == 2, changed.output
    assert "a write-only value changed (its fingerprint differs)" in changed.output
    assert f"~ configuration.{key}: (sensitive) -> (sensitive)" in changed.output
    for result in (applied, same, changed):
        assert first not in result.output
        assert second not in result.output
