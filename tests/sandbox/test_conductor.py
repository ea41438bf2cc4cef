"""Contract tests of the Conductor emulator (`reconciler.sandbox.conductor`).

Most tests use `sandbox_client`, so they run in process and against `reconciler sandbox serve`.
Tests that move the clock, use a custom seed, look at stored rows or time the big lists build
their own in-process app.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from reconciler.sandbox.app import create_app
from reconciler.sandbox.conductor.catalog import catalog
from reconciler.sandbox.seed import ConductorKey, Seed, default_seed
from tests.conftest import json_of, statements_of

KEY = {"keyId": "sandbox-key-id", "keySecret": "sandbox-key-secret"}
MASK = "********"
PROVIDER_KEYS = {
    "name", "type", "category", "description", "enabled", "configuration", "tags",
    "modelsCount", "createTime", "updateTime", "createdBy", "updatedBy",
}  # fmt: skip


def token_of(client: httpx.Client, key: dict[str, str] = KEY) -> str:
    response = client.post("/api/token", json=key)
    assert response.status_code == 200, response.text
    return str(json_of(response)["token"])


@pytest.fixture
def c(sandbox_client: httpx.Client) -> httpx.Client:
    """The sandbox client, authenticated with the default key pair."""
    sandbox_client.headers["X-Authorization"] = token_of(sandbox_client)
    return sandbox_client


@pytest.fixture
def app_client(sandbox_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(sandbox_app, raise_server_exceptions=False) as client:
        client.headers["X-Authorization"] = token_of(client)
        yield client


def openai(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "openai",
        "category": "AI_MODEL",
        "description": "marketing models",
        "enabled": True,
        "configuration": {"api_key": "sk-secret", "endpoint": "https://api.openai.com/v1"},
    }
    return {**body, **overrides}


def save(client: httpx.Client, name: str, **overrides: Any) -> httpx.Response:
    return client.post(f"/api/integrations/provider/{name}", json=openai(**overrides))


def get(client: httpx.Client, name: str) -> dict[str, Any]:
    response = client.get(f"/api/integrations/provider/{name}")
    assert response.status_code == 200, response.text
    return dict(json_of(response))


def bulk_item(name: str, type_: str = "openai", **overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "name": name,
        "type": type_,
        "category": catalog().types[type_].category if type_ in catalog().types else "AI_MODEL",
        "description": f"{name} description",
        "enabled": True,
        "configuration": {"api_key": f"{name}-key"},
        "tags": [{"key": "team", "value": "ml"}],
        "apis": [
            {"integrationName": name, "api": "model-a", "description": "A", "enabled": True},
            {"integrationName": name, "api": "model-b", "description": "B", "enabled": False},
        ],
    }
    return {**item, **overrides}


def assert_error(response: httpx.Response, status: int) -> dict[str, Any]:
    """The vendor's error shape, with `status` both as the HTTP status and in the body."""
    assert response.status_code == status, response.text
    body = json_of(response)
    assert body["status"] == status
    assert isinstance(body["message"], str)
    assert body["message"]
    assert isinstance(body["instance"], str)
    assert body["instance"]
    assert body["retryable"] is False
    return dict(body)


def assert_auth_error(response: httpx.Response, code: str) -> dict[str, Any]:
    assert response.status_code == 401, response.text
    body = json_of(response)
    assert set(body) == {"message", "error", "timestamp"}
    assert body["error"] == code
    assert isinstance(body["timestamp"], int)
    assert body["timestamp"] > 1_000_000_000_000
    return dict(body)


def paths(body: dict[str, Any]) -> list[str]:
    return [e["path"] for e in body.get("validationErrors", [])]


