"""The sandbox's built-in credentials (`reconciler.sandbox.credentials`): the ones a `sandbox:`
server that declares none is given, each accepted by the default seed."""

from __future__ import annotations

from fastapi.testclient import TestClient

from reconciler.sandbox.app import create_app
from reconciler.sandbox.credentials import built_in


def test_the_built_in_kubiya_token_is_accepted() -> None:
    token = built_in("kubiya")["token"]
    with TestClient(create_app()) as client:
        response = client.get("/api/v1/custom-integrations", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


def test_the_built_in_conductor_key_pair_is_exchanged_for_a_token() -> None:
    pair = built_in("conductor")
    with TestClient(create_app()) as client:
        response = client.post("/api/token", json={"keyId": pair["key_id"], "keySecret": pair["key_secret"]})
    assert response.status_code == 200
    assert response.json()["token"]


def test_the_built_in_console_api_key_may_write() -> None:
    key = built_in("console")["api_key"]
    with TestClient(create_app()) as client:
        response = client.post(
            "/api/v1/console/agents/agt_demo/integrations/mcp_server/configure",
            headers={"Authorization": f"Bearer {key}"},
            json={"name": "docs", "server_url": "https://mcp.example.com"},
        )
    assert response.status_code == 201


def test_an_unknown_kind_has_no_built_in_credentials() -> None:
    assert dict(built_in("gitlab")) == {}
