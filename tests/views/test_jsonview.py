"""The JSON plan, apply and diagnostics documents, and the plan's JSON Schema."""

from __future__ import annotations

import json
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.errors import Location, error, warning
from reconciler.model import Address, ResourceKind, Sensitive
from reconciler.plan import Action, Change, FieldChange, Plan, Reason
from reconciler.views import jsonview
from reconciler.views.jsonview import render_apply_json, render_diagnostics_json, render_plan_json
from tests.views import plans

Golden = Callable[[str, str], None]

SCHEMA_PATH = Path(__file__).parents[2] / "schemas" / "plan.schema.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_golden_plan(golden: Golden) -> None:
    golden("plan.json", render_plan_json(plans.representative_plan()))


def test_golden_replacements(golden: Golden) -> None:
    golden("plan_replace.json", render_plan_json(plans.replacement_plan()))


def test_plan_document_is_to_dict_plus_format() -> None:
    plan = plans.representative_plan()
    text = render_plan_json(plan)
    expected = {"format": "reconciler-plan", **json.loads(json.dumps(plan.to_dict()))}
    # The one departure from to_dict(): a sensitive field shows only the mask, even where the
    # core kept a structure with its secret leaves masked (a create's `config`).
    for change in expected["changes"]:
        for field in change["fields"]:
            if field["sensitive"]:
                field["before"] = None if field["before"] is None else "(sensitive)"
                field["after"] = None if field["after"] is None else "(sensitive)"
    assert json.loads(text) == expected
    # Sorted keys, and one line for each change.
    lines = text.splitlines()
    assert lines[0] == "{"
    assert lines[1] == '  "changes": ['
    assert len([line for line in lines if line.startswith('    {"action": ')]) == len(plan.changes)
    assert text.isascii()


def _plans() -> dict[str, Plan]:
    return {
        "representative": plans.representative_plan(),
        "replacements": plans.replacement_plan(),
        "noop": plans.noop_plan(),
        "empty": Plan(changes=()),
        "big": plans.big_plan(200),
        "with diagnostics": Plan(
            changes=(),
            diagnostics=(
                warning("plan.x", "just so", location=Location("a.yaml", 1, 2), hint="h"),
                warning("plan.y", "no location", address="integration.kubiya.x"),
            ),
        ),
    }


@pytest.mark.parametrize("name", list(_plans()))
def test_output_validates_against_schema(name: str, validator: jsonschema.Draft202012Validator) -> None:
    document = json.loads(render_plan_json(_plans()[name]))
    errors = [e.message for e in validator.iter_errors(document)]
    assert errors == []


@pytest.mark.parametrize(
    ("pointer", "enum"),
    [
        ("action", Action),
        ("reason", Reason),
        ("kind", ResourceKind),
    ],
)
def test_schema_enums_match_the_code(pointer: str, enum: type[Enum]) -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    listed = schema["$defs"]["change"]["properties"][pointer]["enum"]
    assert sorted(listed) == sorted(e.value for e in enum)


def _valid_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(render_plan_json(plans.representative_plan()))
    return document


def test_schema_refuses_a_value_in_a_sensitive_field(validator: jsonschema.Draft202012Validator) -> None:
    document = _valid_document()
    field = next(f for c in document["changes"] for f in c["fields"] if f["sensitive"])
    field["after"] = "hunter2"
    assert not validator.is_valid(document)


def test_schema_refuses_unknown_keys_and_actions(validator: jsonschema.Draft202012Validator) -> None:
    document = _valid_document()
    document["changes"][0]["surprise"] = 1
    assert not validator.is_valid(document)
    document = _valid_document()
    document["changes"][0]["action"] = "explode"
    assert not validator.is_valid(document)
    document = _valid_document()
    del document["changes"][0]["reason"]
    assert not validator.is_valid(document)


def test_sensitive_field_holding_a_value_by_mistake_is_masked(validator: jsonschema.Draft202012Validator) -> None:
    address = Address(ResourceKind.PROVIDER, "orkes", (), "p")
    change = Change(address, Action.UPDATE, Reason.CHANGED, (FieldChange("key", "old-secret", "new-secret", True),))
    text = render_plan_json(Plan(changes=(change,)))
    assert "secret" not in text
    document = json.loads(text)
    assert document["changes"][0]["fields"][0] == {
        "path": "key",
        "before": "(sensitive)",
        "after": "(sensitive)",
        "sensitive": True,
        "forces_replacement": False,
    }
    assert validator.is_valid(document)


def test_sensitive_sources_are_masked() -> None:
    plan = Plan(changes=(), sources={"variables": {"password": Sensitive("s3cr3t-value")}})
    document = json.loads(render_plan_json(plan))
    assert document["sources"]["variables"] == {"password": "(sensitive)"}


