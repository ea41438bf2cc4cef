"""The kind specs: defaults, `canonical()` idempotence, the channel tables, the one source of
Conductor secret keys, and the one `ignore_changes` write-back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler import kinds
from reconciler.desired import fields, load
from reconciler.desired.export import export
from reconciler.kinds import catalog, console, kubiya
from reconciler.kinds.conductor import canonical_model, canonical_provider
from reconciler.model import (
    CHANNEL_FAMILIES,
    MANAGED_TAG,
    Address,
    LiveResource,
    Resource,
    ResourceKind,
    Sensitive,
    ServerConfig,
    ServerKind,
)

BODIES: list[tuple[kinds.KindSpec, dict[str, Any]]] = [
    (kinds.spec(ResourceKind.INTEGRATION), {"type": "http"}),
    (
        kinds.spec(ResourceKind.INTEGRATION),
        {
            "type": "pg",
            "description": None,
            "config": {
                "env_vars": {"A": "b"},
                "files": [{"path": "/a", "mode": ""}, {"path": "/b", "mode": "0600", "content": "x"}],
                "connection_test": {"command": "true", "enabled": None},
                "unknown": 1,
            },
            "tags": ["z", MANAGED_TAG, "a"],
        },
    ),
    (
        kinds.spec(ResourceKind.PROVIDER),
        {"type": "openai", "tags": [{"key": "b", "value": 2}, {"key": "a", "value": "1"}]},
    ),
    (kinds.spec(ResourceKind.PROVIDER), {"type": "openai", "tags": [{"key": "managed-by", "value": "reconciler"}]}),
    (kinds.spec(ResourceKind.MODEL), {"description": None}),
    (kinds.spec(ResourceKind.CHANNEL, "mcp_server"), {"server_url": "https://x"}),
    (kinds.spec(ResourceKind.CHANNEL, "custom_api"), {"base_url": "https://x", "auth_type": "bearer"}),
    (kinds.spec(ResourceKind.CHANNEL, "bimpeai"), {"type": "paystack", "secret_key": Sensitive("s")}),
]


@pytest.mark.parametrize(("spec", "body"), BODIES)
def test_canonical_is_idempotent(spec: kinds.KindSpec, body: dict[str, Any]) -> None:
    once = spec.canonical(body)
    assert spec.canonical(once) == once


@pytest.mark.parametrize(("spec", "body"), BODIES)
def test_canonical_does_not_change_its_argument(spec: kinds.KindSpec, body: dict[str, Any]) -> None:
    before = repr(body)
    spec.canonical(body)
    assert repr(body) == before


def test_an_integration_gets_the_servers_defaults() -> None:
    body = kubiya.canonical(BODIES[1][1])
    assert body["description"] == ""
    assert body["status"] == "active"
    assert body["tags"] == ["a", "z"]
    config = body["config"]
    assert set(config) == set(kubiya.CONFIG_FIELDS)
    assert config["files"] == [
        {"path": "/a", "content": None, "secret_ref": None, "mode": "0644", "description": None},
        {"path": "/b", "content": "x", "secret_ref": None, "mode": "0600", "description": None},
    ]
    assert config["connection_test"] == {"enabled": True, "command": "true", "timeout": 5}


def test_a_provider_and_a_model_get_their_defaults() -> None:
    provider = canonical_provider(BODIES[2][1])
    assert provider == {
        "type": "openai",
        "description": "",
        "enabled": True,
        "configuration": {},
        "tags": [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}],
    }
    assert canonical_provider(BODIES[3][1])["tags"] == []
    assert canonical_model({}) == {"description": "", "enabled": True, "configuration": {}}


def test_the_record_defaults_the_views_leave_out() -> None:
    assert kinds.record_defaults("integration", "config.files[3]")["mode"] == "0644"
    assert kinds.record_defaults("integration", "config.env_vars") == {}
    assert kinds.record_defaults("provider", "config.files") == {}


def test_the_channel_tables() -> None:
    assert set(console.CHANNELS) == set(CHANNEL_FAMILIES)
    assert {f: s.fields for f, s in console.CHANNELS.items()} == fields.CHANNEL_FIELDS
    assert fields.CHANNEL_WRITE_ONLY == {
        "custom_api": ("description", "auth_config", "test_endpoint"),
        "mcp_server": ("auth_config",),
        "bimpeai": ("token", "public_key", "secret_key", "currency"),
    }
    assert fields.CHANNEL_DEFAULTS == {
        "custom_api": {"auth_type": "none"},
        "mcp_server": {"transport": "streamable_http", "auth_type": "none"},
        "bimpeai": {},
    }
    for spec in console.CHANNELS.values():
        assert set(spec.read_back) <= set(spec.fields)
        assert not spec.updatable


def test_a_channel_spec_needs_its_family() -> None:
    with pytest.raises(ValueError, match="family"):
        kinds.spec(ResourceKind.CHANNEL)
    address = Address(ResourceKind.CHANNEL, "c", ("agt", "bimpeai"), "pay")
    assert kinds.spec_of(address) is console.CHANNELS["bimpeai"]


def test_secret_keys_are_the_bundled_ones_plus_those_learned() -> None:
    bundled = catalog.conductor_catalog().secret_keys
    assert {"api_key", "password"} <= bundled
    assert catalog.secret_keys("openai") == bundled
    learned = {"openai": frozenset({"organizationId"})}
    assert catalog.secret_keys("openai", learned) == bundled | {"organizationId"}
    assert catalog.secret_keys("kafka", learned) == bundled


def test_password_fields_are_read_from_a_servers_catalog() -> None:
    answer = [
        {"type": "openai", "configuration": [{"fieldName": "api_key", "fieldType": "password"}]},
        {"name": "kafka", "configuration": [{"fieldName": "endpoint", "fieldType": "TEXT"}]},
        "not an entry",
    ]
    assert catalog.password_fields(answer) == {"openai": frozenset({"api_key"})}
    assert catalog.password_fields({"unexpected": True}) == {}


def _state(tmp_path: Path, config: str) -> list[Resource]:
    path = tmp_path / "state.yaml"
    path.write_text(
        "servers:\n  orkes: {kind: conductor, url: 'sandbox:'}\n"
        "providers:\n"
        "  - {name: aws, server: orkes, type: aws, configuration: " + config + "}\n",
        encoding="utf-8",
    )
    return list(load([path], environ={"K": "v"}).resources)


def test_build_makes_every_catalog_secret_key_write_only(tmp_path: Path) -> None:
    (provider,) = _state(tmp_path, "{connectionType: EXTERNAL_ROLE, region: r, roleArn: a, externalId: '${env:K}'}")
    assert provider.write_only == ("configuration.externalId",)
    assert "externalId" in catalog.secret_keys("aws")


def test_export_writes_every_catalog_secret_key_as_a_reference() -> None:
    server = ServerConfig("orkes", ServerKind.CONDUCTOR, "sandbox:")
    live = LiveResource(
        Address(ResourceKind.PROVIDER, "orkes", (), "aws"),
        "aws",
        {"type": "aws", "configuration": {"region": "r", "externalId": "in-clear"}},
    )
    text, needed = export(server, [live])
    assert "in-clear" not in text
    assert needed == ["ORKES_AWS_EXTERNALID"]


def test_canonical_resource_keeps_a_built_body_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "state.yaml"
    path.write_text(
        "servers:\n  orkes: {kind: conductor, url: 'sandbox:'}\n  console: {kind: console, url: 'sandbox:'}\n"
        "providers:\n  - {name: p, server: orkes, type: ollama, configuration: {endpoint: x}, apis: [{name: m}]}\n"
        "channels:\n  - {server: console, agent: a, family: mcp_server, name: d, server_url: 'https://x'}\n",
        encoding="utf-8",
    )
    for resource in load([path], environ={}).resources:
        assert kinds.canonical_resource(resource) is resource


def test_canonical_resource_completes_a_hand_built_body() -> None:
    res = Resource(Address(ResourceKind.INTEGRATION, "k", (), "i"), {"type": "redis"})
    done = kinds.canonical_resource(res)
    assert done.body == kubiya.canonical({"type": "redis"})
    assert done.body["status"] == "active"


# --- the one ignore_changes write-back ------------------------------------------------------


def test_keep_ignored_omits_what_the_api_keeps() -> None:
    payload = {"description": "mine", "integration_type": "x", "status": "active"}
    kinds.keep_ignored(
        payload, {}, ["description", "type"], omit={"description": "description", "type": "integration_type"}
    )
    assert payload == {"status": "active"}


def test_keep_ignored_copies_a_sub_path_from_the_server() -> None:
    payload = {"config": {"env_vars": {"A": "mine", "B": "mine"}}}
    live = {"config": {"env_vars": {"A": "theirs", "B": "theirs"}}}
    kinds.keep_ignored(payload, live, ["config.env_vars.A"], copy=["config"])
    assert payload == {"config": {"env_vars": {"A": "theirs", "B": "mine"}}}


def test_keep_ignored_takes_a_dotted_key_whole() -> None:
    payload = {"configuration": {"a.b": 1}}
    kinds.keep_ignored(payload, {"configuration": {"a.b": 2}}, ["configuration.a.b"], copy=["configuration"])
    assert payload == {"configuration": {"a.b": 2}}


def test_keep_ignored_leaves_a_path_the_server_lacks() -> None:
    payload = {"configuration": {"k": "mine"}}
    kinds.keep_ignored(payload, {"configuration": {}}, ["configuration.k"], copy=["configuration"])
    assert payload == {"configuration": {"k": "mine"}}


def test_keep_ignored_copies_a_whole_field_only_where_allowed() -> None:
    live = {"description": "theirs", "configuration": {"x": 1}}
    payload: dict[str, Any] = {"description": "mine", "configuration": {"y": 2}}
    kinds.keep_ignored(payload, live, ["description", "configuration"], copy_whole=["description"])
    assert payload == {"description": "theirs", "configuration": {"y": 2}}


def test_an_integration_already_in_canonical_shape_keeps_its_parts() -> None:
    # Not copied: a plan of 25,000 integrations holds each body twice (declared and live).
    once = kubiya.canonical(BODIES[1][1])
    again = kubiya.canonical(once)
    assert (again["config"] is once["config"], again["tags"] is once["tags"]) == (True, True)