def claims_of(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


# ---- auth ------------------------------------------------------------------------------------


def test_token_is_an_hs256_jwt_carrying_org_and_expiry(sandbox_client: httpx.Client) -> None:
    before = time.time()
    token = token_of(sandbox_client)
    header_b64, _, signature = token.split(".")
    header = json.loads(base64.urlsafe_b64decode(header_b64 + "=" * (-len(header_b64) % 4)))
    assert header == {"alg": "HS256", "typ": "JWT"}
    assert len(base64.urlsafe_b64decode(signature + "=")) == 32  # an HMAC-SHA256
    claims = claims_of(token)
    assert claims["sub"] == "sandbox-key-id"
    assert claims["org"] == "sandbox"
    assert before + 2700 - 2 <= claims["exp"] <= time.time() + 2700 + 2


def test_calls_need_the_token_in_x_authorization(sandbox_client: httpx.Client) -> None:
    token = token_of(sandbox_client)
    url = "/api/integrations/provider?activeOnly=false"
    body = assert_auth_error(sandbox_client.get(url), "INVALID_TOKEN")
    assert "X-Authorization" in body["message"]
    # The vendor's header carries the bare JWT: neither `Bearer` nor `Authorization` works.
    assert_auth_error(sandbox_client.get(url, headers={"X-Authorization": f"Bearer {token}"}), "INVALID_TOKEN")
    assert_auth_error(sandbox_client.get(url, headers={"Authorization": f"Bearer {token}"}), "INVALID_TOKEN")
    assert sandbox_client.get(url, headers={"X-Authorization": token}).status_code == 200


@pytest.mark.parametrize("mangle", ["garbage", "a.b.c", "tampered-claims", "tampered-signature"])
def test_bad_tokens_are_invalid(sandbox_client: httpx.Client, mangle: str) -> None:
    token = token_of(sandbox_client)
    header, claims, signature = token.split(".")
    forged_claims = {**claims_of(token), "org": "someone-else"}
    forged = base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).rstrip(b"=").decode()
    bad = {
        "garbage": "not-a-token",
        "a.b.c": "a.b.c",
        "tampered-claims": f"{header}.{forged}.{signature}",
        "tampered-signature": f"{header}.{claims}.{signature[:-2]}AA",
    }[mangle]
    response = sandbox_client.get("/api/integrations/def", headers={"X-Authorization": bad})
    assert_auth_error(response, "INVALID_TOKEN")


@pytest.mark.parametrize(
    "key",
    [
        {"keyId": "sandbox-key-id", "keySecret": "wrong"},
        {"keyId": "unknown", "keySecret": "sandbox-key-secret"},
    ],
)
def test_bad_key_pair_is_a_401(sandbox_client: httpx.Client, key: dict[str, str]) -> None:
    assert_auth_error(sandbox_client.post("/api/token", json=key), "INVALID_TOKEN")


def test_token_request_without_key_fields_is_a_400(sandbox_client: httpx.Client) -> None:
    body = assert_error(sandbox_client.post("/api/token", json={"keyId": "x"}), 400)
    assert paths(body) == ["keySecret"]
    assert_error(sandbox_client.post("/api/token", content=b"{nope"), 400)


def test_expired_token(sandbox_app: FastAPI) -> None:
    sandbox = sandbox_app.state.sandbox
    sandbox.clock = lambda: 1_700_000_000.0
    with TestClient(sandbox_app, raise_server_exceptions=False) as client:
        client.headers["X-Authorization"] = token_of(client)
        assert claims_of(client.headers["X-Authorization"])["exp"] == 1_700_000_000 + 2700
        sandbox.clock = lambda: 1_700_000_000.0 + 2699
        assert client.get("/api/integrations/provider").status_code == 200
        sandbox.clock = lambda: 1_700_000_000.0 + 2700
        body = assert_auth_error(client.get("/api/integrations/provider"), "EXPIRED_TOKEN")
        assert body["timestamp"] == (1_700_000_000 + 2700) * 1000
        # A fresh token works again: what the SDK's refresh-and-retry relies on.
        client.headers["X-Authorization"] = token_of(client)
        assert client.get("/api/integrations/provider").status_code == 200


def test_token_ttl_comes_from_the_seed() -> None:
    seed = default_seed()
    seed.conductor_token_ttl = 0.5
    app = create_app(":memory:", seed=seed)
    app.state.sandbox.clock = lambda: 1_700_000_100.0
    with TestClient(app, raise_server_exceptions=False) as client:
        client.headers["X-Authorization"] = token_of(client)
        app.state.sandbox.clock = lambda: 1_700_000_100.4
        assert client.get("/api/integrations/def").status_code == 200
        app.state.sandbox.clock = lambda: 1_700_000_100.5
        assert_auth_error(client.get("/api/integrations/def"), "EXPIRED_TOKEN")