@pytest.mark.parametrize(
    "name",
    ["success", "simple_success", "partial_failure", "interrupted"],
)
def test_golden_apply(name: str, golden: Golden) -> None:
    result = getattr(plans, f"{name}_result")()
    golden(f"apply_{name}.json", render_apply_json(result))


def test_apply_document() -> None:
    document = json.loads(render_apply_json(plans.partial_failure_result()))
    assert document["format"] == "reconciler-apply"
    assert document["ok"] is False
    assert document["interrupted"] is False
    assert document["summary"] == {
        "added": 2,
        "changed": 3,
        "replaced": 0,
        "destroyed": 2,
        "failed": 3,
        "skipped": 1,
    }
    by_address = {o["address"]: o for o in document["outcomes"]}
    assert by_address["provider.orkes.openai"] == {
        "address": "provider.orkes.openai",
        "kind": "provider",
        "server": "orkes",
        "name": "openai",
        "action": "update",
        "outcome": "failed",
        "message": "server error: upstream unavailable",
        "status": 503,
        "unknown": False,
    }
    assert by_address["model.orkes.openai.gpt-4o"]["outcome"] == "skipped"
    assert by_address["model.orkes.openai.gpt-4o"]["reason"] == "depends on provider.orkes.openai, which failed"
    assert by_address["provider.orkes.old-provider"]["outcome"] == "done"


def test_interrupted_apply_is_not_ok() -> None:
    document = json.loads(render_apply_json(plans.interrupted_result()))
    assert document["interrupted"] is True
    assert document["ok"] is False


def test_diagnostics_document() -> None:
    diags = [
        error("yaml.duplicate-key", "duplicate key 'name'", location=Location("a.yaml", 4, 3), hint="remove one"),
        warning("plan.unused", "variable 'x' is never used"),
    ]
    document = json.loads(render_diagnostics_json(diags))
    assert document["format"] == "reconciler-diagnostics"
    assert document["summary"] == {"errors": 1, "warnings": 1}
    assert document["diagnostics"] == [d.to_dict() for d in diags]


@pytest.mark.parametrize("name", ["representative", "replacements", "with diagnostics"])
def test_a_plan_document_reads_back_into_the_same_plan(name: str) -> None:
    plan = _plans()[name]
    document = json.loads(render_plan_json(plan))
    assert Plan.from_dict(document).to_dict() == {k: v for k, v in document.items() if k != "format"}


def _every_change() -> list[Change]:
    return [
        c
        for plan in (plans.representative_plan(), plans.replacement_plan(), plans.noop_plan(), plans.big_plan(50))
        for c in plan.changes
    ]


@pytest.mark.parametrize("change", _every_change(), ids=lambda c: f"{c.action.value}-{c.address}")
def test_a_change_s_line_is_its_document_encoded(change: Change) -> None:
    assert jsonview._change_line(change) == jsonview._compact(jsonview._change_document(change))


_ANY_TEXT = st.text(max_size=12)
_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _ANY_TEXT


@given(
    kind=st.sampled_from(list(ResourceKind)),
    names=st.tuples(_ANY_TEXT, _ANY_TEXT, _ANY_TEXT),
    action=st.sampled_from(list(Action)),
    reason=st.sampled_from(list(Reason)),
    fields=st.lists(st.tuples(_ANY_TEXT, _SCALARS, _SCALARS | st.just(Sensitive("s3cret")), st.booleans()), max_size=3),
    live=st.tuples(st.none() | _ANY_TEXT, st.none() | _ANY_TEXT, st.none() | _ANY_TEXT),
    location=st.none() | st.tuples(_ANY_TEXT, st.integers(0, 10**6), st.integers(0, 10**6)),
    depends=st.lists(_ANY_TEXT, max_size=2),
)
def test_any_change_s_line_is_its_document_encoded(
    kind: ResourceKind,
    names: tuple[str, str, str],
    action: Action,
    reason: Reason,
    fields: list[tuple[str, Any, Any, bool]],
    live: tuple[str | None, str | None, str | None],
    location: tuple[str, int, int] | None,
    depends: list[str],
) -> None:
    server, scope, name = names
    change = Change(
        Address(kind, server, (scope,), name),
        action,
        reason,
        tuple(FieldChange(path, before, after, sensitive) for path, before, after, sensitive in fields),
        live_id=live[0],
        live_version=live[1],
        live_type=live[2],
        depends_on=tuple(Address(ResourceKind.PROVIDER, server, (), d) for d in depends),
        location=None if location is None else Location(*location),
        digest=name[:4],
    )
    assert jsonview._change_line(change) == jsonview._compact(jsonview._change_document(change))
