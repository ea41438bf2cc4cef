"""The Markdown plan comment: layout, escaping (checked by rendering it), the size bound."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from markdown_it import MarkdownIt

from reconciler.errors import Location, error, warning
from reconciler.model import Address, ResourceKind
from reconciler.plan import Action, Change, FieldChange, Plan, Reason
from reconciler.views.human import render_diagnostics
from reconciler.views.markdown import code_span, escape_text, render_plan_markdown
from tests.views import plans

Golden = Callable[[str, str], None]


def to_html(markdown: str) -> str:
    html: str = MarkdownIt("commonmark").enable("table").render(markdown)
    return html


def test_golden(golden: Golden) -> None:
    golden("plan.md", render_plan_markdown(plans.representative_plan()))


def test_golden_replacements(golden: Golden) -> None:
    golden("plan_replace.md", render_plan_markdown(plans.replacement_plan()))


def test_title_table_and_server_blocks() -> None:
    text = render_plan_markdown(plans.representative_plan())
    assert text.startswith("### Reconciler plan: 3 to add, 6 to change, 2 to replace, 2 to destroy\n")
    page = to_html(text)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", page)
    assert cells[:8] == [
        "🟢 <code>+</code> add", "3",
        "🟡 <code>~</code> change", "6",
        "🟣 <code>-/+</code> replace", "2",
        "🔴 <code>-</code> destroy", "2",
    ]  # fmt: skip
    for server, n in (("console", 2), ("kubiya", 5), ("orkes", 6)):
        assert f"<details><summary><b>{server}</b>: {n} changes" in text
    assert text.count("<details>") == text.count("</details>") == 6


def test_field_diff_block() -> None:
    text = render_plan_markdown(plans.representative_plan())
    block = (
        "  ```diff\n"
        '  - configuration.endpoint = "https://api.openai.com/v1"\n'
        '  + configuration.endpoint = "https://proxy.internal/v1"\n'
        '  - description = "OpenAI"\n'
        '  + description = "OpenAI (proxied)"\n'
        "  - enabled = false\n"
        "  + enabled = true\n"
        "  ```\n"
    )
    assert block in text
    assert "  + config = (sensitive)\n" in text
    assert "  - config.env_vars.REDIS_PASSWORD = (sensitive)\n" in text


def test_no_changes() -> None:
    text = render_plan_markdown(plans.noop_plan())
    assert text == "### Reconciler plan: no changes\n\nThe live state matches the desired state."


def test_tricky_names_render_literally() -> None:
    page = to_html(render_plan_markdown(plans.representative_plan()))
    assert "<code>channel.console.agt_demo.custom_api.&quot;a|b &lt;c&gt; `d`&quot;</code>" in page
    assert "<c>" not in page


def test_server_name_and_free_text_are_escaped() -> None:
    address = Address(ResourceKind.INTEGRATION, "<script>x</script>", (), "n*a_m|e")
    plan = Plan(
        changes=(Change(address, Action.CREATE, Reason.NEW, (FieldChange("a", None, "```"),)),),
        diagnostics=(warning("w", "a *bold* | <b>claim</b> `tick`"),),
    )
    text = render_plan_markdown(plan)
    page = to_html(text)
    assert "<script>" not in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page
    assert "<em>" not in page
    assert "<b>claim</b>" not in page
    assert "a *bold* | &lt;b&gt;claim&lt;/b&gt; `tick`" in page
    # The value's backticks cannot close the code block: the fence is longer than them.
    assert '  ````diff\n  + a = "```"\n  ````\n' in text


def test_diagnostics_use_the_words_of_the_terminal() -> None:
    diags = (
        error("e", "bad value", location=Location("a.yaml", 2, 3), address="integration.kubiya.x", hint="fix it"),
        warning("w", "odd value", address="integration.kubiya.y"),
    )
    text = render_plan_markdown(Plan(changes=(), diagnostics=diags, servers=("kubiya",)))
    terminal = render_diagnostics(diags, color=False).split("\n")
    assert terminal[0] == "Error: a.yaml:2:3: bad value [integration.kubiya.x]"
    assert "- ❌ **Error:** a.yaml:2:3: bad value \\[integration.kubiya.x\\]<br>hint: fix it\n" in text
    assert "Warning: integration.kubiya.y: odd value" in terminal
    assert text.endswith("- ⚠️ **Warning:** integration.kubiya.y: odd value")
    assert "error:" not in text
    assert "warning:" not in text


def test_an_update_shows_added_and_removed_fields_and_records_one_per_line() -> None:
    text = render_plan_markdown(plans.representative_plan())
    block = (
        "  - configuration.base_url = \"https://gateway.internal/anthropic\"\n"
        "  - configuration.max_retries = \"3\"\n"
        "  + configuration.max_retries = 5\n"
        "  + configuration.timeout = 30\n"
        "    tags = [\n"
        '  -     {"key": "team", "value": "ml"},\n'
        '  +     {"key": "team", "value": "ml-platform"},\n'
        '        {"key": "env", "value": "prod"},\n'
        '  +     {"key": "cost", "value": "42"},\n'
        "      ]\n"
    )
    assert block in text
    assert "configuration.base_url = null" not in text


def test_code_span_and_escape_helpers() -> None:
    assert code_span("plain") == "`plain`"
    assert code_span("a`b") == "``a`b``"
    assert code_span("`x`") == "`` `x` ``"
    assert escape_text("a|b <c> & `d` *e*") == "a\\|b &lt;c&gt; &amp; \\`d\\` \\*e\\*"


def _change_items(text: str) -> int:
    return sum(1 for line in text.split("\n") if line.startswith("- 🟢 "))


def test_five_thousand_changes_stay_under_the_limit() -> None:
    plan = plans.big_plan(5_000)
    text = render_plan_markdown(plan)
    assert len(text) <= 60_000
    shown = _change_items(text)
    assert 0 < shown < 5_000
    assert f"> **Note:** {5_000 - shown} of 5000 changes are not shown" in text
    assert text.count("<details>") == text.count("</details>")
    assert text.count("```") % 2 == 0
    # Every server is still named with its count, even when none of its changes fit.
    for server in ("kubiya-0", "kubiya-1", "kubiya-2"):
        assert f"<details><summary><b>{server}</b>: 16" in text


@pytest.mark.parametrize("limit", [2_000, 7_919, 30_000, 65_536])
def test_limit_holds_for_any_bound(limit: int) -> None:
    plan = plans.big_plan(1_000)
    text = render_plan_markdown(plan, max_chars=limit)
    assert len(text) <= limit
    shown = _change_items(text)
    if shown < 1_000:
        assert f"{1_000 - shown} of 1000 changes are not shown" in text


def test_long_address_lists_are_cut() -> None:
    unmanaged = tuple(Address(ResourceKind.INTEGRATION, "kubiya", (), f"hand-made-{i:05d}") for i in range(5_000))
    text = render_plan_markdown(Plan(changes=(), unmanaged=unmanaged), max_chars=10_000)
    assert len(text) <= 10_000
    listed = sum(1 for line in text.split("\n") if line.startswith("- `integration"))
    assert f"- … {5_000 - listed} more not shown" in text
    assert "Unmanaged (5000): not touched" in text


def test_a_change_with_many_fields_is_cut() -> None:
    address = Address(ResourceKind.INTEGRATION, "kubiya", (), "wide")
    fields = tuple(FieldChange(f"config.env_vars.V{i:03d}", None, str(i)) for i in range(100))
    text = render_plan_markdown(Plan(changes=(Change(address, Action.CREATE, Reason.NEW, fields),)))
    assert "V029" in text
    assert "V030" not in text
    assert "… 70 more fields" in text


def test_too_small_a_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="at least"):
        render_plan_markdown(plans.noop_plan(), max_chars=100)