def test_routing_errors_come_after_auth_and_in_the_error_shape(c: httpx.Client) -> None:
    no_token = {"X-Authorization": ""}
    assert_auth_error(c.get("/api/no/such/route", headers=no_token), "INVALID_TOKEN")
    assert_error(c.get("/api/no/such/route"), 404)
    response = c.post("/api/integrations/def", json={})
    assert_error(response, 405)
    assert response.headers["allow"] == "GET"


# ---- providers -------------------------------------------------------------------------------


def test_provider_upsert_and_read_shape(c: httpx.Client) -> None:
    response = save(c, "openai-marketing")
    assert response.status_code == 200
    assert response.content == b""
    provider = get(c, "openai-marketing")
    assert set(provider) == PROVIDER_KEYS
    assert provider["name"] == "openai-marketing"
    assert provider["type"] == "openai"
    assert provider["category"] == "AI_MODEL"
    assert provider["description"] == "marketing models"
    assert provider["enabled"] is True
    assert provider["tags"] == []
    assert provider["modelsCount"] == 0
    assert provider["createdBy"] == provider["updatedBy"] == "sandbox-key-id"
    assert isinstance(provider["createTime"], int)
    assert provider["createTime"] > 1_600_000_000_000
    assert provider["updateTime"] == provider["createTime"]


def test_password_keys_are_masked_and_defaults_added_on_read(c: httpx.Client) -> None:
    save(c, "oa", configuration={"api_key": "sk-secret", "endpoint": "https://x"})
    config = get(c, "oa")["configuration"]
    # organizationId is the server's default key for openai; api_key never reads back.
    assert config == {"api_key": MASK, "endpoint": "https://x", "organizationId": ""}
    c.post(
        "/api/integrations/provider/db",
        json={
            "type": "relational_db",
            "configuration": {
                "jdbcDriver": "org.postgresql.Driver",
                "user": "app",
                "password": "hunter2",
                "datasourceURL": "jdbc:postgresql://db/app",
            },
        },
    ).raise_for_status()
    db_config = get(c, "db")["configuration"]
    assert db_config["password"] == MASK
    assert db_config["user"] == "app"
    listed = c.get("/api/integrations/?activeOnly=false").json()
    assert "hunter2" not in json.dumps(listed)
    assert "sk-secret" not in json.dumps(listed)


def test_a_stored_default_key_is_not_overridden(c: httpx.Client) -> None:
    save(c, "oa", configuration={"api_key": "k", "organizationId": "org-42"})
    assert get(c, "oa")["configuration"]["organizationId"] == "org-42"


def test_a_mask_sent_back_is_stored_in_place_of_the_secret(sandbox_app: FastAPI, app_client: TestClient) -> None:
    # What a real server does with the mask is not published: the sandbox takes the harmful
    # reading, so that a client sending a read value back loses the secret in its own tests.
    save(app_client, "oa", configuration={"api_key": "sk-original"})
    save(app_client, "oa", description="round trip", configuration=get(app_client, "oa")["configuration"])
    conn = sandbox_app.state.sandbox.db.conn
    (stored,) = conn.execute("SELECT configuration FROM conductor_provider").fetchone()
    assert json.loads(stored)["api_key"] == "********"


def test_single_post_ignores_tags_and_replaces_fields(c: httpx.Client) -> None:
    save(c, "oa", tags=[{"key": "ignored", "value": "yes"}])
    assert get(c, "oa")["tags"] == []
    c.put("/api/integrations/provider/oa/tags", json=[{"key": "env", "value": "prod"}])
    first = get(c, "oa")
    response = c.post(
        "/api/integrations/provider/oa",
        json={"type": "openai", "configuration": {"api_key": "k2"}},
    )
    assert response.status_code == 200
    second = get(c, "oa")
    # Omitted fields take their defaults; tags stay (the single POST has no tags field).
    assert second["description"] == ""
    assert second["enabled"] is True
    assert second["tags"] == [{"key": "env", "value": "prod"}]
    assert second["createTime"] == first["createTime"]
    assert second["updateTime"] > first["updateTime"]


def test_type_change_is_a_400(c: httpx.Client) -> None:
    save(c, "llm")
    body = assert_error(
        c.post(
            "/api/integrations/provider/llm",
            json={"type": "anthropic", "configuration": {"api_key": "k", "endpoint": "e"}},
        ),
        400,
    )
    assert paths(body) == ["type"]
    assert body["validationErrors"][0]["invalidValue"] == "anthropic"
    assert get(c, "llm")["type"] == "openai"


