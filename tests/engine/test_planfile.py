"""The plan file: what `encode` writes `read` gives back, the schema refuses what it must with
the messages users see, and the stale check names what differs."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from reconciler import planfile
from reconciler.errors import ConfigError, StalePlanError
from reconciler.plan import Plan
from reconciler.views.jsonview import render_plan_json
from tests.views.plans import representative_plan

ROOT = Path(__file__).resolve().parents[2]
OPTIONS = planfile.SavedOptions(
    servers=("kubiya",), prune_servers=frozenset({"kubiya"}), max_deletes=3, targets=("integration.kubiya",)
)


def _plan(tmp_path: Path) -> Plan:
    sources = {"paths": [str(tmp_path / "desired.yaml")], "variables": {}, "variables_salt": "", "var_files": []}
    return replace(representative_plan(), sources=sources)


def _write(tmp_path: Path, doc: Any, name: str = "plan.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return path


def test_a_written_plan_reads_back_as_the_same_plan_and_options(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    path = tmp_path / "plans" / "plan.json"
    path.parent.mkdir()
    path.write_text(planfile.text(plan, OPTIONS, path))
    saved = planfile.read(path)
    assert saved.plan.to_dict()["changes"] == json.loads(render_plan_json(plan))["changes"]
    assert saved.options == OPTIONS
    assert saved.paths == (str(tmp_path / "plans" / ".." / "desired.yaml"),)


def test_paths_are_saved_relative_to_the_plan_file(tmp_path: Path) -> None:
    doc = planfile.encode(_plan(tmp_path), OPTIONS, tmp_path / "plans" / "plan.json")
    assert doc["sources"]["paths"] == ["../desired.yaml"]


def test_the_plan_file_matches_both_schemas(tmp_path: Path) -> None:
    doc = planfile.encode(_plan(tmp_path), OPTIONS, tmp_path / "plan.json")
    assert planfile.problems(doc) == []
    plan_schema = json.loads((ROOT / "schemas" / "plan.schema.json").read_text())
    assert list(Draft202012Validator(plan_schema).iter_errors(doc)) == []


def test_the_packaged_plan_file_schema_is_the_published_one() -> None:
    published = json.loads((ROOT / "schemas" / "plan-file.schema.json").read_text())
    packaged = json.loads((ROOT / "reconciler" / "schemas" / "plan-file.schema.json").read_text())
    assert packaged == published
    Draft202012Validator.check_schema(published)
    assert published["allOf"] == [{"$ref": "plan.schema.json"}]


def test_an_unknown_field_is_refused_naming_it(tmp_path: Path) -> None:
    doc = planfile.encode(_plan(tmp_path), OPTIONS, tmp_path / "plan.json")
    doc["changes"][0]["surprise"] = 1
    with pytest.raises(ConfigError) as caught:
        planfile.read(_write(tmp_path, doc))
    assert str(caught.value) == (
        f"{tmp_path / 'plan.json'}: the plan file does not match schemas/plan.schema.json: "
        "changes[0]: unknown field(s) 'surprise'"
    )
    assert caught.value.hint == "make the plan again with `reconciler plan --out FILE`; do not edit plan files"


def test_a_plan_printed_as_json_is_refused_as_no_saved_plan(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"the document: missing field\(s\) 'options' \(a plan printed by --format json"):
        planfile.read(_write(tmp_path, render_plan_json(_plan(tmp_path))))


def test_a_wrong_value_names_the_rule_not_the_value(tmp_path: Path) -> None:
    doc = planfile.encode(_plan(tmp_path), OPTIONS, tmp_path / "plan.json")
    doc["changes"][0]["action"] = "hunter2"
    with pytest.raises(ConfigError) as caught:
        planfile.read(_write(tmp_path, doc))
    assert "changes[0].action: does not satisfy `enum` of the plan schema" in str(caught.value)
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", r"not a plan file \(invalid JSON\)"),
        ('{"format": "something-else"}', "not a reconciler plan file"),
        ("[1, 2]", "not a reconciler plan file"),
    ],
)
def test_what_is_no_plan_file_is_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        planfile.read(_write(tmp_path, text))
    assert caught.value.hint == "write one with `reconciler plan --out FILE`"


def test_a_missing_file_says_it_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read the plan file \(No such file or directory\)"):
        planfile.read(tmp_path / "absent.json")


def test_a_fresh_plan_with_one_change_less_is_stale_at_that_address(tmp_path: Path) -> None:
    saved = Plan.from_dict(planfile.encode(_plan(tmp_path), OPTIONS, tmp_path / "plan.json"))
    dropped = saved.actionable[0]
    fresh = replace(saved, changes=tuple(c for c in saved.changes if c is not dropped))
    assert planfile.stale_addresses(saved, fresh) == [str(dropped.address)]
    with pytest.raises(StalePlanError, match=str(dropped.address).replace(".", r"\.")):
        planfile.check_fresh(saved, fresh)


def test_other_variable_values_are_named_never_shown() -> None:
    key, salt = b"k", "salt"
    saved = planfile.SavedPlan(
        Plan(()), ("d.yaml",), OPTIONS, variables=planfile.variable_digests({"env": "prod", "x": "1"}, key, salt),
        variables_salt=salt,
    )
    given = planfile.variable_digests({"env": "staging", "y": "2"}, key, salt)
    with pytest.raises(ConfigError) as caught:
        planfile.check_variables(saved, given)
    assert str(caught.value) == (
        "the --var values differ from those the plan was made with (missing x; other values for env; not in the plan: y)"
    )
    planfile.check_variables(saved, planfile.variable_digests({"env": "prod", "x": "1"}, key, salt))
