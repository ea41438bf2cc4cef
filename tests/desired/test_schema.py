"""The JSON Schema file: valid, in step with the rules and the Conductor catalog, documented."""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest
from jsonschema import Draft202012Validator

from reconciler.desired import FORMAT_DOC, fields, schema
from reconciler.kinds.catalog import conductor_catalog
from reconciler.model import CHANNEL_FAMILIES, ServerConfig, ServerKind

ROOT = Path(__file__).resolve().parents[2]


def test_the_package_loads_the_top_level_schema_file() -> None:
    on_disk = json.loads((ROOT / "schemas" / "desired-state.schema.json").read_text())
    assert on_disk == schema.SCHEMA
    Draft202012Validator.check_schema(on_disk)
    assert on_disk["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_the_fast_check_leaves_the_document_as_it_is() -> None:
    # fastjsonschema fills in a schema's defaults unless told not to: validation must not.
    document = {"version": 1, "servers": {"k": {"kind": "kubiya", "url": "sandbox:"}}, "integrations": []}
    before = json.dumps(document, sort_keys=True)
    assert schema.fast_is_valid(document)
    assert json.dumps(document, sort_keys=True) == before


def test_a_value_only_the_fast_check_refuses_is_judged_by_jsonschema(tmp_path: Path) -> None:
    # fastjsonschema reads `$` in a pattern as ECMA-262 does (no match before a final newline);
    # jsonschema, which decides, accepts such a name: the document stays valid.
    document = {"version": 1, "servers": {"k": {"kind": "kubiya", "url": "sandbox:"}}, "integrations": [
        {"name": "pg\n", "server": "k", "type": "postgres"}
    ]}
    assert not schema.fast_is_valid(document)
    assert schema.jsonschema_is_valid(document)
    assert schema.validate(document, "f.yaml").diagnostics == []


VALID = {"version": 1, "servers": {"k": {"kind": "kubiya", "url": "sandbox:"}}, "integrations": []}
INVALID = {"version": 1, "servers": {"k": {"kind": "kubiya", "url": "sandbox:"}}, "integrations": [{"name": 3}]}


def _fresh_fast_check(monkeypatch: pytest.MonkeyPatch, cache: Path) -> None:
    """The next fast check is built anew (as in a new process), with `cache` as the cache."""
    monkeypatch.setenv(schema.CACHE_ENV, str(cache))
    schema._fast_check.cache_clear()


def test_the_compiled_fast_check_is_kept_in_the_cache_and_used_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fresh_fast_check(monkeypatch, tmp_path)
    assert schema.fast_is_valid(VALID)
    (kept,) = tmp_path.glob("schema-check-*.marshal")
    # A second process finds it: nothing is generated again, and it still judges.
    schema._fast_check.cache_clear()

    def no_generation(*args: Any, **kwargs: Any) -> str:
        raise AssertionError("the fast check was generated again")

    monkeypatch.setattr(fastjsonschema, "compile_to_code", no_generation)
    assert schema.fast_is_valid(VALID)
    assert not schema.fast_is_valid(INVALID)
    assert list(tmp_path.glob("schema-check-*.marshal")) == [kept]
    schema._fast_check.cache_clear()


def test_a_damaged_cache_file_is_generated_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fresh_fast_check(monkeypatch, tmp_path)
    schema.fast_is_valid(VALID)
    (kept,) = tmp_path.glob("schema-check-*.marshal")
    good = kept.read_bytes()
    kept.write_bytes(b"not a marshalled code object")
    schema._fast_check.cache_clear()
    assert schema.fast_is_valid(VALID)
    assert not schema.fast_is_valid(INVALID)
    assert kept.read_bytes() == good
    schema._fast_check.cache_clear()


def test_a_cache_directory_that_cannot_be_written_only_costs_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    _fresh_fast_check(monkeypatch, blocked / "cache")
    assert schema.fast_is_valid(VALID)
    assert not schema.fast_is_valid(INVALID)
    schema._fast_check.cache_clear()


def test_schema_agrees_with_the_conductor_catalog() -> None:
    catalog = conductor_catalog()
    provider = schema.SCHEMA["$defs"]["provider"]["properties"]
    assert sorted(provider["type"]["examples"]) == sorted(catalog.types)
    assert provider["category"]["enum"] == list(catalog.categories)


def test_schema_agrees_with_the_channel_rules() -> None:
    defs = schema.SCHEMA["$defs"]
    assert tuple(defs["channel"]["properties"]["family"]["enum"]) == CHANNEL_FAMILIES
    common = {"server", "agent", "family", "name", "lifecycle"}
    for name, family in (
        ("customApiChannel", "custom_api"),
        ("mcpServerChannel", "mcp_server"),
        ("bimpeaiChannel", "bimpeai"),
    ):
        assert set(defs[name]["properties"]) - common == set(fields.CHANNEL_FIELDS[family])


def _has_description(node: Any) -> bool:
    if "description" in node:
        return True
    ref = node.get("$ref")
    return bool(ref) and "description" in schema.SCHEMA["$defs"][ref.split("/")[-1]]


def test_every_field_is_documented_for_editors() -> None:
    missing = []

    def walk(node: Any, where: str) -> None:
        if not isinstance(node, dict):
            return
        for key, sub in node.get("properties", {}).items():
            if isinstance(sub, dict) and not _has_description(sub):
                missing.append(f"{where}.{key}")
            walk(sub, f"{where}.{key}")

    walk(schema.SCHEMA, "root")
    for name, node in schema.SCHEMA["$defs"].items():
        walk(node, name)
    assert missing == []


def test_path_text() -> None:
    assert schema.path_text(["integrations", 0, "config", "env_vars", "A B"]) == (
        'integrations[0].config.env_vars["A B"]'
    )


def test_documented_server_defaults_are_the_model_defaults() -> None:
    defaults = ServerConfig("d", ServerKind.KUBIYA, "sandbox:")
    server = schema.SCHEMA["$defs"]["server"]["properties"]
    for name in ("parallelism", "rate_limit", "timeout", "prune", "batch_size"):
        assert server[name]["default"] == getattr(defaults, name), name
        value = getattr(defaults, name)
        shown = str(value).lower() if isinstance(value, bool) else f"{value:g}"
        assert f"{name}: {shown} " in FORMAT_DOC, name


# Lists with `uniqueItems` (tags, secrets, ignore_changes): the check's helper that makes
# their items hashable is recursive; inside the check it would be a new cycle per resource.
UNIQUE_LISTS = {
    "version": 1,
    "servers": {"k": {"kind": "kubiya", "url": "sandbox:"}, "o": {"kind": "conductor", "url": "sandbox:"}},
    "integrations": [
        {
            "name": f"i{n}",
            "server": "k",
            "type": "postgres",
            "tags": ["a", "b"],
            "config": {"secrets": ["S"]},
            "lifecycle": {"ignore_changes": ["description"]},
        }
        for n in range(20)
    ],
    "providers": [{"name": "p", "server": "o", "type": "ollama", "tags": [{"key": "team", "value": "x"}]}],
}


def test_the_fast_check_of_unique_item_lists_leaves_no_reference_cycle() -> None:
    assert schema.fast_is_valid(UNIQUE_LISTS)
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    try:
        assert schema.fast_is_valid(UNIQUE_LISTS)
        assert gc.collect() == 0
    finally:
        if was:
            gc.enable()


def test_the_fast_check_still_refuses_repeated_items() -> None:
    document = json.loads(json.dumps(UNIQUE_LISTS))
    document["integrations"][7]["config"]["secrets"] = ["S", "S"]
    assert not schema.fast_is_valid(document)
    assert not schema.jsonschema_is_valid(document)


def test_a_local_helper_defined_two_ways_stays_where_it_is() -> None:
    source = "def a(x):\n    def fn(v): return v\n    return fn(x)\n\ndef b(x):\n    def fn(v): return -v\n    return fn(x)\n"
    assert schema._hoist_local_functions(source) == source


def test_a_local_helper_defined_one_way_moves_to_the_module() -> None:
    source = "def a(x):\n    def fn(v): return v * 2\n    return fn(x)\n\ndef b(x):\n    def fn(v): return v * 2\n    return -fn(x)\n"
    namespace: dict[str, Any] = {}
    exec(compile(schema._hoist_local_functions(source), "<test>", "exec"), namespace)
    assert (namespace["a"](3), namespace["b"](3), namespace["fn"](5)) == (6, -6, 10)


def test_a_local_helper_written_over_several_lines_stays_where_it_is() -> None:
    source = "def a(x):\n    def fn(v):\n        return v\n    return fn(x)\n"
    assert schema._hoist_local_functions(source) == source