def test_unknown_type_is_a_404(c: httpx.Client) -> None:
    body = assert_error(c.post("/api/integrations/provider/x", json={"type": "nope"}), 404)
    assert "nope" in body["message"]
    assert_error(c.get("/api/integrations/provider/x"), 404)


def test_category_must_be_known_and_match_the_type(c: httpx.Client) -> None:
    body = assert_error(save(c, "x", category="TOASTERS"), 400)
    assert paths(body) == ["category"]
    assert body["validationErrors"][0]["invalidValue"] == "TOASTERS"
    assert paths(assert_error(save(c, "x", category="VECTOR_DB"), 400)) == ["category"]
    assert save(c, "x", category=None).status_code == 200
    assert get(c, "x")["category"] == "AI_MODEL"


def test_get_missing_provider_is_a_404(c: httpx.Client) -> None:
    body = assert_error(c.get("/api/integrations/provider/ghost"), 404)
    assert "ghost" in body["message"]


def test_active_only_defaults_to_true(c: httpx.Client) -> None:
    save(c, "on")
    save(c, "off", enabled=False)
    c.post(
        "/api/integrations/provider/vec",
        json={"type": "pineconedb", "configuration": {"api_key": "k", "environment": "e"}},
    ).raise_for_status()

    def names(url: str) -> list[str]:
        response = c.get(url)
        assert response.status_code == 200, response.text
        return [p["name"] for p in response.json()]

    assert names("/api/integrations/provider") == ["on", "vec"]
    assert names("/api/integrations/provider?activeOnly=true") == ["on", "vec"]
    assert names("/api/integrations/provider?activeOnly=false") == ["off", "on", "vec"]
    assert names("/api/integrations/provider?activeOnly=false&category=VECTOR_DB") == ["vec"]
    assert names("/api/integrations/") == ["on", "vec"]
    assert names("/api/integrations/?activeOnly=false") == ["off", "on", "vec"]
    listed = c.get("/api/integrations/provider?activeOnly=false").json()
    assert all("apis" not in p for p in listed)
    # A disabled provider still exists: GET finds it and POST again updates it.
    assert get(c, "off")["enabled"] is False
    created = get(c, "off")["createTime"]
    save(c, "off", enabled=True)
    assert get(c, "off")["createTime"] == created
    assert names("/api/integrations/provider") == ["off", "on", "vec"]


def test_bad_query_values_are_400s(c: httpx.Client) -> None:
    body = assert_error(c.get("/api/integrations/provider?activeOnly=maybe"), 400)
    assert paths(body) == ["activeOnly"]
    body = assert_error(c.get("/api/integrations/?category=TOASTERS"), 400)
    assert paths(body) == ["category"]


def test_delete_provider_cascades_to_its_apis(c: httpx.Client) -> None:
    save(c, "oa")
    c.post("/api/integrations/provider/oa/integration/gpt-4o", json={}).raise_for_status()
    response = c.delete("/api/integrations/provider/oa")
    assert response.status_code == 200
    assert response.content == b""
    assert_error(c.get("/api/integrations/provider/oa"), 404)
    assert_error(c.get("/api/integrations/provider/oa/integration/gpt-4o"), 404)
    save(c, "oa")
    assert c.get("/api/integrations/provider/oa/integration?activeOnly=false").json() == []
    assert get(c, "oa")["modelsCount"] == 0
    # Deleting what is not there is still a 200.
    assert c.delete("/api/integrations/provider/ghost").status_code == 200


# ---- integration APIs ------------------------------------------------------------------------


