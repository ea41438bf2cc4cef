"""The human apply result view and the diagnostics view."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from reconciler.errors import Location, error, warning
from reconciler.model import Address, ResourceKind
from reconciler.outcomes import ApplyResult, Done, Failed, Skipped
from reconciler.plan import Action, Change, Reason
from reconciler.views.human import render_apply_human, render_diagnostics
from tests.views import plans

Golden = Callable[[str, str], None]


@pytest.mark.parametrize("name", ["success", "simple_success", "partial_failure", "interrupted"])
def test_golden(name: str, golden: Golden) -> None:
    result = getattr(plans, f"{name}_result")()
    golden(f"apply_{name}.txt", render_apply_human(result, color=False))


def test_golden_color(golden: Golden) -> None:
    golden("apply_partial_failure_color.ansi", render_apply_human(plans.partial_failure_result(), color=True))


def _change(action: Action, name: str = "x") -> Change:
    return Change(Address(ResourceKind.INTEGRATION, "kubiya", (), name), action, Reason.CHANGED)


@pytest.mark.parametrize(
    ("result", "line"),
    [
        (ApplyResult(()), "Apply complete: 0 added, 0 changed, 0 replaced, 0 destroyed."),
        (
            ApplyResult((Done(_change(Action.CREATE)), Done(_change(Action.UPDATE)), Done(_change(Action.DELETE)))),
            "Apply complete: 1 added, 1 changed, 0 replaced, 1 destroyed.",
        ),
        (
            ApplyResult((Done(_change(Action.REPLACE)), Done(_change(Action.UPDATE)))),
            "Apply complete: 0 added, 1 changed, 1 replaced, 0 destroyed.",
        ),
        (
            ApplyResult((Done(_change(Action.CREATE)), Failed(_change(Action.UPDATE), "boom"))),
            "Apply failed: 1 added, 0 changed, 0 replaced, 0 destroyed; 1 failed, 0 skipped.",
        ),
        (
            ApplyResult((Done(_change(Action.REPLACE)), Skipped(_change(Action.DELETE), "dependency failed"))),
            "Apply failed: 0 added, 0 changed, 1 replaced, 0 destroyed; 0 failed, 1 skipped.",
        ),
        (
            ApplyResult((Done(_change(Action.DELETE)), Skipped(_change(Action.CREATE), "interrupted")), True),
            "Apply interrupted: 0 added, 0 changed, 0 replaced, 1 destroyed; 0 failed, 1 skipped.",
        ),
        (
            ApplyResult((Done(_change(Action.DELETE)),), interrupted=True),
            "Apply interrupted: 0 added, 0 changed, 0 replaced, 1 destroyed; 0 failed, 0 skipped.",
        ),
    ],
)
def test_summary_line(result: ApplyResult, line: str) -> None:
    assert render_apply_human(result, color=False).split("\n")[-1] == line


def test_one_line_per_outcome() -> None:
    lines = render_apply_human(plans.partial_failure_result(), color=False).split("\n")
    assert "✓ provider.orkes.old-provider: destroyed (id old-provider)" in lines
    assert "✗ provider.orkes.openai: update failed: server error: upstream unavailable (HTTP 503)" in lines
    assert "- model.orkes.openai.gpt-4o: create skipped: depends on provider.orkes.openai, which failed" in lines


def test_failures_grouped_by_message() -> None:
    lines = render_apply_human(plans.partial_failure_result(), color=False).split("\n")
    i = lines.index("Failures (3):")
    group = lines.index("  server error: upstream unavailable (HTTP 503)")
    assert group > i
    assert lines[group + 1 : group + 3] == ["    provider.orkes.openai", "    provider.orkes.vectors"]
    assert any("may have been carried out" in line and "reconciler plan" in line for line in lines)


def test_ascii_markers() -> None:
    text = render_apply_human(plans.partial_failure_result(), color=False, unicode=False)
    assert not any(m in text for m in "✓✗")
    assert "ok provider.orkes.old-provider: destroyed" in text
    assert "FAIL provider.orkes.openai: update failed" in text
    assert "skip model.orkes.openai.gpt-4o: create skipped" in text


def test_color_only_when_asked() -> None:
    result = plans.partial_failure_result()
    assert "\x1b" not in render_apply_human(result, color=False)
    colored = render_apply_human(result, color=True)
    assert "\x1b[32m✓\x1b[0m provider.orkes.old-provider" in colored
    assert "\x1b[31m✗\x1b[0m provider.orkes.openai" in colored
    assert "\x1b[33m-\x1b[0m model.orkes.openai.gpt-4o" in colored


DIAGS = [
    error("yaml.duplicate-key", "duplicate key 'name'", location=Location("a.yaml", 4, 3), hint="remove one"),
    warning("plan.unused", "variable 'x' is never used", address="integration.kubiya.x"),
    error("schema.type", "expected a string", location=Location("b.yaml", 1, 1)),
]


def test_diagnostics_plain(golden: Golden) -> None:
    text = render_diagnostics(DIAGS, color=False)
    assert text.split("\n") == [
        "Error: a.yaml:4:3: duplicate key 'name'",
        "  hint: remove one",
        "Warning: integration.kubiya.x: variable 'x' is never used",
        "Error: b.yaml:1:1: expected a string",
        "2 error(s), 1 warning(s)",
    ]
    golden("diagnostics.txt", text)


def test_diagnostics_show_the_source_line_with_a_caret_and_mask_secrets() -> None:
    source = {
        "a.yaml": ("servers:", "  k:", "\tname: x", "    token: sk-literal-1234"),
    }
    diags = [
        error("yaml.tab", "tab", location=Location("a.yaml", 3, 2)),
        error("secret.literal", "literal", location=Location("a.yaml", 4, 12)),
    ]
    lines = render_diagnostics(diags, color=False, source=source.get).split("\n")
    assert lines[1:3] == ["  3 |     name: x", "    |     ^"]
    assert lines[4:6] == ["  4 |     token: (sensitive)", "    |            ^"]
    assert "sk-literal-1234" not in "\n".join(lines)


def test_diagnostics_color() -> None:
    lines = render_diagnostics(DIAGS, color=True).split("\n")
    assert lines[0] == "\x1b[31;1mError: a.yaml:4:3: duplicate key 'name'\x1b[0m"
    assert lines[2] == "\x1b[33;1mWarning: integration.kubiya.x: variable 'x' is never used\x1b[0m"


def test_no_diagnostics() -> None:
    assert render_diagnostics([], color=False) == "0 error(s), 0 warning(s)"
