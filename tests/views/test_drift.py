"""The drift report's views (human, JSON, Markdown): the plan's rules on the drift path.

A drift report is read from a plan, so it shows what the plan shows and nothing else: the
same masks (a sensitive value is the bare mask, vault secret names and hand-added keys are
shown), the same replacements (every differing field, the forcing one marked, models replaced
or destroyed with their provider saying why), and the same count of replacements.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from reconciler.drift import from_plan
from reconciler.plan import Action
from reconciler.views.drift import render_drift_human, render_drift_json, render_drift_markdown
from tests.views import plans

Golden = Callable[[str, str], None]


def test_golden_human(golden: Golden) -> None:
    golden("drift_human.txt", render_drift_human(from_plan(plans.representative_plan())))


def test_golden_json(golden: Golden) -> None:
    golden("drift.json", render_drift_json(from_plan(plans.representative_plan())))


def test_golden_markdown(golden: Golden) -> None:
    golden("drift.md", render_drift_markdown(from_plan(plans.representative_plan())))


def test_golden_replacements_human(golden: Golden) -> None:
    golden("drift_replace_human.txt", render_drift_human(from_plan(plans.replacement_plan())))


def test_golden_replacements_json(golden: Golden) -> None:
    golden("drift_replace.json", render_drift_json(from_plan(plans.replacement_plan())))


def test_golden_replacements_markdown(golden: Golden) -> None:
    golden("drift_replace.md", render_drift_markdown(from_plan(plans.replacement_plan())))


def test_replacements_are_counted_as_the_plan_counts_them() -> None:
    plan = plans.replacement_plan()
    report = from_plan(plan)
    assert report.replacements == plan.summary().replace == 3
    assert json.loads(render_drift_json(report))["replacements"] == 3


def test_the_forcing_field_is_marked_in_every_view() -> None:
    report = from_plan(plans.replacement_plan())
    (item,) = [i for i in report.items if i.address == "provider.orkes.llm"]
    assert [f.path for f in item.fields if f.forces_replacement] == ["type"]
    assert '      type: live "openai", desired "azure_openai" # forces replacement' in render_drift_human(report)
    assert "desired `\"azure_openai\"` (forces replacement)" in render_drift_markdown(report)
    fields = {i["address"]: i["fields"] for i in json.loads(render_drift_json(report))["items"]}
    assert [f["path"] for f in fields["provider.orkes.llm"] if f["forces_replacement"]] == ["type"]


def test_models_replaced_or_destroyed_with_their_provider_say_why() -> None:
    items = {i.address: i for i in from_plan(plans.replacement_plan()).items}
    chat, old = items["model.orkes.llm.chat"], items["model.orkes.llm.old-model"]
    assert (chat.action, old.action) == (Action.REPLACE, Action.DELETE)
    assert "its provider is replaced" in chat.detail
    assert "destroyed with its provider" in old.detail


def test_a_sensitive_value_is_the_bare_mask_and_secret_names_are_shown() -> None:
    text = render_drift_human(from_plan(plans.replacement_plan()))
    assert "configuration.api_key: live (sensitive), desired (sensitive)" in text
    assert '"(sensitive)"' not in text
    assert 'config.secrets: live ["PG_PASSWORD"], desired ["PG_PASSWORD", "PG_REPLICA_PASSWORD"]' in text
    assert 'config.env_vars.HAND_ADDED: live "by hand", desired null' in text