def test_api_upsert_read_list_delete(c: httpx.Client) -> None:
    assert_error(c.post("/api/integrations/provider/ghost/integration/m", json={}), 404)
    save(c, "oa")
    url = "/api/integrations/provider/oa/integration"
    response = c.post(
        f"{url}/gpt-4o",
        json={
            "description": "flagship",
            "enabled": True,
            "configuration": {"api_key": "per-model", "temperature": 0.2},
            "maxTokens": 1000,
            "frequency": "daily",
        },
    )
    assert response.status_code == 200
    assert response.content == b""
    c.post(f"{url}/old", json={"description": "retired", "enabled": False}).raise_for_status()
    api = json_of(c.get(f"{url}/gpt-4o"))
    assert api["integrationName"] == "oa"
    assert api["api"] == "gpt-4o"
    assert api["description"] == "flagship"
    assert api["configuration"] == {"api_key": MASK, "temperature": 0.2}
    assert api["enabled"] is True
    assert api["tags"] == []
    assert api["maxTokens"] == 1000
    assert api["frequency"] == "DAILY"
    assert api["createdBy"] == "sandbox-key-id"
    assert isinstance(api["createTime"], int)
    assert api["updateTime"] >= api["createTime"]
    old = json_of(c.get(f"{url}/old"))
    assert "maxTokens" not in old
    assert "frequency" not in old
    assert [a["api"] for a in c.get(url).json()] == ["gpt-4o"]
    assert [a["api"] for a in c.get(f"{url}?activeOnly=false").json()] == ["gpt-4o", "old"]
    assert get(c, "oa")["modelsCount"] == 2
    assert c.delete(f"{url}/old").status_code == 200
    assert_error(c.get(f"{url}/old"), 404)
    assert get(c, "oa")["modelsCount"] == 1
    assert_error(c.get("/api/integrations/provider/ghost/integration"), 404)


def test_api_body_types_are_checked(c: httpx.Client) -> None:
    save(c, "oa")
    body = assert_error(
        c.post(
            "/api/integrations/provider/oa/integration/m",
            json={"enabled": "yes", "maxTokens": "many", "frequency": "hourly"},
        ),
        400,
    )
    assert sorted(paths(body)) == ["enabled", "frequency", "maxTokens"]
    assert c.get("/api/integrations/provider/oa/integration?activeOnly=false").json() == []


def test_update_time_moves_on_every_write(c: httpx.Client) -> None:
    save(c, "oa")
    seen: list[int] = [get(c, "oa")["updateTime"]]

    def moved() -> bool:
        now: int = get(c, "oa")["updateTime"]
        ok = now > seen[-1]
        seen.append(now)
        return ok

    base = "/api/integrations/provider/oa"
    save(c, "oa")  # identical content is still a write
    assert moved()
    c.put(f"{base}/tags", json=[{"key": "a", "value": "1"}])
    assert moved()
    c.request("DELETE", f"{base}/tags", json=[{"key": "a", "value": "1"}])
    assert moved()
    c.post(f"{base}/integration/m", json={})
    assert moved()
    c.delete(f"{base}/integration/m")
    assert moved()
    c.post("/api/integrations/", json=[bulk_item("oa")])
    assert moved()
    c.get(base)  # a read is not a write
    assert not moved()


def test_update_time_moves_under_a_frozen_clock(sandbox_app: FastAPI, app_client: TestClient) -> None:
    sandbox_app.state.sandbox.clock = lambda: 1_700_000_000.0
    save(app_client, "oa")
    first = get(app_client, "oa")["updateTime"]
    save(app_client, "oa")
    assert get(app_client, "oa")["updateTime"] == first + 1


# ---- tags ------------------------------------------------------------------------------------


def test_tags_are_added_listed_and_removed_as_pairs(c: httpx.Client) -> None:
    save(c, "oa")
    url = "/api/integrations/provider/oa/tags"
    a, b, b2 = (
        {"key": "env", "value": "prod"},
        {"key": "team", "value": "ml"},
        {"key": "team", "value": "data"},
    )
    response = c.put(url, json=[a, b])
    assert response.status_code == 200
    assert response.content == b""
    c.put(url, json=[b, b2, b2]).raise_for_status()  # adds, never duplicates
    assert json_of(c.get(url)) == [a, b, b2]
    assert get(c, "oa")["tags"] == [a, b, b2]
    # DELETE removes exactly the pairs sent, not every value of a key; unknown pairs are no-ops.
    response = c.request("DELETE", url, json=[b, {"key": "env", "value": "dev"}])
    assert response.status_code == 200
    assert json_of(c.get(url)) == [a, b2]


def test_tag_calls_on_missing_provider_and_bad_bodies(c: httpx.Client) -> None:
    url = "/api/integrations/provider/ghost/tags"
    assert_error(c.get(url), 404)
    assert_error(c.put(url, json=[{"key": "a", "value": "b"}]), 404)
    save(c, "oa")
    url = "/api/integrations/provider/oa/tags"
    body = assert_error(c.put(url, json={"key": "a", "value": "b"}), 400)
    assert paths(body) == [""]
    body = assert_error(c.put(url, json=[{"key": "a"}, {"key": 1, "value": "x"}]), 400)
    assert paths(body) == ["[0].value", "[1].key"]
    assert_error(c.request("DELETE", url), 400)
    assert json_of(c.get(url)) == []


