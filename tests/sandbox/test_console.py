"""Contract tests of the console (BimpeAI) channels emulator: statuses, shapes and quirks.

Tests taking `sandbox_client` run twice, in process and against `reconciler sandbox serve`.
Those needing a custom seed, a moved clock or a patched function build their own app.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from reconciler.sandbox import console
from reconciler.sandbox.app import create_app
from reconciler.sandbox.console import store as console_store
from reconciler.sandbox.seed import ConsoleAgent, ConsoleKey, Seed, default_seed
from tests.conftest import json_of, statements_of

AGENTS = "/api/v1/console/agents"
BASE = f"{AGENTS}/agt_demo/integrations"
NOFLOW = f"{AGENTS}/agt_noflow/integrations"
RW = {"Authorization": "Bearer sk_sandbox"}
RO = {"Authorization": "Bearer sk_sandbox_readonly"}
CHANNEL_ID = re.compile(r"ch_[0-9a-f]{24}")
REQUEST_ID = re.compile(r"req_[0-9a-f]{24}")
ERROR_KEYS = {"message", "error", "code", "statusCode", "request_id"}
BIMPEAI_ORDER = ["bumpa", "paystack", "stripe", "google_calendar", "google_sheets"]

CUSTOM = {
    "name": "crm",
    "description": "DESCRIPTION-SECRET",
    "base_url": "https://crm.example.com/api",
    "auth_type": "bearer",
    "auth_config": {"token": "TOKEN-SECRET", "header_name": "X-Hdr-Secret"},
    "test_endpoint": "/TEST-ENDPOINT-SECRET",
}
MCP = {
    "name": "tools",
    "server_url": "https://mcp.example.com/mcp",
    "auth_type": "api_key",
    "auth_config": {"api_key": "MCP-KEY-SECRET"},
}


def data_of(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    body = json_of(response)
    assert set(body) == {"message", "data"}
    assert body["message"] == "Success"
    return body["data"]


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = json_of(response)
    assert set(body) == ERROR_KEYS
    assert body["code"] == code
    assert body["statusCode"] == status
    assert body["error"] == console.REASONS[status]
    assert body["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text
    return body


def configure(client: httpx.Client, family: str, body: Any, base: str = BASE, **headers: str) -> httpx.Response:
    return client.post(f"{base}/{family}/configure", json=body, headers={**RW, **headers})


def create(client: httpx.Client, family: str, body: Any, base: str = BASE) -> Any:
    return data_of(configure(client, family, body, base), 201)


def listing(client: httpx.Client, family: str = "", base: str = BASE) -> Any:
    path = f"{base}/{family}" if family else base
    return data_of(client.get(path, headers=RW))


def make_seed(limit: int = 25) -> Seed:
    seed = default_seed()
    seed.console_keys["sk_other"] = ConsoleKey(
        "sk_other", "other", frozenset({"integrations:read", "integrations:write"})
    )
    seed.console_agents = [
        ConsoleAgent("agt_demo", "sandbox", True, limit),
        ConsoleAgent("agt_noflow", "sandbox", False, limit),
        ConsoleAgent("agt_other", "other", True, limit),
    ]
    return seed


@contextmanager
def client_for(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


# ---------------------------------------------------------------- create and read


def test_custom_api_configure_answers_201_with_id_and_public_config(
    sandbox_client: httpx.Client,
) -> None:
    data = create(sandbox_client, "custom_api", CUSTOM)
    assert CHANNEL_ID.fullmatch(data["id"])
    expected = {"name": "crm", "base_url": "https://crm.example.com/api", "auth_type": "bearer"}
    assert data == {"id": data["id"], "config": expected}
    assert listing(sandbox_client, "custom_api") == [{"id": data["id"], "config": expected}]


def test_custom_api_defaults_when_only_the_name_is_given(sandbox_client: httpx.Client) -> None:
    data = create(sandbox_client, "custom_api", {"name": "bare"})
    assert data["config"] == {"name": "bare", "base_url": None, "auth_type": "none"}


def test_mcp_server_defaults_and_explicit_transport(sandbox_client: httpx.Client) -> None:
    default = create(sandbox_client, "mcp_server", {"name": "a", "server_url": "http://m.test/mcp"})
    assert default["config"] == {
        "name": "a",
        "server_url": "http://m.test/mcp",
        "transport": "streamable_http",
        "auth_type": "none",
    }
    sse = create(sandbox_client, "mcp_server", {**MCP, "transport": "http_sse"})
    assert sse["config"]["transport"] == "http_sse"
    assert sse["config"]["auth_type"] == "api_key"
    assert [c["id"] for c in listing(sandbox_client, "mcp_server")] == [default["id"], sse["id"]]


def test_configure_always_creates_a_new_channel_and_accepts_duplicate_names(
    sandbox_client: httpx.Client,
) -> None:
    first = create(sandbox_client, "custom_api", CUSTOM)
    second = create(sandbox_client, "custom_api", CUSTOM)
    assert first["id"] != second["id"]
    assert first["config"] == second["config"]
    assert [c["id"] for c in listing(sandbox_client, "custom_api")] == [first["id"], second["id"]]


def test_list_all_families_shape_and_order(sandbox_client: httpx.Client) -> None:
    custom = create(sandbox_client, "custom_api", CUSTOM)
    mcp = create(sandbox_client, "mcp_server", MCP)
    stripe = create(sandbox_client, "bimpeai", {"type": "stripe", "secret_key": "sk_test_1"})
    entries = listing(sandbox_client)
    assert [e["id"] for e in entries] == [custom["id"], mcp["id"], stripe["channel_id"]]
    for entry in entries:
        assert set(entry) == {
            "id",
            "type",
            "name",
            "status",
            "is_connected",
            "family",
            "created_at",
        }
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["created_at"])
    assert [(e["type"], e["name"], e["family"]) for e in entries] == [
        ("custom_api", "crm", "custom_api"),
        ("mcp_server", "tools", "mcp_server"),
        ("stripe", "Stripe", "bimpeai"),
    ]
    assert all(e["status"] == "active" and e["is_connected"] is True for e in entries)
    # The family lists stay separate.
    assert [c["id"] for c in listing(sandbox_client, "custom_api")] == [custom["id"]]


def test_write_only_fields_never_come_back(sandbox_client: httpx.Client) -> None:
    created = [
        configure(sandbox_client, "custom_api", CUSTOM),
        configure(sandbox_client, "mcp_server", MCP),
        configure(
            sandbox_client,
            "bimpeai",
            {
                "type": "paystack",
                "public_key": "PK-SECRET",
                "secret_key": "SK-SECRET",
                "currency": "NGN",
            },
        ),
        configure(sandbox_client, "bimpeai", {"type": "bumpa", "token": "BUMPA-SECRET"}),
    ]
    reads = [sandbox_client.get(BASE, headers=RW)] + [
        sandbox_client.get(f"{BASE}/{family}", headers=RW) for family in console.FAMILIES
    ]
    assert [r.status_code for r in created] == [201] * len(created)
    assert [r.status_code for r in reads] == [200] * len(reads)
    for response in created + reads:
        text = response.text
        for needle in ("SECRET", "auth_config", "description", "test_endpoint", "NGN", "currency"):
            assert needle not in text, (needle, text)


# ---------------------------------------------------------------- bimpeai


def test_bimpeai_catalog_lists_every_type_unconfigured(sandbox_client: httpx.Client) -> None:
    assert listing(sandbox_client, "bimpeai") == [
        {"id": None, "type": kind, "name": name, "status": "inactive", "is_connected": False}
        for kind, name in console.BIMPEAI_TYPES.items()
    ]
    # Placeholders are not channels.
    assert listing(sandbox_client) == []


@pytest.mark.parametrize(
    ("kind", "credentials"),
    [
        ("bumpa", {"token": "bumpa-token"}),
        ("paystack", {"secret_key": "sk_live_x", "public_key": "pk_live_x", "currency": "NGN"}),
        ("stripe", {"secret_key": "sk_test_x"}),
    ],
)
def test_bimpeai_key_based_type_connects_at_once(
    sandbox_client: httpx.Client, kind: str, credentials: dict[str, str]
) -> None:
    data = create(sandbox_client, "bimpeai", {"type": kind, **credentials})
    assert set(data) == {"success", "channel_id"}
    assert data["success"] is True
    assert CHANNEL_ID.fullmatch(data["channel_id"])
    catalog = listing(sandbox_client, "bimpeai")
    assert [e["type"] for e in catalog] == BIMPEAI_ORDER
    entry = catalog[BIMPEAI_ORDER.index(kind)]
    assert entry == {
        "id": data["channel_id"],
        "type": kind,
        "name": console.BIMPEAI_TYPES[kind],
        "status": "active",
        "is_connected": True,
    }
    assert sum(e["id"] is not None for e in catalog) == 1


@pytest.mark.parametrize(("kind", "key"), [("bumpa", "token"), ("paystack", "secret_key"), ("stripe", "secret_key")])
def test_bimpeai_key_based_type_needs_its_key(sandbox_client: httpx.Client, kind: str, key: str) -> None:
    body = error_of(configure(sandbox_client, "bimpeai", {"type": kind}), 400, "validation_error")
    assert body["message"] == [f"{key}: should not be empty"]
    assert listing(sandbox_client) == []


def test_bimpeai_second_configure_of_a_type_shows_both_channels(
    sandbox_client: httpx.Client,
) -> None:
    first = create(sandbox_client, "bimpeai", {"type": "bumpa", "token": "a"})
    second = create(sandbox_client, "bimpeai", {"type": "bumpa", "token": "b"})
    catalog = listing(sandbox_client, "bimpeai")
    assert [e["id"] for e in catalog if e["type"] == "bumpa"] == [
        first["channel_id"],
        second["channel_id"],
    ]
    assert len(catalog) == 6


@pytest.mark.parametrize("kind", ["google_calendar", "google_sheets"])
def test_bimpeai_oauth_type_is_pending_until_the_onboarding_url_is_visited(
    sandbox_client: httpx.Client, kind: str
) -> None:
    data = create(sandbox_client, "bimpeai", {"type": kind})
    assert set(data) == {"onboarding_url"}
    url = data["onboarding_url"]
    assert url.startswith(str(sandbox_client.base_url).rstrip("/") + console.OAUTH_CALLBACK + "?")
    pending = [e for e in listing(sandbox_client, "bimpeai") if e["type"] == kind]
    assert len(pending) == 1
    assert CHANNEL_ID.fullmatch(pending[0]["id"])
    assert (pending[0]["status"], pending[0]["is_connected"]) == ("pending", False)
    assert [(e["id"], e["status"], e["is_connected"]) for e in listing(sandbox_client)] == [
        (pending[0]["id"], "pending", False)
    ]

    done = data_of(sandbox_client.get(url))
    assert done == {"id": pending[0]["id"], "type": kind, "status": "active", "is_connected": True}
    entry = next(e for e in listing(sandbox_client, "bimpeai") if e["type"] == kind)
    assert (entry["id"], entry["status"], entry["is_connected"]) == (
        pending[0]["id"],
        "active",
        True,
    )
    # The consent cannot be replayed.
    error_of(sandbox_client.get(url), 404, "not_found")


def test_oauth_callback_with_an_unknown_state_is_404(sandbox_client: httpx.Client) -> None:
    error_of(sandbox_client.get(console.OAUTH_CALLBACK, params={"state": "nope"}), 404, "not_found")
    error_of(sandbox_client.get(console.OAUTH_CALLBACK), 404, "not_found")


def test_deleting_a_pending_oauth_channel_voids_its_onboarding_url(
    sandbox_client: httpx.Client,
) -> None:
    url = create(sandbox_client, "bimpeai", {"type": "google_sheets"})["onboarding_url"]
    channel_id = listing(sandbox_client)[0]["id"]
    data_of(sandbox_client.delete(f"{BASE}/bimpeai/{channel_id}", headers=RW))
    error_of(sandbox_client.get(url), 404, "not_found")
    assert listing(sandbox_client) == []


# ---------------------------------------------------------------- delete


@pytest.mark.parametrize(
    ("family", "body"),
    [
        ("custom_api", CUSTOM),
        ("mcp_server", MCP),
        ("bimpeai", {"type": "stripe", "secret_key": "k"}),
    ],
)
def test_delete_is_soft_and_a_second_delete_is_404(
    sandbox_client: httpx.Client, family: str, body: dict[str, Any]
) -> None:
    data = create(sandbox_client, family, body)
    channel_id = data.get("id") or data["channel_id"]
    response = sandbox_client.delete(f"{BASE}/{family}/{channel_id}", headers=RW)
    assert data_of(response) is None
    assert listing(sandbox_client) == []
    assert all(e["id"] != channel_id for e in listing(sandbox_client, family))
    again = error_of(sandbox_client.delete(f"{BASE}/{family}/{channel_id}", headers=RW), 404, "not_found")
    assert again["message"] == "Integration not found"


def test_delete_needs_the_right_family_agent_and_id(sandbox_client: httpx.Client) -> None:
    channel_id = create(sandbox_client, "custom_api", CUSTOM)["id"]
    error_of(sandbox_client.delete(f"{BASE}/mcp_server/{channel_id}", headers=RW), 404, "not_found")
    error_of(sandbox_client.delete(f"{BASE}/custom_api/ch_{'0' * 24}", headers=RW), 404, "not_found")
    error_of(
        sandbox_client.delete(f"{AGENTS}/agt_missing/integrations/custom_api/{channel_id}", headers=RW),
        404,
        "not_found",
    )
    assert [c["id"] for c in listing(sandbox_client, "custom_api")] == [channel_id]


# ---------------------------------------------------------------- agents


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", ""),
        ("GET", "/custom_api"),
        ("GET", "/mcp_server"),
        ("GET", "/bimpeai"),
        ("POST", "/custom_api/configure"),
        ("POST", "/mcp_server/configure"),
        ("POST", "/bimpeai/configure"),
        ("DELETE", "/custom_api/ch_000000000000000000000000"),
    ],
)
def test_agent_without_a_workflow_refuses_every_call(sandbox_client: httpx.Client, method: str, path: str) -> None:
    bodies = {"custom_api": CUSTOM, "mcp_server": MCP, "bimpeai": {"type": "bumpa", "token": "t"}}
    family = path.split("/")[1] if path else ""
    json_body = bodies[family] if method == "POST" else None
    response = sandbox_client.request(method, NOFLOW + path, headers=RW, json=json_body)
    error_of(response, 400, "workflow_required")


def test_unknown_agent_is_404(sandbox_client: httpx.Client) -> None:
    base = f"{AGENTS}/agt_missing/integrations"
    body = error_of(sandbox_client.get(base, headers=RW), 404, "not_found")
    assert body["message"] == "Agent not found"
    error_of(configure(sandbox_client, "custom_api", CUSTOM, base), 404, "not_found")


def test_an_agent_of_another_team_is_404_and_teams_do_not_see_each_other() -> None:
    with client_for(create_app(seed=make_seed())) as client:
        mine = create(client, "custom_api", CUSTOM)
        other = {"Authorization": "Bearer sk_other"}
        error_of(client.get(BASE, headers=other), 404, "not_found")
        error_of(client.delete(f"{BASE}/custom_api/{mine['id']}", headers=other), 404, "not_found")
        error_of(client.get(f"{AGENTS}/agt_other/integrations", headers=RW), 404, "not_found")
        theirs = client.post(f"{AGENTS}/agt_other/integrations/custom_api/configure", headers=other, json=CUSTOM)
        theirs_id = data_of(theirs, 201)["id"]
        assert [c["id"] for c in listing(client)] == [mine["id"]]
        other_list = data_of(client.get(f"{AGENTS}/agt_other/integrations", headers=other))
        assert [c["id"] for c in other_list] == [theirs_id]


# ---------------------------------------------------------------- plan limit


def test_channel_limit_counts_live_channels_of_every_family() -> None:
    with client_for(create_app(seed=make_seed(limit=3))) as client:
        first = create(client, "custom_api", CUSTOM)
        create(client, "mcp_server", MCP)
        create(client, "bimpeai", {"type": "google_calendar"})  # pending OAuth counts too
        for family, body in (("custom_api", CUSTOM), ("bimpeai", {"type": "bumpa", "token": "t"})):
            refused = error_of(configure(client, family, body), 409, "integration_limit_reached")
            assert "3" in refused["message"]
        assert len(listing(client)) == 3
        # A disconnected channel frees its slot.
        data_of(client.delete(f"{BASE}/custom_api/{first['id']}", headers=RW))
        create(client, "custom_api", CUSTOM)
        error_of(configure(client, "custom_api", CUSTOM), 409, "integration_limit_reached")


# ---------------------------------------------------------------- auth


def test_both_auth_headers_are_accepted(sandbox_client: httpx.Client) -> None:
    for headers in (
        {"Authorization": "Bearer sk_sandbox"},
        {"Authorization": "bearer sk_sandbox"},
        {"X-Api-Key": "sk_sandbox"},
    ):
        response = sandbox_client.post(f"{BASE}/custom_api/configure", headers=headers, json=CUSTOM)
        data_of(response, 201)
    assert len(listing(sandbox_client, "custom_api")) == 3


def test_missing_and_invalid_keys_are_401(sandbox_client: httpx.Client) -> None:
    missing = error_of(sandbox_client.get(BASE), 401, "api_key_missing")
    assert isinstance(missing["message"], str)
    for headers in (
        {"Authorization": "Bearer sk_nope"},
        {"X-Api-Key": "sk_nope"},
        {"Authorization": "Basic c2tfc2FuZGJveA=="},
        {"Authorization": "Bearer"},
        # Authorization wins over X-Api-Key when both are sent.
        {"Authorization": "Bearer sk_nope", "X-Api-Key": "sk_sandbox"},
    ):
        error_of(sandbox_client.get(BASE, headers=headers), 401, "api_key_invalid")
    error_of(
        configure(sandbox_client, "custom_api", CUSTOM, Authorization="Bearer sk_nope"),
        401,
        "api_key_invalid",
    )
    assert listing(sandbox_client) == []


def test_read_only_key_reads_but_cannot_write(sandbox_client: httpx.Client) -> None:
    channel_id = create(sandbox_client, "custom_api", CUSTOM)["id"]
    assert [c["id"] for c in data_of(sandbox_client.get(BASE, headers=RO))] == [channel_id]
    for family in console.FAMILIES:
        data_of(sandbox_client.get(f"{BASE}/{family}", headers=RO))
    refused = sandbox_client.post(f"{BASE}/custom_api/configure", headers=RO, json=CUSTOM)
    assert "integrations:write" in error_of(refused, 403, "insufficient_scope")["message"]
    refused = sandbox_client.delete(f"{BASE}/custom_api/{channel_id}", headers=RO)
    error_of(refused, 403, "insufficient_scope")
    assert [c["id"] for c in listing(sandbox_client)] == [channel_id]


# ---------------------------------------------------------------- request ids and routing


def test_every_response_carries_a_request_id(sandbox_client: httpx.Client) -> None:
    ok = sandbox_client.get(BASE, headers=RW)
    assert REQUEST_ID.fullmatch(ok.headers["x-request-id"])
    other = sandbox_client.get(BASE, headers=RW)
    assert other.headers["x-request-id"] != ok.headers["x-request-id"]
    echoed = sandbox_client.get(BASE, headers={**RW, "X-Request-Id": "trace-42"})
    assert echoed.headers["x-request-id"] == "trace-42"
    failed = sandbox_client.get(BASE, headers={"X-Request-Id": "trace-43"})
    assert error_of(failed, 401, "api_key_missing")["request_id"] == "trace-43"
    # An unusable id (too long) is replaced rather than echoed.
    replaced = sandbox_client.get(BASE, headers={**RW, "X-Request-Id": "x" * 200})
    assert REQUEST_ID.fullmatch(replaced.headers["x-request-id"])


def test_unknown_route_is_404_in_the_console_shape(sandbox_client: httpx.Client) -> None:
    for path in (f"{BASE}/slack", f"{BASE}/slack/configure", "/api/v1/console/nope"):
        response = sandbox_client.get(path, headers={**RW, "X-Request-Id": "r-1"})
        body = error_of(response, 404, "not_found")
        assert body["request_id"] == "r-1"
        assert body["message"] == f"Cannot GET {path}"


def test_wrong_method_is_405_in_the_console_shape(sandbox_client: httpx.Client) -> None:
    response = sandbox_client.put(f"{BASE}/custom_api/configure", headers=RW, json=CUSTOM)
    error_of(response, 405, "method_not_allowed")
    # `configure` also fits the DELETE route's `{id}`, so DELETE is routable there (as a 404).
    assert response.headers["allow"] == "DELETE, POST"
    response = sandbox_client.post(BASE, headers=RW, json=CUSTOM)
    error_of(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET"
    assert listing(sandbox_client) == []


# ---------------------------------------------------------------- bad bodies


@pytest.mark.parametrize(
    ("family", "body", "messages"),
    [
        ("custom_api", {}, ["name: should not be empty"]),
        ("custom_api", {"name": ""}, ["name: should not be empty"]),
        ("custom_api", {"name": 5}, ["name: must be a string"]),
        (
            "custom_api",
            {"name": "x" * 256},
            ["name: must be shorter than or equal to 255 characters"],
        ),
        (
            "custom_api",
            {"name": "a", "auth_type": "oauth"},
            ["auth_type: must be one of the following values: none, bearer, basic, api_key, custom"],
        ),
        ("custom_api", {"name": "a", "base_url": "not a url"}, ["base_url: must be a URL address"]),
        ("custom_api", {"name": "a", "auth_config": "token"}, ["auth_config: must be an object"]),
        (
            "custom_api",
            {"name": "a", "auth_config": {"token": 1}},
            ["auth_config.token: must be a string"],
        ),
        ("custom_api", {"name": "a", "description": ["x"]}, ["description: must be a string"]),
        ("mcp_server", {"name": "a"}, ["server_url: should not be empty"]),
        (
            "mcp_server",
            {"name": "a", "server_url": "https://m.test", "transport": "stdio"},
            ["transport: must be one of the following values: http_sse, streamable_http"],
        ),
        (
            "mcp_server",
            {"server_url": 3},
            ["name: should not be empty", "server_url: must be a string"],
        ),
        ("bimpeai", {}, ["type: should not be empty"]),
        (
            "bimpeai",
            {"type": "slack"},
            ["type: must be one of the following values: bumpa, paystack, stripe, google_calendar, google_sheets"],
        ),
        (
            "bimpeai",
            {"type": "paystack", "secret_key": "k", "currency": "naira"},
            ["currency: must be a valid ISO4217 currency code"],
        ),
        ("bimpeai", {"type": "stripe", "secret_key": 12}, ["secret_key: must be a string"]),
        ("custom_api", ["name", "a"], ["request body must be a JSON object"]),
        ("custom_api", "crm", ["request body must be a JSON object"]),
    ],
)
def test_invalid_bodies_are_400_validation_error_with_a_list_of_messages(
    sandbox_client: httpx.Client, family: str, body: Any, messages: list[str]
) -> None:
    response = configure(sandbox_client, family, body)
    assert error_of(response, 400, "validation_error")["message"] == messages
    assert listing(sandbox_client) == []


@pytest.mark.parametrize("raw", [b"{bad json", b'{"name": "a"', b"\xff\xfe", b'{"name": NaN}', b"[" * 100_000])
def test_malformed_json_is_400_validation_error(sandbox_client: httpx.Client, raw: bytes) -> None:
    response = sandbox_client.post(
        f"{BASE}/custom_api/configure",
        headers={**RW, "Content-Type": "application/json"},
        content=raw,
    )
    body = error_of(response, 400, "validation_error")
    assert body["message"].startswith("Malformed JSON body")
    assert listing(sandbox_client) == []


def test_a_body_over_one_mebibyte_is_413(sandbox_client: httpx.Client) -> None:
    big = b'{"name": "' + b"x" * (console.MAX_BODY_BYTES) + b'"}'
    response = sandbox_client.post(
        f"{BASE}/custom_api/configure",
        headers={**RW, "Content-Type": "application/json"},
        content=big,
    )
    error_of(response, 413, "payload_too_large")
    assert listing(sandbox_client) == []


def test_body_errors_come_before_auth_and_field_errors_before_the_agent(
    sandbox_client: httpx.Client,
) -> None:
    path = f"{BASE}/custom_api/configure"
    big = b"[" + b"0," * console.MAX_BODY_BYTES + b"0]"
    error_of(sandbox_client.post(path, content=big), 413, "payload_too_large")
    error_of(sandbox_client.post(path, content=b"{"), 400, "validation_error")
    error_of(sandbox_client.post(path, json={}), 401, "api_key_missing")
    error_of(sandbox_client.post(path, json={}, headers=RO), 403, "insufficient_scope")
    missing_agent = f"{AGENTS}/agt_missing/integrations"
    error_of(configure(sandbox_client, "custom_api", {}, missing_agent), 400, "validation_error")
    error_of(configure(sandbox_client, "custom_api", {}, NOFLOW), 400, "validation_error")


# ---------------------------------------------------------------- idempotency


def test_idempotent_configure_replays_the_first_answer(sandbox_client: httpx.Client) -> None:
    first = configure(sandbox_client, "custom_api", CUSTOM, **{"Idempotency-Key": "op-1"})
    again = configure(sandbox_client, "custom_api", CUSTOM, **{"Idempotency-Key": "op-1"})
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert again.headers["x-request-id"] != first.headers["x-request-id"]
    assert [c["id"] for c in listing(sandbox_client, "custom_api")] == [data_of(first, 201)["id"]]
    # Another key acts again.
    configure(sandbox_client, "custom_api", CUSTOM, **{"Idempotency-Key": "op-2"})
    assert len(listing(sandbox_client, "custom_api")) == 2


def test_idempotent_bimpeai_configure_replays_the_channel_id(sandbox_client: httpx.Client) -> None:
    body = {"type": "bumpa", "token": "t"}
    first = configure(sandbox_client, "bimpeai", body, **{"Idempotency-Key": "b-1"})
    again = configure(sandbox_client, "bimpeai", body, **{"Idempotency-Key": "b-1"})
    assert data_of(again, 201) == data_of(first, 201)
    assert len(listing(sandbox_client)) == 1


def test_idempotent_delete_replays_200_instead_of_404(sandbox_client: httpx.Client) -> None:
    channel_id = create(sandbox_client, "mcp_server", MCP)["id"]
    path = f"{BASE}/mcp_server/{channel_id}"
    first = sandbox_client.delete(path, headers={**RW, "Idempotency-Key": "del-1"})
    again = sandbox_client.delete(path, headers={**RW, "Idempotency-Key": "del-1"})
    assert data_of(first) is None
    assert (again.status_code, again.content) == (first.status_code, first.content)
    error_of(sandbox_client.delete(path, headers=RW), 404, "not_found")


def test_reusing_a_key_for_a_different_request_is_400(sandbox_client: httpx.Client) -> None:
    configure(sandbox_client, "custom_api", CUSTOM, **{"Idempotency-Key": "op-1"})
    other = configure(sandbox_client, "custom_api", {**CUSTOM, "name": "other"}, **{"Idempotency-Key": "op-1"})
    error_of(other, 400, "validation_error")
    elsewhere = configure(sandbox_client, "mcp_server", MCP, **{"Idempotency-Key": "op-1"})
    error_of(elsewhere, 400, "validation_error")
    assert [c["name"] for c in listing(sandbox_client)] == ["crm"]


def test_failed_writes_are_not_remembered(sandbox_client: httpx.Client) -> None:
    error_of(
        configure(sandbox_client, "custom_api", {}, **{"Idempotency-Key": "op-9"}),
        400,
        "validation_error",
    )
    data_of(configure(sandbox_client, "custom_api", CUSTOM, **{"Idempotency-Key": "op-9"}), 201)
    assert len(listing(sandbox_client)) == 1


def test_an_overlong_idempotency_key_is_400(sandbox_client: httpx.Client) -> None:
    response = configure(sandbox_client, "custom_api", CUSTOM, **{"Idempotency-Key": "k" * 256})
    error_of(response, 400, "validation_error")
    assert listing(sandbox_client) == []


def test_idempotency_key_expires_after_the_window(sandbox_app: FastAPI) -> None:
    now = [1_000_000.0]
    sandbox_app.state.sandbox.clock = lambda: now[0]
    window = sandbox_app.state.sandbox.seed.idempotency_window
    with client_for(sandbox_app) as client:
        first = data_of(configure(client, "custom_api", CUSTOM, **{"Idempotency-Key": "k"}), 201)
        now[0] += window - 1
        inside = data_of(configure(client, "custom_api", CUSTOM, **{"Idempotency-Key": "k"}), 201)
        assert inside == first
        now[0] += 2
        after = data_of(configure(client, "custom_api", CUSTOM, **{"Idempotency-Key": "k"}), 201)
        assert after["id"] != first["id"]
        # The new answer is the one remembered from now on.
        now[0] += 1
        again = data_of(configure(client, "custom_api", CUSTOM, **{"Idempotency-Key": "k"}), 201)
        assert again == after
        assert len(listing(client, "custom_api")) == 2


def test_idempotency_keys_belong_to_one_team() -> None:
    with client_for(create_app(seed=make_seed())) as client:
        mine = data_of(configure(client, "custom_api", CUSTOM, **{"Idempotency-Key": "same"}), 201)
        theirs = client.post(
            f"{AGENTS}/agt_other/integrations/custom_api/configure",
            json=CUSTOM,
            headers={"X-Api-Key": "sk_other", "Idempotency-Key": "same"},
        )
        assert data_of(theirs, 201)["id"] != mine["id"]
        assert "idempotent-replayed" not in theirs.headers


# ---------------------------------------------------------------- robustness and state


def test_an_unexpected_error_is_a_500_in_the_console_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*_: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(console_store, "agent_of", explode)
    with client_for(create_app()) as client:
        body = error_of(client.get(BASE, headers=RW), 500, "internal_error")
        assert "boom" not in body["message"]


def test_listing_channels_takes_the_same_statements_for_one_or_a_thousand(sandbox_app: FastAPI) -> None:
    # A query per channel is what would make a large agent slow to list; counted, not timed.
    db = sandbox_app.state.sandbox.db
    with client_for(sandbox_app) as client:
        template = create(client, "custom_api", CUSTOM)["id"]
        one_family, family = statements_of(sandbox_app, lambda: listing(client, "custom_api"))
        one_every, every = statements_of(sandbox_app, lambda: listing(client))
        assert len(family) == len(every) == 1
        # Clone the one channel made through the API rather than POST a thousand times.
        with db.transaction() as conn:
            conn.executemany(
                "INSERT INTO console_channels (id, team, agent_id, family, type, name, status,"
                " config, secrets, created_at) SELECT ?, team, agent_id, family, type, name,"
                " status, config, secrets, created_at FROM console_channels WHERE id = ?",
                [(f"ch_{i:024x}", template) for i in range(999)],
            )
        many_family, family = statements_of(sandbox_app, lambda: listing(client, "custom_api"))
        many_every, every = statements_of(sandbox_app, lambda: listing(client))
    assert len(family) == len(every) == 1000
    assert family[-1]["config"]["name"] == "crm"
    assert (many_family, many_every) == (one_family, one_every)


def test_reopening_a_database_keeps_channels_and_reset_wipes_them(tmp_path: Any) -> None:
    path = str(tmp_path / "sandbox.db")
    first_app = create_app(path)
    with client_for(first_app) as client:
        channel_id = create(client, "custom_api", CUSTOM)["id"]
    first_app.state.sandbox.db.close()
    app = create_app(path)
    try:
        with client_for(app) as client:
            assert [c["id"] for c in listing(client)] == [channel_id]
            assert client.post("/_sandbox/reset").status_code == 200
            assert listing(client) == []
            # The seeded agents are back after the wipe.
            error_of(client.get(NOFLOW, headers=RW), 400, "workflow_required")
    finally:
        app.state.sandbox.db.close()
