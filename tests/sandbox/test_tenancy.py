"""Multi-tenancy with the built-in seed, in process and over HTTP: one organization (or team)
never sees or touches another's data, in any of the three APIs."""

from __future__ import annotations

import httpx

KUBIYA = "/api/v1/custom-integrations"


def token(client: httpx.Client, key_id: str, secret: str) -> str:
    response = client.post("/api/token", json={"keyId": key_id, "keySecret": secret})
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


def test_kubiya_organizations_are_apart(sandbox_client: httpx.Client) -> None:
    one = {"Authorization": "Bearer sandbox-kubiya-token"}
    two = {"Authorization": "Bearer sandbox-kubiya-token-2"}
    body = {"name": "pg", "integration_type": "postgres", "config": {}}
    created = sandbox_client.post(KUBIYA, json=body, headers=one).json()
    assert sandbox_client.get(KUBIYA, headers=two).json() == []
    assert sandbox_client.get(f"{KUBIYA}/{created['id']}", headers=two).status_code == 404
    # The same name is free in the other organization.
    assert sandbox_client.post(KUBIYA, json=body, headers=two).status_code == 201


def test_conductor_organizations_are_apart(sandbox_client: httpx.Client) -> None:
    one = {"X-Authorization": token(sandbox_client, "sandbox-key-id", "sandbox-key-secret")}
    two = {"X-Authorization": token(sandbox_client, "sandbox-key-id-2", "sandbox-key-secret-2")}
    body = {"type": "ollama", "category": "AI_MODEL", "configuration": {"endpoint": "http://x"}}
    assert sandbox_client.post("/api/integrations/provider/llm", json=body, headers=one).status_code == 200
    assert sandbox_client.get("/api/integrations/provider/llm", headers=two).status_code == 404
    assert sandbox_client.get("/api/integrations/", params={"activeOnly": "false"}, headers=two).json() == []
    # Another organization may use the name with another type: it is another provider.
    other = {**body, "type": "openai", "configuration": {"api_key": "k"}}
    assert sandbox_client.post("/api/integrations/provider/llm", json=other, headers=two).status_code == 200


def test_console_teams_are_apart(sandbox_client: httpx.Client) -> None:
    one = {"Authorization": "Bearer sk_sandbox"}
    two = {"Authorization": "Bearer sk_sandbox_2"}
    base = "/api/v1/console/agents/{}/integrations/mcp_server"
    body = {"name": "docs", "server_url": "https://mcp.example.com"}
    assert sandbox_client.post(base.format("agt_demo") + "/configure", json=body, headers=one).status_code == 201
    # The other team cannot see the agent at all, and its own agent is empty.
    assert sandbox_client.get(base.format("agt_demo"), headers=two).status_code == 404
    assert sandbox_client.get(base.format("agt_other"), headers=two).json()["data"] == []
    assert sandbox_client.get(base.format("agt_other"), headers=one).status_code == 404