# ---- bulk ------------------------------------------------------------------------------------


def test_bulk_save_and_list_with_apis(c: httpx.Client) -> None:
    vec = bulk_item("vec", "pineconedb", configuration={"api_key": "k", "environment": "e"})
    response = c.post("/api/integrations/", json=[bulk_item("oa"), vec])
    assert response.status_code == 200
    assert response.content == b""
    listed = json_of(c.get("/api/integrations/?activeOnly=false"))
    assert [p["name"] for p in listed] == ["oa", "vec"]
    oa = listed[0]
    assert set(oa) == PROVIDER_KEYS | {"apis"}
    assert oa["tags"] == [{"key": "team", "value": "ml"}]
    assert oa["configuration"]["api_key"] == MASK
    assert oa["modelsCount"] == 2
    assert [(a["integrationName"], a["api"], a["enabled"]) for a in oa["apis"]] == [
        ("oa", "model-a", True),
        ("oa", "model-b", False),
    ]
    # activeOnly (default true) hides disabled APIs in the bulk list too.
    active = json_of(c.get("/api/integrations/"))
    assert [a["api"] for a in active[0]["apis"]] == ["model-a"]
    assert json_of(c.get("/api/integrations/?category=VECTOR_DB"))[0]["name"] == "vec"


def test_bulk_upsert_replaces_tags_and_keeps_unlisted_apis(c: httpx.Client) -> None:
    c.post("/api/integrations/", json=[bulk_item("oa")]).raise_for_status()
    before = get(c, "oa")
    again = bulk_item(
        "oa",
        description="v2",
        tags=[{"key": "env", "value": "prod"}],
        apis=[{"integrationName": "oa", "api": "model-c", "description": "C", "enabled": True}],
    )
    c.post("/api/integrations/", json=[again]).raise_for_status()
    after = get(c, "oa")
    assert after["description"] == "v2"
    assert after["tags"] == [{"key": "env", "value": "prod"}]
    assert after["createTime"] == before["createTime"]
    assert after["updateTime"] > before["updateTime"]
    apis = c.get("/api/integrations/provider/oa/integration?activeOnly=false").json()
    assert [a["api"] for a in apis] == ["model-a", "model-b", "model-c"]


def test_bulk_api_items_keep_the_stored_api_configuration(c: httpx.Client) -> None:
    save(c, "oa")
    url = "/api/integrations/provider/oa/integration/model-a"
    c.post(url, json={"configuration": {"temperature": 0.5}, "maxTokens": 10}).raise_for_status()
    item = bulk_item("oa")
    item["apis"][0]["configuration"] = {"temperature": 0.9}  # not part of the bulk shape
    item["apis"][0]["description"] = "renamed"
    c.post("/api/integrations/", json=[item]).raise_for_status()
    api = json_of(c.get(url))
    assert api["description"] == "renamed"
    assert api["configuration"] == {"temperature": 0.5}
    assert api["maxTokens"] == 10
    fresh = json_of(c.get("/api/integrations/provider/oa/integration/model-b"))
    assert fresh["configuration"] == {}
    assert fresh["enabled"] is False


def test_bulk_later_items_win(c: httpx.Client) -> None:
    c.post(
        "/api/integrations/", json=[bulk_item("oa", description="one"), bulk_item("oa", description="two")]
    ).raise_for_status()
    assert get(c, "oa")["description"] == "two"


BAD_THIRD_ITEMS: dict[str, tuple[dict[str, Any], str]] = {
    "unknown type": ({"type": "nope"}, "[2].type"),
    "integrationName mismatch": (
        {"apis": [{"integrationName": "other", "api": "m", "enabled": True}]},
        "[2].apis[0].integrationName",
    ),
    "missing name": ({"name": None, "apis": []}, "[2].name"),
    "wrong type": ({"enabled": "yes"}, "[2].enabled"),
    "unknown category": ({"category": "TOASTERS"}, "[2].category"),
    "type change within the array": (
        {"name": "first", "type": "anthropic", "apis": []},
        "[2].type",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_THIRD_ITEMS))
