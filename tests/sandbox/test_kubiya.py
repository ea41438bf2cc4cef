"""Contract tests of the Kubiya custom-integrations emulator (`reconciler.sandbox.kubiya`).

Each test runs twice through `sandbox_client`: against the app in process and against
`reconciler sandbox serve` over HTTP. They pin the status codes, body shapes and quirks of
`shared/api-reference.md` section 1; tests that move the clock or fill the table directly use
`sandbox_app`.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from reconciler.sandbox import kubiya
from tests.conftest import json_of, statements_of

BASE = "/api/v1/custom-integrations"
AUTH = {"Authorization": "Bearer sandbox-kubiya-token"}
AUTH_2 = {"Authorization": "Bearer sandbox-kubiya-token-2"}

NORMALIZED_EMPTY_CONFIG: dict[str, Any] = {
    "env_vars": {},
    "secrets": [],
    "files": [],
    "context_prompt": None,
    "connection_test": None,
}


def create(
    client: httpx.Client, name: str, headers: dict[str, str] = AUTH, **fields: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name, "integration_type": "postgres", "config": {}, **fields}
    response = client.post(BASE, json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = json_of(response)
    return created


def names(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["name"] for item in json_of(response)]


def assert_internal_error(response: httpx.Response) -> None:
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == "Internal Server Error"


# --- create and read ---------------------------------------------------------------------------


def test_create_answers_201_with_the_full_object(sandbox_client: httpx.Client) -> None:
    response = sandbox_client.post(
        BASE,
        headers=AUTH,
        json={
            "name": "prod-db",
            "integration_type": "postgres",
            "description": "Production database",
            "config": {"env_vars": {"DB_HOST": "db.example.com"}, "secrets": ["DB_PASSWORD"]},
            "tags": ["production", "database"],
        },
    )
    assert response.status_code == 201
    body = json_of(response)
    assert set(body) == {
        "id", "organization_id", "name", "integration_type", "description", "status",
        "config", "tags", "created_at", "updated_at", "created_by",
    }  # fmt: skip
    assert uuid.UUID(body["id"]).version == 4
    assert str(uuid.UUID(body["id"])) == body["id"]
    assert body["organization_id"] == "sandbox"
    assert body["name"] == "prod-db"
    assert body["integration_type"] == "postgres"
    assert body["description"] == "Production database"
    assert body["status"] == "active"
    assert body["tags"] == ["production", "database"]
    assert body["created_by"] is None
    assert body["config"]["env_vars"] == {"DB_HOST": "db.example.com"}
    assert body["config"]["secrets"] == ["DB_PASSWORD"]
    created = datetime.fromisoformat(body["created_at"])
    assert created.utcoffset() == timedelta(0)
    assert abs((datetime.now(UTC) - created).total_seconds()) < 60
    assert body["updated_at"] == body["created_at"]


def test_get_returns_what_create_returned(sandbox_client: httpx.Client) -> None:
    created = create(sandbox_client, "a", description="d", tags=["x"])
    response = sandbox_client.get(f"{BASE}/{created['id']}", headers=AUTH)
    assert response.status_code == 200
    assert json_of(response) == created


def test_create_defaults(sandbox_client: httpx.Client) -> None:
    response = sandbox_client.post(
        BASE, headers=AUTH, json={"name": "a", "integration_type": "redis", "config": {}}
    )
    body = json_of(response)
    assert response.status_code == 201
    assert body["description"] is None
    assert body["tags"] == []
    assert body["config"] == NORMALIZED_EMPTY_CONFIG


def test_config_is_stored_normalized(sandbox_client: httpx.Client) -> None:
    config = {
        "env_vars": {"DB_PORT": "5432"},
        "files": [
            {"path": "~/.pg/client.crt", "content": "-----BEGIN-----", "extra": 1},
            {"path": "~/.pg/client.key", "secret_ref": "PG_KEY", "mode": "0600"},
        ],
        "connection_test": {"command": "pg_isready", "unknown": True},
        "not_a_config_key": {"dropped": True},
    }
    created = create(sandbox_client, "a", config=config, id="ignored", organization_id="x")
    assert created["config"] == {
        "env_vars": {"DB_PORT": "5432"},
        "secrets": [],
        "files": [
            {
                "path": "~/.pg/client.crt",
                "content": "-----BEGIN-----",
                "secret_ref": None,
                "mode": "0644",
                "description": None,
            },
            {
                "path": "~/.pg/client.key",
                "content": None,
                "secret_ref": "PG_KEY",
                "mode": "0600",
                "description": None,
            },
        ],
        "context_prompt": None,
        "connection_test": {"enabled": True, "command": "pg_isready", "timeout": 5},
    }
    assert created["id"] != "ignored"
    assert created["organization_id"] == "sandbox"
    fetched = json_of(sandbox_client.get(f"{BASE}/{created['id']}", headers=AUTH))
    assert fetched["config"] == created["config"]


def test_an_explicit_null_mode_stays_null(sandbox_client: httpx.Client) -> None:
    # The vendor's model has `mode: Optional[str] = "0644"`: the default fills a missing key only.
    created = create(sandbox_client, "a", config={"files": [{"path": "/f", "mode": None}]})
    assert created["config"]["files"][0]["mode"] is None


def test_nothing_is_masked(sandbox_client: httpx.Client) -> None:
    config = {
        "secrets": ["DB_PASSWORD"],
        "files": [{"path": "/k", "content": "-----BEGIN PRIVATE KEY-----\nabc"}],
        "env_vars": {"API_TOKEN": "tok_live_123"},
    }
    created = create(sandbox_client, "a", config=config)
    fetched = json_of(sandbox_client.get(f"{BASE}/{created['id']}", headers=AUTH))
    assert fetched["config"]["files"][0]["content"] == "-----BEGIN PRIVATE KEY-----\nabc"
    assert fetched["config"]["env_vars"] == {"API_TOKEN": "tok_live_123"}
    assert fetched["config"]["secrets"] == ["DB_PASSWORD"]


def test_unicode_round_trips(sandbox_client: httpx.Client) -> None:
    created = create(sandbox_client, "données-é", description="日本語 \u2028 \"q\" \\")
    fetched = json_of(sandbox_client.get(f"{BASE}/{created['id']}", headers=AUTH))
    assert fetched["name"] == "données-é"
    assert fetched["description"] == "日本語 \u2028 \"q\" \\"


# --- validation --------------------------------------------------------------------------------

VALID = {"name": "a", "integration_type": "postgres", "config": {}}


@pytest.mark.parametrize(
    ("body", "loc", "error_type"),
    [
        ({**VALID, "config": {"env_vars": {"DB_PORT": 5432}}},
         ["body", "config", "env_vars", "DB_PORT"], "string_type"),
        ({**VALID, "config": {"files": [{"content": "x"}]}},
         ["body", "config", "files", 0, "path"], "missing"),
        ({**VALID, "config": {"connection_test": {"timeout": 3}}},
         ["body", "config", "connection_test", "command"], "missing"),
        ({**VALID, "config": {"connection_test": {"command": "x", "timeout": "soon"}}},
         ["body", "config", "connection_test", "timeout"], "int_parsing"),
        ({**VALID, "config": {"secrets": "DB_PASSWORD"}},
         ["body", "config", "secrets"], "list_type"),
        ({**VALID, "name": ""}, ["body", "name"], "string_too_short"),
        ({**VALID, "name": "n" * 256}, ["body", "name"], "string_too_long"),
        ({**VALID, "name": 12}, ["body", "name"], "string_type"),
        ({**VALID, "integration_type": "t" * 101}, ["body", "integration_type"], "string_too_long"),
        ({"name": "a", "integration_type": "postgres"}, ["body", "config"], "missing"),
        ({"integration_type": "postgres", "config": {}}, ["body", "name"], "missing"),
        ({**VALID, "tags": None}, ["body", "tags"], "list_type"),
        ({**VALID, "tags": [1]}, ["body", "tags", 0], "string_type"),
        ({**VALID, "config": None}, ["body", "config"], "model_attributes_type"),
        ([VALID], ["body"], "model_attributes_type"),
    ],
)  # fmt: skip
def test_create_rejects_bad_bodies_with_fastapi_422(
    sandbox_client: httpx.Client, body: Any, loc: list[Any], error_type: str
) -> None:
    response = sandbox_client.post(BASE, headers=AUTH, json=body)
    assert response.status_code == 422
    detail = json_of(response)["detail"]
    assert isinstance(detail, list)
    assert {"type", "loc", "msg", "input"} <= set(detail[0])
    assert [error["loc"] for error in detail] == [loc]
    assert detail[0]["type"] == error_type
    assert json_of(sandbox_client.get(BASE, headers=AUTH)) == []


def test_malformed_json_is_a_422(sandbox_client: httpx.Client) -> None:
    response = sandbox_client.post(
        BASE,
        headers={**AUTH, "Content-Type": "application/json"},
        content=b'{"name": "a", ',
    )
    assert response.status_code == 422
    (error,) = json_of(response)["detail"]
    assert error["type"] == "json_invalid"
    assert error["loc"][0] == "body"


def test_malformed_json_is_rejected_before_auth(sandbox_client: httpx.Client) -> None:
    # FastAPI parses the JSON body before it runs any dependency, auth included.
    response = sandbox_client.post(
        BASE, headers={"Content-Type": "application/json"}, content=b"{nope"
    )
    assert response.status_code == 422


def test_auth_comes_before_body_validation(sandbox_client: httpx.Client) -> None:
    response = sandbox_client.post(BASE, json={"name": ""})
    assert response.status_code == 401


def test_an_empty_body_is_a_422(sandbox_client: httpx.Client) -> None:
    response = sandbox_client.post(
        BASE, headers={**AUTH, "Content-Type": "application/json"}, content=b""
    )
    assert response.status_code == 422
    assert json_of(response)["detail"][0]["loc"] == ["body"]


def test_an_oversized_body_is_a_413(sandbox_client: httpx.Client) -> None:
    big = {**VALID, "description": "x" * (kubiya.MAX_BODY_BYTES + 10)}
    response = sandbox_client.post(BASE, headers=AUTH, json=big)
    assert response.status_code == 413
    assert json_of(response) == {"detail": "Request Entity Too Large"}
    assert json_of(sandbox_client.get(BASE, headers=AUTH)) == []


@pytest.mark.parametrize(
    ("body", "loc", "error_type"),
    [
        ({"status": "archived"}, ["body", "status"], "enum"),
        ({"name": ""}, ["body", "name"], "string_too_short"),
        ({"integration_type": ""}, ["body", "integration_type"], "string_too_short"),
        ({"config": {"env_vars": {"PORT": 1}}}, ["body", "config", "env_vars", "PORT"], "string_type"),
        ({"tags": "a,b"}, ["body", "tags"], "list_type"),
    ],
)  # fmt: skip
def test_update_rejects_bad_bodies_with_422(
    sandbox_client: httpx.Client, body: dict[str, Any], loc: list[Any], error_type: str
) -> None:
    created = create(sandbox_client, "a")
    response = sandbox_client.put(f"{BASE}/{created['id']}", headers=AUTH, json=body)
    assert response.status_code == 422
    (error,) = json_of(response)["detail"]
    assert error["loc"] == loc
    assert error["type"] == error_type
    assert json_of(sandbox_client.get(f"{BASE}/{created['id']}", headers=AUTH)) == created


def test_a_bad_status_filter_is_a_422(sandbox_client: httpx.Client) -> None:
    response = sandbox_client.get(BASE, headers=AUTH, params={"status": "archived"})
    assert response.status_code == 422
    (error,) = json_of(response)["detail"]
    assert error["loc"] == ["query", "status"]
    assert error["type"] == "enum"
    assert error["input"] == "archived"


def test_a_bad_hard_delete_flag_is_a_422(sandbox_client: httpx.Client) -> None:
    created = create(sandbox_client, "a")
    response = sandbox_client.delete(
        f"{BASE}/{created['id']}", headers=AUTH, params={"hard_delete": "perhaps"}
    )
    assert response.status_code == 422
    assert json_of(response)["detail"][0]["loc"] == ["query", "hard_delete"]
    assert json_of(sandbox_client.get(f"{BASE}/{created['id']}", headers=AUTH))["status"] == "active"


# --- auth and tenancy --------------------------------------------------------------------------

SOME_ID = "00000000-0000-4000-8000-000000000000"
ROUTES = [
    ("GET", BASE),
    ("POST", BASE),
    ("GET", f"{BASE}/{SOME_ID}"),
    ("PUT", f"{BASE}/{SOME_ID}"),
    ("DELETE", f"{BASE}/{SOME_ID}"),
]


# The vendor's 401 bodies, word for word (`app/middleware/auth.py` of kubiya-control-plane-api 1.0.2).
NO_TOKEN = {
    "detail": {
        "error": "Unauthorized",
        "message": "Authorization header is required",
        "hint": "Include 'Authorization: Bearer <token>' header",
    }
}
BAD_TOKEN = {
    "detail": {
        "error": "Unauthorized",
        "message": "Invalid or expired authentication token",
        "hint": "Ensure you're using a valid Kubiya API token",
    }
}


def assert_unauthorized(response: httpx.Response, body: dict[str, Any]) -> None:
    assert response.status_code == 401
    assert json_of(response) == body
    assert "www-authenticate" not in response.headers


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_requires_a_token(sandbox_client: httpx.Client, method: str, path: str) -> None:
    body = VALID if method in ("POST", "PUT") else None
    assert_unauthorized(sandbox_client.request(method, path, json=body), NO_TOKEN)


@pytest.mark.parametrize(
    "authorization",
    # A scheme other than the vendor's (schemes are case-sensitive).
    ["Token sandbox-kubiya-token", "bearer sandbox-kubiya-token", "Basic dXNlcjpwYXNz"],
)
def test_a_header_holding_no_token_is_401_header_required(sandbox_client: httpx.Client, authorization: str) -> None:
    response = sandbox_client.post(BASE, headers={"Authorization": authorization}, json=VALID)
    assert_unauthorized(response, NO_TOKEN)
    assert json_of(sandbox_client.get(BASE, headers=AUTH)) == []


@pytest.mark.parametrize(
    "authorization",
    # `Bearer` alone holds no space, so the vendor takes it for a bare token.
    ["Bearer not-a-token", "Bearer", "UserKey sandbox-kubiya-token-3", "Bearer  sandbox-kubiya-token"],
)
def test_an_unknown_token_is_401_invalid_token(sandbox_client: httpx.Client, authorization: str) -> None:
    response = sandbox_client.post(BASE, headers={"Authorization": authorization}, json=VALID)
    assert_unauthorized(response, BAD_TOKEN)
    assert json_of(sandbox_client.get(BASE, headers=AUTH)) == []


@pytest.mark.parametrize(
    "headers",
    [{"Authorization": "sandbox-kubiya-token"}, {"Authorization": "Baerer sandbox-kubiya-token"},
     {"UserKey": "sandbox-kubiya-token"}],
    ids=["bare", "misspelt-scheme", "userkey-header"],
)  # fmt: skip
def test_the_vendors_other_token_forms_are_accepted(sandbox_client: httpx.Client, headers: dict[str, str]) -> None:
    assert create(sandbox_client, "a", headers=headers)["organization_id"] == "sandbox"


def test_userkey_scheme_is_accepted(sandbox_client: httpx.Client) -> None:
    headers = {"Authorization": "UserKey sandbox-kubiya-token"}
    created = create(sandbox_client, "a", headers=headers)
    assert created["organization_id"] == "sandbox"
    assert names(sandbox_client.get(BASE, headers=AUTH)) == ["a"]


def test_organizations_never_see_each_other(sandbox_client: httpx.Client) -> None:
    mine = create(sandbox_client, "shared-name")
    theirs = create(sandbox_client, "shared-name", headers=AUTH_2)
    assert theirs["organization_id"] == "sandbox-2"
    assert [i["id"] for i in json_of(sandbox_client.get(BASE, headers=AUTH))] == [mine["id"]]
    assert [i["id"] for i in json_of(sandbox_client.get(BASE, headers=AUTH_2))] == [theirs["id"]]

    url = f"{BASE}/{mine['id']}"
    not_found = {"detail": "Custom integration not found"}
    assert json_of(sandbox_client.get(url, headers=AUTH_2)) == not_found
    put = sandbox_client.put(url, headers=AUTH_2, json={"description": "hijacked"})
    assert (put.status_code, json_of(put)) == (404, not_found)
    delete = sandbox_client.delete(url, headers=AUTH_2, params={"hard_delete": "true"})
    assert (delete.status_code, json_of(delete)) == (404, not_found)
    assert json_of(sandbox_client.get(url, headers=AUTH)) == mine


# --- not found, conflicts, routing -------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_unknown_id_is_404(sandbox_client: httpx.Client, method: str) -> None:
    body = {"description": "x"} if method == "PUT" else None
    response = sandbox_client.request(method, f"{BASE}/{uuid.uuid4()}", headers=AUTH, json=body)
    assert response.status_code == 404
    assert json_of(response) == {"detail": "Custom integration not found"}


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_an_id_that_is_no_uuid_fails_like_the_database_cast(
    sandbox_client: httpx.Client, method: str
) -> None:
    body = {"description": "x"} if method == "PUT" else None
    response = sandbox_client.request(method, f"{BASE}/prod-db", headers=AUTH, json=body)
    assert_internal_error(response)


def test_other_uuid_spellings_find_the_row(sandbox_client: httpx.Client) -> None:
    created = create(sandbox_client, "a")
    for spelling in (created["id"].upper(), created["id"].replace("-", ""), f"{{{created['id']}}}"):
        response = sandbox_client.get(f"{BASE}/{spelling}", headers=AUTH)
        assert response.status_code == 200, spelling
        assert json_of(response)["id"] == created["id"]


def test_a_duplicate_name_is_409(sandbox_client: httpx.Client) -> None:
    create(sandbox_client, "prod-db")
    response = sandbox_client.post(BASE, headers=AUTH, json={**VALID, "name": "prod-db"})
    assert response.status_code == 409
    assert json_of(response) == {"detail": "Custom integration with name 'prod-db' already exists"}
    assert names(sandbox_client.get(BASE, headers=AUTH)) == ["prod-db"]


def test_names_are_case_sensitive(sandbox_client: httpx.Client) -> None:
    create(sandbox_client, "prod-db")
    create(sandbox_client, "PROD-DB")
    assert sorted(names(sandbox_client.get(BASE, headers=AUTH))) == ["PROD-DB", "prod-db"]


def test_a_rename_into_a_taken_name_is_409(sandbox_client: httpx.Client) -> None:
    create(sandbox_client, "a")
    b = create(sandbox_client, "b")
    response = sandbox_client.put(f"{BASE}/{b['id']}", headers=AUTH, json={"name": "a"})
    assert response.status_code == 409
    assert json_of(response) == {"detail": "Custom integration with name 'a' already exists"}
    assert json_of(sandbox_client.get(f"{BASE}/{b['id']}", headers=AUTH)) == b


def test_a_rename_to_its_own_name_is_fine(sandbox_client: httpx.Client) -> None:
    a = create(sandbox_client, "a")
    response = sandbox_client.put(f"{BASE}/{a['id']}", headers=AUTH, json={"name": "a"})
    assert response.status_code == 200
    assert json_of(response)["name"] == "a"


def test_a_trailing_slash_redirects(sandbox_client: httpx.Client) -> None:
    for method in ("GET", "POST"):
        response = sandbox_client.request(
            method, f"{BASE}/", headers=AUTH, json=VALID, follow_redirects=False
        )
        assert response.status_code == 307
        assert httpx.URL(response.headers["location"]).path == BASE
    assert json_of(sandbox_client.get(BASE, headers=AUTH)) == []


def test_routing_errors_use_fastapi_shapes(sandbox_client: httpx.Client) -> None:
    missing = sandbox_client.get(f"{BASE}/{SOME_ID}/versions", headers=AUTH)
    assert (missing.status_code, json_of(missing)) == (404, {"detail": "Not Found"})
    wrong = sandbox_client.patch(f"{BASE}/{SOME_ID}", headers=AUTH, json={})
    assert (wrong.status_code, json_of(wrong)) == (405, {"detail": "Method Not Allowed"})
    assert "GET" in wrong.headers["allow"]


# --- delete ------------------------------------------------------------------------------------


def test_delete_is_soft_by_default(sandbox_client: httpx.Client) -> None:
    created = create(sandbox_client, "a")
    url = f"{BASE}/{created['id']}"
    response = sandbox_client.delete(url, headers=AUTH)
    assert response.status_code == 204
    assert response.content == b""
    fetched = json_of(sandbox_client.get(url, headers=AUTH))
    assert fetched["status"] == "deleted"
    assert fetched["updated_at"] > created["updated_at"]
    assert names(sandbox_client.get(BASE, headers=AUTH)) == []
    assert names(sandbox_client.get(BASE, headers=AUTH, params={"status": "deleted"})) == ["a"]


def test_deleting_a_deleted_row_answers_204_again(sandbox_client: httpx.Client) -> None:
    created = create(sandbox_client, "a")
    url = f"{BASE}/{created['id']}"
    assert sandbox_client.delete(url, headers=AUTH).status_code == 204
    first = json_of(sandbox_client.get(url, headers=AUTH))
    again = sandbox_client.delete(url, headers=AUTH)
    assert (again.status_code, again.content) == (204, b"")
    assert json_of(sandbox_client.get(url, headers=AUTH)) == first


def test_hard_delete_removes_the_row_and_frees_the_name(sandbox_client: httpx.Client) -> None:
    created = create(sandbox_client, "a")
    url = f"{BASE}/{created['id']}"
    response = sandbox_client.delete(url, headers=AUTH, params={"hard_delete": "true"})
    assert (response.status_code, response.content) == (204, b"")
    assert sandbox_client.get(url, headers=AUTH).status_code == 404
    assert names(sandbox_client.get(BASE, headers=AUTH, params={"status": "deleted"})) == []
    again = create(sandbox_client, "a")
    assert again["id"] != created["id"]


def test_hard_delete_of_a_soft_deleted_row(sandbox_client: httpx.Client) -> None:
    created = create(sandbox_client, "a")
    url = f"{BASE}/{created['id']}"
    sandbox_client.delete(url, headers=AUTH)
    assert sandbox_client.delete(url, headers=AUTH, params={"hard_delete": True}).status_code == 204
    assert sandbox_client.get(url, headers=AUTH).status_code == 404


def test_a_put_of_status_deleted_is_a_soft_delete(sandbox_client: httpx.Client) -> None:
    created = create(sandbox_client, "a")
    response = sandbox_client.put(f"{BASE}/{created['id']}", headers=AUTH, json={"status": "deleted"})
    assert json_of(response)["status"] == "deleted"
    assert names(sandbox_client.get(BASE, headers=AUTH)) == []


# --- the name trap -----------------------------------------------------------------------------


def test_creating_the_name_of_a_soft_deleted_row_is_a_plain_500(
    sandbox_client: httpx.Client,
) -> None:
    created = create(sandbox_client, "prod-db")
    sandbox_client.delete(f"{BASE}/{created['id']}", headers=AUTH)
    response = sandbox_client.post(BASE, headers=AUTH, json={**VALID, "name": "prod-db"})
    assert_internal_error(response)
    for status in ("active", "inactive", "deleted"):
        listed = json_of(sandbox_client.get(BASE, headers=AUTH, params={"status": status}))
        assert [i["id"] for i in listed] == ([created["id"]] if status == "deleted" else [])


def test_renaming_into_the_name_of_a_soft_deleted_row_is_a_plain_500(
    sandbox_client: httpx.Client,
) -> None:
    old = create(sandbox_client, "old")
    sandbox_client.delete(f"{BASE}/{old['id']}", headers=AUTH)
    other = create(sandbox_client, "other")
    url = f"{BASE}/{other['id']}"
    response = sandbox_client.put(url, headers=AUTH, json={"name": "old", "description": "moved"})
    assert_internal_error(response)
    assert json_of(sandbox_client.get(url, headers=AUTH)) == other


def test_the_trap_is_per_organization(sandbox_client: httpx.Client) -> None:
    created = create(sandbox_client, "prod-db")
    sandbox_client.delete(f"{BASE}/{created['id']}", headers=AUTH)
    assert create(sandbox_client, "prod-db", headers=AUTH_2)["organization_id"] == "sandbox-2"


def test_a_soft_deleted_row_is_revived_by_put(sandbox_client: httpx.Client) -> None:
    created = create(sandbox_client, "prod-db")
    url = f"{BASE}/{created['id']}"
    sandbox_client.delete(url, headers=AUTH)
    response = sandbox_client.put(
        url, headers=AUTH, json={"status": "active", "description": "back"}
    )
    assert response.status_code == 200
    revived = json_of(response)
    assert (revived["id"], revived["status"], revived["description"]) == (
        created["id"], "active", "back",
    )  # fmt: skip
    assert names(sandbox_client.get(BASE, headers=AUTH)) == ["prod-db"]


def test_a_put_without_status_leaves_a_deleted_row_deleted(sandbox_client: httpx.Client) -> None:
    created = create(sandbox_client, "a")
    url = f"{BASE}/{created['id']}"
    sandbox_client.delete(url, headers=AUTH)
    response = sandbox_client.put(url, headers=AUTH, json={"description": "still gone"})
    assert response.status_code == 200
    assert json_of(response)["status"] == "deleted"
    assert json_of(response)["description"] == "still gone"


def test_a_deleted_row_may_not_be_renamed_into_an_active_name(
    sandbox_client: httpx.Client,
) -> None:
    create(sandbox_client, "live")
    dead = create(sandbox_client, "dead")
    sandbox_client.delete(f"{BASE}/{dead['id']}", headers=AUTH)
    response = sandbox_client.put(f"{BASE}/{dead['id']}", headers=AUTH, json={"name": "live"})
    assert response.status_code == 409


def test_a_nul_character_is_a_plain_500_and_writes_nothing(sandbox_client: httpx.Client) -> None:
    response = sandbox_client.post(BASE, headers=AUTH, json={**VALID, "description": "a\x00b"})
    assert_internal_error(response)
    assert json_of(sandbox_client.get(BASE, headers=AUTH)) == []
    created = create(sandbox_client, "a")
    url = f"{BASE}/{created['id']}"
    bad_config = {"config": {"env_vars": {"K": "v\x00"}}, "description": "new"}
    assert_internal_error(sandbox_client.put(url, headers=AUTH, json=bad_config))
    assert json_of(sandbox_client.get(url, headers=AUTH)) == created


# --- update ------------------------------------------------------------------------------------


def test_put_is_partial(sandbox_client: httpx.Client) -> None:
    created = create(
        sandbox_client, "a", description="d", tags=["t"], config={"secrets": ["S"]}
    )
    response = sandbox_client.put(
        f"{BASE}/{created['id']}", headers=AUTH, json={"integration_type": "mysql"}
    )
    assert response.status_code == 200
    updated = json_of(response)
    assert updated["integration_type"] == "mysql"
    unchanged = ("id", "name", "description", "tags", "config", "status", "created_at")
    assert {k: updated[k] for k in unchanged} == {k: created[k] for k in unchanged}


def test_null_fields_are_left_alone(sandbox_client: httpx.Client) -> None:
    created = create(sandbox_client, "a", description="keep", tags=["t"])
    nulls = {k: None for k in ("name", "integration_type", "description", "config", "status", "tags")}
    updated = json_of(sandbox_client.put(f"{BASE}/{created['id']}", headers=AUTH, json=nulls))
    assert {k: updated[k] for k in nulls} == {k: created[k] for k in nulls}


def test_description_is_cleared_with_an_empty_string(sandbox_client: httpx.Client) -> None:
    created = create(sandbox_client, "a", description="old")
    updated = json_of(
        sandbox_client.put(f"{BASE}/{created['id']}", headers=AUTH, json={"description": ""})
    )
    assert updated["description"] == ""


def test_config_and_tags_are_replaced_whole(sandbox_client: httpx.Client) -> None:
    created = create(
        sandbox_client,
        "a",
        tags=["a", "b"],
        config={"env_vars": {"A": "1", "B": "2"}, "secrets": ["S"], "context_prompt": "p"},
    )
    response = sandbox_client.put(
        f"{BASE}/{created['id']}",
        headers=AUTH,
        json={"config": {"env_vars": {"C": "3"}}, "tags": ["c"]},
    )
    updated = json_of(response)
    assert updated["config"] == {**NORMALIZED_EMPTY_CONFIG, "env_vars": {"C": "3"}}
    assert updated["tags"] == ["c"]


def test_updated_at_moves_on_every_put_that_changes_a_value(sandbox_client: httpx.Client) -> None:
    created = create(sandbox_client, "a")
    url = f"{BASE}/{created['id']}"
    stamps = [created["updated_at"]]
    for body in ({"description": "x"}, {"tags": ["t"]}, {"config": {"secrets": ["S"]}}, {"status": "inactive"}):
        updated = json_of(sandbox_client.put(url, headers=AUTH, json=body))
        stamps.append(updated["updated_at"])
        assert updated["created_at"] == created["created_at"]
    parsed = [datetime.fromisoformat(s) for s in stamps]
    assert parsed == sorted(parsed)
    assert len(set(parsed)) == len(parsed)


def test_a_put_that_changes_nothing_leaves_updated_at(sandbox_client: httpx.Client) -> None:
    created = create(sandbox_client, "a")
    url = f"{BASE}/{created['id']}"
    same = {
        "name": "a",
        "integration_type": created["integration_type"],
        "config": created["config"],
        "tags": created["tags"],
        "status": "active",
    }
    for body in (same, {}):
        updated = json_of(sandbox_client.put(url, headers=AUTH, json=body))
        assert updated == created


def test_a_rename_shows_in_the_list(sandbox_client: httpx.Client) -> None:
    created = create(sandbox_client, "a")
    sandbox_client.put(f"{BASE}/{created['id']}", headers=AUTH, json={"name": "b"})
    assert names(sandbox_client.get(BASE, headers=AUTH)) == ["b"]
    create(sandbox_client, "a")


# --- list --------------------------------------------------------------------------------------


def test_the_list_is_newest_first(sandbox_client: httpx.Client) -> None:
    for name in ("first", "second", "third"):
        create(sandbox_client, name)
    assert names(sandbox_client.get(BASE, headers=AUTH)) == ["third", "second", "first"]


def test_the_list_has_no_pagination(sandbox_client: httpx.Client) -> None:
    for i in range(130):
        create(sandbox_client, f"n{i:03d}")
    listed = names(sandbox_client.get(BASE, headers=AUTH))
    assert len(listed) == 130
    assert listed[0] == "n129"
    assert listed[-1] == "n000"


def test_the_status_filter(sandbox_client: httpx.Client) -> None:
    create(sandbox_client, "active")
    inactive = create(sandbox_client, "inactive")
    deleted = create(sandbox_client, "deleted")
    sandbox_client.put(f"{BASE}/{inactive['id']}", headers=AUTH, json={"status": "inactive"})
    sandbox_client.delete(f"{BASE}/{deleted['id']}", headers=AUTH)
    assert names(sandbox_client.get(BASE, headers=AUTH)) == ["inactive", "active"]
    for status in ("active", "inactive", "deleted"):
        assert names(sandbox_client.get(BASE, headers=AUTH, params={"status": status})) == [status]


def test_the_integration_type_filter(sandbox_client: httpx.Client) -> None:
    create(sandbox_client, "pg", integration_type="postgres")
    create(sandbox_client, "cache", integration_type="redis")
    by_type = sandbox_client.get(BASE, headers=AUTH, params={"integration_type": "redis"})
    assert names(by_type) == ["cache"]
    empty = sandbox_client.get(BASE, headers=AUTH, params={"integration_type": ""})
    assert sorted(names(empty)) == ["cache", "pg"]


def test_the_tags_filter_is_and(sandbox_client: httpx.Client) -> None:
    create(sandbox_client, "both", tags=["production", "database"])
    create(sandbox_client, "prod-only", tags=["production"])
    create(sandbox_client, "none")

    def tagged(tags: str) -> list[str]:
        return sorted(names(sandbox_client.get(BASE, headers=AUTH, params={"tags": tags})))

    assert tagged("production") == ["both", "prod-only"]
    assert tagged("production,database") == ["both"]
    assert tagged("production, database") == ["both"]
    assert tagged("database,missing") == []
    assert tagged("") == ["both", "none", "prod-only"]


def test_filters_combine(sandbox_client: httpx.Client) -> None:
    kept = create(sandbox_client, "kept", integration_type="postgres", tags=["p"])
    create(sandbox_client, "other-type", integration_type="redis", tags=["p"])
    gone = create(sandbox_client, "gone", integration_type="postgres", tags=["p"])
    sandbox_client.delete(f"{BASE}/{gone['id']}", headers=AUTH)
    params = {"integration_type": "postgres", "tags": "p"}
    assert [i["id"] for i in json_of(sandbox_client.get(BASE, headers=AUTH, params=params))] == [
        kept["id"]
    ]
    params["status"] = "deleted"
    assert names(sandbox_client.get(BASE, headers=AUTH, params=params)) == ["gone"]


def test_the_list_renders_each_row_as_a_read_of_it_does(sandbox_client: httpx.Client) -> None:
    # Without a tags filter the list is made by SQLite as JSON text; a read of one row goes
    # through row_dict. Key order counts (the vendor's JSONB order), so pairs are compared.
    create(sandbox_client, "plain")
    create(
        sandbox_client,
        "full",
        description="caf\u00e9 \"quoted\" \\ \u2603",
        tags=["z", "a", "\u00fc"],
        config={"env_vars": {"B": "2", "A": "1"}, "secrets": ["S"], "context_prompt": "p\nq"},
    )
    inactive = create(sandbox_client, "inactive")
    sandbox_client.put(f"{BASE}/{inactive['id']}", headers=AUTH, json={"status": "inactive"})

    def pairs(response: httpx.Response) -> Any:
        assert response.status_code == 200, response.text
        return json.loads(response.content, object_pairs_hook=list)

    listed = pairs(sandbox_client.get(BASE, headers=AUTH))
    reads = [
        pairs(sandbox_client.get(f"{BASE}/{dict(item)['id']}", headers=AUTH)) for item in listed
    ]
    assert listed == reads


# --- clock and scale (in process) --------------------------------------------------------------


def test_timestamps_follow_the_sandbox_clock(sandbox_app: FastAPI) -> None:
    sandbox_app.state.sandbox.clock = lambda: 1_700_000_000.0
    with TestClient(sandbox_app) as client:
        first = json_of(client.post(BASE, headers=AUTH, json={**VALID, "name": "first"}))
        second = json_of(client.post(BASE, headers=AUTH, json={**VALID, "name": "second"}))
        assert first["created_at"] == "2023-11-14T22:13:20.000000+00:00"
        # Equal timestamps: the later insert still lists first.
        assert [i["name"] for i in client.get(BASE, headers=AUTH).json()] == ["second", "first"]
        # A frozen clock must not freeze the version token.
        url = f"{BASE}/{second['id']}"
        one = client.put(url, headers=AUTH, json={"description": "1"}).json()["updated_at"]
        two = client.put(url, headers=AUTH, json={"description": "2"}).json()["updated_at"]
        assert second["updated_at"] < one < two


def test_a_list_of_ten_thousand_rows_takes_the_statements_of_one(sandbox_app: FastAPI) -> None:
    # A query per row is what would make a large organization slow to list; counted, not timed.
    config = json.dumps(
        {
            "files": [{"mode": "0600", "path": "/etc/x", "content": "c" * 200}],
            "secrets": ["A", "B"],
            "env_vars": {"HOST": "db.example.com", "PORT": "5432"},
            "context_prompt": "prompt " * 20,
            "connection_test": None,
        }
    )

    def insert(first: int, count: int) -> None:
        rows = [
            (str(uuid.uuid4()), "sandbox", f"n{i:05d}", "postgres", None, "active", config,
             '["a","b"]', f"2025-01-01T00:00:00.{i:06d}+00:00", "2025-01-01T00:00:00+00:00", None)
            for i in range(first, first + count)
        ]  # fmt: skip
        with sandbox_app.state.sandbox.db.transaction() as conn:
            conn.executemany(f"INSERT INTO {kubiya.TABLE} ({kubiya.COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)

    with TestClient(sandbox_app) as client:

        def listed() -> httpx.Response:
            answer: httpx.Response = client.get(BASE, headers=AUTH, params={"tags": "a"})
            return answer

        insert(0, 1)
        one, response = statements_of(sandbox_app, listed)
        assert len(response.json()) == 1
        insert(1, 9_999)
        many, response = statements_of(sandbox_app, listed)
        assert response.status_code == 200
        rows = response.json()
    assert len(rows) == 10_000
    assert rows[0]["name"] == "n09999"
    assert many == one
