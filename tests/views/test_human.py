"""The human plan view: layout, markers, masks, truncation, heredocs, colour, goldens."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from reconciler.model import Address, ResourceKind
from reconciler.plan import Action, Change, FieldChange, Plan, Reason
from reconciler.views.human import NO_CHANGES, render_plan_human
from tests.views import plans

Golden = Callable[[str, str], None]


def test_golden_plain(golden: Golden) -> None:
    golden("plan_human.txt", render_plan_human(plans.representative_plan(), color=False))


def test_golden_color(golden: Golden) -> None:
    golden("plan_human_color.ansi", render_plan_human(plans.representative_plan(), color=True))


def test_golden_replacements(golden: Golden) -> None:
    golden("plan_replace_human.txt", render_plan_human(plans.replacement_plan(), color=False))


def test_a_replacement_lists_every_differing_field_and_marks_the_forcing_one() -> None:
    lines = [line.strip() for line in render_plan_human(plans.replacement_plan(), color=False).split("\n")]
    start = lines.index("-/+ provider.orkes.llm")
    block = lines[start : lines.index("", start)]
    assert block[2:] == [
        "~ configuration.api_key: (sensitive) -> (sensitive)",
        '~ configuration.endpoint: "https://api.openai.com" -> "https://llm.openai.azure.com"',
        "~ tags = [",
        '- {"key": "team", "value": "a"},',
        '+ {"key": "team", "value": "b"},',
        "]",
        '~ type: "openai" -> "azure_openai" # forces replacement',
    ]


def test_an_update_shows_a_removed_field_an_added_field_and_records_one_per_line() -> None:
    lines = [line.strip() for line in render_plan_human(plans.representative_plan(), color=False).split("\n")]
    start = lines.index("~ provider.orkes.anthropic")
    block = lines[start : lines.index("", start)]
    assert block[2:] == [
        "~ configuration.api_key: (sensitive) -> (sensitive)",
        '- configuration.base_url = "https://gateway.internal/anthropic"',
        '~ configuration.max_retries: "3" -> 5',
        "+ configuration.timeout = 30",
        "~ tags = [",
        '- {"key": "team", "value": "ml"},',
        '+ {"key": "team", "value": "ml-platform"},',
        '{"key": "env", "value": "prod"},',
        '+ {"key": "cost", "value": "42"},',
        "]",
    ]


def test_golden_show_noop(golden: Golden) -> None:
    golden("plan_human_noop.txt", render_plan_human(plans.representative_plan(), color=False, show_noop=True))


def test_summary_line_is_last_and_exact() -> None:
    text = render_plan_human(plans.representative_plan(), color=False)
    assert text.split("\n")[-1] == "Plan: 3 to add, 6 to change, 2 to replace, 2 to destroy."


def test_no_changes_line() -> None:
    text = render_plan_human(plans.noop_plan(), color=False)
    assert text.split("\n")[-1] == NO_CHANGES
    assert "Plan:" not in text
    assert "integration.kubiya.stable" not in text


def test_empty_plan_is_only_the_no_changes_line() -> None:
    assert render_plan_human(Plan(changes=()), color=False) == NO_CHANGES


@pytest.mark.parametrize(
    ("header", "comment"),
    [
        ("  + integration.kubiya.postgres-main", "# integration.kubiya.postgres-main will be created"),
        ("  ~ provider.orkes.openai", "# provider.orkes.openai will be updated in place"),
        ("-/+ provider.orkes.vectors", "# provider.orkes.vectors will be replaced (deleted, then created)"),
        ("  - provider.orkes.old-provider", "# provider.orkes.old-provider will be destroyed"),
        ("  + model.orkes.openai.gpt-4o", "# model.orkes.openai.gpt-4o will be created"),
        (
            '-/+ channel.console.agt_demo.mcp_server."Docs search"',
            '# channel.console.agt_demo.mcp_server."Docs search" will be replaced',
        ),
    ],
)
def test_header_and_comment_for_each_action(header: str, comment: str) -> None:
    lines = render_plan_human(plans.representative_plan(), color=False).split("\n")
    i = lines.index(header)
    assert lines[i + 1].strip().startswith(comment)


def test_every_reason_is_explained() -> None:
    text = render_plan_human(plans.representative_plan(), color=False, show_noop=True)
    text += render_plan_human(plans.replacement_plan(), color=False)
    for reason in Reason:
        assert reason.text in text, reason


def test_field_lines() -> None:
    lines = [line.strip() for line in render_plan_human(plans.representative_plan(), color=False).split("\n")]
    assert '+ description = "Main Postgres"' in lines
    assert '+ tags = ["db", "prod"]' in lines
    assert '~ configuration.endpoint: "https://api.openai.com/v1" -> "https://proxy.internal/v1"' in lines
    assert "~ enabled: false -> true" in lines
    assert '~ type: "pinecone" -> "weaviate" # forces replacement' in lines


def test_sensitive_fields_show_only_masks() -> None:
    lines = [line.strip() for line in render_plan_human(plans.representative_plan(), color=False).split("\n")]
    assert "+ config = (sensitive)" in lines
    assert "~ config.env_vars.REDIS_PASSWORD: (sensitive) -> (sensitive)" in lines
    assert "~ configuration.api_key: (sensitive) -> (sensitive)" in lines
    # The masked dict of the create carries a non-secret value; a sensitive field hides it all.
    assert "db.internal" not in "\n".join(lines)


def _one_change(*fields: FieldChange, action: Action = Action.UPDATE) -> Plan:
    address = Address(ResourceKind.INTEGRATION, "kubiya", (), "x")
    return Plan(changes=(Change(address, action, Reason.CHANGED, fields),))


def test_sensitive_field_holding_a_value_by_mistake_is_masked() -> None:
    plan = _one_change(FieldChange("token", "old-secret-value", "new-secret-value", True))
    text = render_plan_human(plan, color=False)
    assert "~ token: (sensitive) -> (sensitive)" in text
    assert "secret-value" not in text


def test_long_values_are_cut_at_200_characters() -> None:
    plan = _one_change(FieldChange("description", "short", "y" * 1000))
    line = next(x for x in render_plan_human(plan, color=False).split("\n") if "description" in x)
    after = line.split(" -> ")[1]
    assert len(after) == 200
    assert after.endswith("…")


def test_multiline_create_is_a_heredoc() -> None:
    plan = _one_change(FieldChange("config.script", None, "line one\nline two\n"), action=Action.CREATE)
    lines = render_plan_human(plan, color=False).split("\n")
    i = lines.index("      + config.script = <<EOT")
    assert [line.strip() for line in lines[i + 1 : i + 4]] == ["line one", "line two", "EOT"]


def test_multiline_update_is_a_line_diff_with_context() -> None:
    before = "\n".join(f"line {n}" for n in range(20))
    after = before.replace("line 10", "line ten")
    plan = _one_change(FieldChange("config.script", before, after))
    lines = [line.strip() for line in render_plan_human(plan, color=False).split("\n")]
    i = lines.index("~ config.script: <<EOT")
    body = lines[i + 1 : lines.index("EOT")]
    assert body == ["line 8", "line 9", "- line 10", "+ line ten", "line 11", "line 12"]


def test_long_multiline_value_is_bounded() -> None:
    text = "\n".join(f"row {n}" for n in range(500))
    plan = _one_change(FieldChange("config.data", None, text), action=Action.CREATE)
    out = render_plan_human(plan, color=False)
    assert "row 39" in out
    assert "row 40" not in out
    assert "(460 more lines)" in out


def test_control_characters_in_names_and_values_are_escaped() -> None:
    address = Address(ResourceKind.INTEGRATION, "kubiya", (), "evil\x1b[2Jname\u202e")
    change = Change(address, Action.CREATE, Reason.NEW, (FieldChange("note", None, "a\x9bb"),))
    out = render_plan_human(Plan(changes=(change,), unmanaged=(address,)), color=False)
    assert "\x1b" not in out
    assert "\u202e" not in out
    assert "\x9b" not in out
    assert "\\x1b[2Jname\\u202e" in out
    assert '+ note = "a\\x9bb"' in out


def test_no_ansi_without_color_and_ansi_with_it() -> None:
    plan = plans.representative_plan()
    plain = render_plan_human(plan, color=False)
    colored = render_plan_human(plan, color=True)
    assert "\x1b" not in plain
    assert "\x1b[32m+\x1b[0m \x1b[1mintegration.kubiya.postgres-main" in colored
    assert "\x1b[33m~\x1b[0m \x1b[1mprovider.orkes.openai" in colored
    assert "\x1b[35m-/+\x1b[0m \x1b[1mprovider.orkes.vectors" in colored
    assert "\x1b[31m-\x1b[0m \x1b[1mprovider.orkes.old-provider" in colored


def test_noop_hidden_unless_asked() -> None:
    plan = plans.representative_plan()
    assert "integration.kubiya.stable" not in render_plan_human(plan, color=False)
    shown = render_plan_human(plan, color=False, show_noop=True).split("\n")
    i = shown.index("    integration.kubiya.stable")
    assert "is up to date: matches the desired state" in shown[i + 1]


def test_unmanaged_orphaned_and_warnings_sections() -> None:
    lines = render_plan_human(plans.representative_plan(), color=False).split("\n")
    i = lines.index("Unmanaged (not touched):")
    assert lines[i + 1 : i + 3] == [
        '  channel.console.agt_demo.custom_api."a|b <c> `d`"',
        "  integration.kubiya.hand-made",
    ]
    j = lines.index("Orphaned (managed, not in the desired state; use --prune to delete):")
    assert lines[j + 1] == "  provider.orkes.forgotten"
    k = lines.index("Warnings:")
    assert lines[k + 1].startswith("  Warning: conductor.yaml:9:3: provider.orkes.gemini: write-only values")
    assert lines[k + 2] == "    hint: they are written, and fingerprinted, with the next update of this resource"


def test_sections_absent_when_empty() -> None:
    text = render_plan_human(plans.noop_plan(), color=False)
    assert "Unmanaged" not in text
    assert "Orphaned" not in text
    assert "Warnings" not in text


def test_legend_lists_only_markers_in_use() -> None:
    address = Address(ResourceKind.PROVIDER, "orkes", (), "p")
    plan = Plan(changes=(Change(address, Action.DELETE, Reason.PRUNE),))
    lines = render_plan_human(plan, color=False).split("\n")
    assert lines[:3] == [
        "Resource actions are indicated with the following symbols:",
        "  - destroy",
        "",
    ]