def test_bulk_is_all_or_nothing(c: httpx.Client, case: str) -> None:
    overrides, path = BAD_THIRD_ITEMS[case]
    third = {**bulk_item("third"), **overrides}
    items = [bulk_item("first"), bulk_item("second"), third]
    body = assert_error(c.post("/api/integrations/", json=items), 400)
    assert "[2]" in body["message"]
    assert paths(body) == [path]
    assert json_of(c.get("/api/integrations/?activeOnly=false")) == []


def test_bulk_type_change_of_a_stored_provider(c: httpx.Client) -> None:
    save(c, "llm")
    changed = bulk_item("llm", "anthropic", configuration={"api_key": "k", "endpoint": "e"})
    body = assert_error(c.post("/api/integrations/", json=[bulk_item("fresh"), changed]), 400)
    assert "[1]" in body["message"]
    assert "'llm'" in body["message"]
    assert paths(body) == ["[1].type"]
    assert_error(c.get("/api/integrations/provider/fresh"), 404)
    assert get(c, "llm")["type"] == "openai"


def test_bulk_reports_the_first_failing_item(c: httpx.Client) -> None:
    save(c, "llm")
    items = [
        bulk_item("ok"),
        bulk_item("llm", "anthropic"),  # a type change: item [1]
        bulk_item("bad", "nope"),  # also bad, but later
    ]
    body = assert_error(c.post("/api/integrations/", json=items), 400)
    assert paths(body) == ["[1].type"]


def test_bulk_body_must_be_an_array(c: httpx.Client) -> None:
    assert paths(assert_error(c.post("/api/integrations/", json=bulk_item("oa")), 400)) == [""]
    assert c.post("/api/integrations/", json=[]).status_code == 200


# ---- catalog ---------------------------------------------------------------------------------


def test_catalog_of_types(c: httpx.Client) -> None:
    defs = {d["type"]: d for d in json_of(c.get("/api/integrations/def"))}
    assert set(defs) == set(catalog().types)
    oa = defs["openai"]
    assert oa["category"] == "AI_MODEL"
    assert isinstance(oa["name"], str)
    assert isinstance(oa["description"], str)
    fields = {f["fieldName"]: f for f in oa["configuration"]}
    # organizationId is a configuration key, but not a name the spec's catalog fields may take.
    assert set(fields) == {"api_key", "endpoint"}
    assert (fields["api_key"]["fieldType"], fields["api_key"]["optional"]) == ("PASSWORD", False)
    assert (fields["endpoint"]["fieldType"], fields["endpoint"]["optional"]) == ("TEXT", True)
    db = {f["fieldName"]: f for f in defs["relational_db"]["configuration"]}
    assert db["password"]["fieldType"] == "PASSWORD"
    assert db["user"]["fieldType"] == "TEXT"
    aws = {f["fieldName"]: f for f in defs["aws"]["configuration"]}
    assert aws["region"]["optional"] is False
    assert aws["roleArn"]["optional"] is True
    # aws and gcp: the vendor publishes no category for them, and the catalog names none.
    assert {d.get("category") for d in defs.values()} <= {*catalog().categories, None}
    assert "category" not in defs["aws"]
    assert "category" not in defs["gcp"]


# ---- malformed bodies ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "path"),
    [
        (b'{"type": "openai",', None),
        (b"", None),
        (b"\xff\xfe", None),
        (b'{"type": "openai", "enabled": NaN}', None),
        (b"[1, 2]", ""),
        (b'{"category": "AI_MODEL"}', "type"),
        (b'{"type": 7}', "type"),
        (b'{"type": "openai", "enabled": "true"}', "enabled"),
        (b'{"type": "openai", "configuration": ["api_key"]}', "configuration"),
        (b'{"type": "openai", "description": 3}', "description"),
    ],
)
def test_malformed_provider_bodies(c: httpx.Client, content: bytes, path: str | None) -> None:
    response = c.post(
        "/api/integrations/provider/oa",
        content=content,
        headers={"Content-Type": "application/json"},
    )
    body = assert_error(response, 400)
    if path is not None:
        assert paths(body) == [path]
    assert_error(c.get("/api/integrations/provider/oa"), 404)


def test_oversized_body_is_a_413(c: httpx.Client) -> None:
    huge = openai(description="x" * (1024 * 1024 + 1))
    assert_error(c.post("/api/integrations/provider/oa", json=huge), 413)
    assert_error(c.post("/api/integrations/", json=[bulk_item("oa", description="x" * 1_100_000)]), 413)
    assert_error(c.get("/api/integrations/provider/oa"), 404)


def test_bad_names_are_rejected(c: httpx.Client) -> None:
    assert paths(assert_error(save(c, "%20"), 400)) == ["name"]
    long = "n" * 256
    assert paths(assert_error(c.post("/api/integrations/", json=[bulk_item(long)]), 400)) == ["[0].name"]


# ---- tenancy and scale -----------------------------------------------------------------------


def test_organizations_do_not_see_each_other() -> None:
    seed = default_seed()
    seed.conductor_keys["other-key"] = ConductorKey("other-key", "other-secret", "other-org")
    app = create_app(":memory:", seed=seed)
    with TestClient(app, raise_server_exceptions=False) as a, TestClient(app, raise_server_exceptions=False) as b:
        a.headers["X-Authorization"] = token_of(a)
        b.headers["X-Authorization"] = token_of(b, {"keyId": "other-key", "keySecret": "other-secret"})
        assert claims_of(b.headers["X-Authorization"])["org"] == "other-org"
        save(a, "shared-name")
        response = b.post(
            "/api/integrations/provider/shared-name",
            json={"type": "anthropic", "configuration": {"api_key": "k", "endpoint": "e"}},
        )
        assert response.status_code == 200  # no type clash: another organization's provider
        a.post("/api/integrations/", json=[bulk_item("only-a")]).raise_for_status()
        assert get(a, "shared-name")["type"] == "openai"
        assert get(b, "shared-name")["type"] == "anthropic"
        assert get(b, "shared-name")["createdBy"] == "other-key"
        assert [p["name"] for p in b.get("/api/integrations/?activeOnly=false").json()] == ["shared-name"]
        assert_error(b.get("/api/integrations/provider/only-a"), 404)
        assert_error(b.get("/api/integrations/provider/only-a/tags"), 404)
        b.delete("/api/integrations/provider/only-a").raise_for_status()
        assert get(a, "only-a")["modelsCount"] == 2


def test_a_token_of_a_removed_key_is_invalid() -> None:
    seed = Seed(conductor_keys={"k": ConductorKey("k", "s", "org")})
    app = create_app(":memory:", seed=seed)
    with TestClient(app, raise_server_exceptions=False) as client:
        client.headers["X-Authorization"] = token_of(client, {"keyId": "k", "keySecret": "s"})
        assert client.get("/api/integrations/def").status_code == 200
        seed.conductor_keys["k"] = ConductorKey("k", "s", "moved-org")
        assert_auth_error(client.get("/api/integrations/def"), "INVALID_TOKEN")


def test_big_bulk_and_list_take_a_bounded_number_of_statements(app_client: TestClient, sandbox_app: FastAPI) -> None:
    # What keeps a 10,000-model bulk save and list quick is that neither issues a query per
    # row; counted at the database, so the check holds on any machine, loaded or not.
    def batch(b: int, providers: int, apis: int) -> list[dict[str, Any]]:
        return [
            bulk_item(
                f"p{b:02d}-{i:03d}",
                apis=[{"integrationName": f"p{b:02d}-{i:03d}", "api": f"m{j}", "enabled": True} for j in range(apis)],
            )
            for i in range(providers)
        ]

    def statements(call: Any) -> tuple[int, Any]:
        return statements_of(sandbox_app, call)

    def listing() -> Any:
        return app_client.get("/api/integrations/?activeOnly=false")

    bulk_small, answer = statements(lambda: app_client.post("/api/integrations/", json=batch(0, 2, 2)))
    assert answer.status_code == 200
    list_small, _ = statements(listing)
    bulk_large, answer = statements(lambda: app_client.post("/api/integrations/", json=batch(1, 100, 20)))
    assert answer.status_code == 200
    list_large, response = statements(listing)
    providers = response.json()
    assert len(providers) == 102
    assert sum(len(p["apis"]) for p in providers) == 2004
    assert (bulk_large, list_large) == (bulk_small, list_small)  # 50 times the rows, the same statements
