"""Plan renderings aligned with Terraform's: a list of records one record per line without the
defaults the server fills in, removals as `- key`, and multi-line diffs without lines of spaces.
Checked on both views a person reads (human and Markdown)."""

from __future__ import annotations

from reconciler.model import Address, ResourceKind
from reconciler.plan import Action, Change, FieldChange, Plan, Reason
from reconciler.views.human import render_plan_human
from reconciler.views.markdown import render_plan_markdown

PG = Address(ResourceKind.INTEGRATION, "kubiya", (), "pg")
# As the Kubiya adapter normalizes them: every field present, defaults filled in.
FILES = [
    {"path": "/etc/a.conf", "content": None, "secret_ref": None, "mode": "0600", "description": None},
    {"path": "/etc/b.conf", "content": "hello", "secret_ref": None, "mode": "0644", "description": None},
]


def _plan(*changes: Change) -> Plan:
    return Plan(changes=changes)


def test_a_created_list_of_records_is_one_record_per_line_without_defaults() -> None:
    plan = _plan(Change(PG, Action.CREATE, Reason.NEW, (FieldChange("config.files", None, FILES),)))
    human = render_plan_human(plan, color=False).split("\n")
    start = human.index("      + config.files = [")
    assert human[start : start + 4] == [
        "      + config.files = [",
        '          + {"path": "/etc/a.conf", "mode": "0600"},',
        '          + {"path": "/etc/b.conf", "content": "hello"},',
        "        ]",
    ]
    markdown = render_plan_markdown(plan)
    assert (
        "  + config.files = [\n"
        '  +     {"path": "/etc/a.conf", "mode": "0600"},\n'
        '  +     {"path": "/etc/b.conf", "content": "hello"},\n'
        "  +   ]\n"
    ) in markdown
    assert "null" not in "\n".join(human) + markdown


def test_a_record_an_update_adds_is_a_plus_line_without_defaults() -> None:
    change = Change(PG, Action.UPDATE, Reason.CHANGED, (FieldChange("config.files[2]", None, FILES[0]),))
    human = render_plan_human(_plan(change), color=False)
    assert '      + config.files[2] = {"path": "/etc/a.conf", "mode": "0600"}' in human.split("\n")
    markdown = render_plan_markdown(_plan(change))
    assert '  + config.files[2] = {"path": "/etc/a.conf", "mode": "0600"}\n  ```' in markdown
    assert "null" not in human + markdown


def test_a_removal_is_one_minus_line_on_every_view() -> None:
    change = Change(
        PG,
        Action.UPDATE,
        Reason.CHANGED,
        (FieldChange("config.env_vars.EXTRA", "x", None), FieldChange("config.files", FILES, None)),
    )
    human = render_plan_human(_plan(change), color=False).split("\n")
    assert '      - config.env_vars.EXTRA = "x"' in human
    assert "      - config.files = [" in human
    markdown = render_plan_markdown(_plan(change))
    assert '  - config.env_vars.EXTRA = "x"\n  - config.files = [\n' in markdown
    assert "+ config.env_vars.EXTRA" not in markdown
    assert "-> null" not in "\n".join(human)


def test_a_multi_line_diff_never_ends_with_a_line_of_spaces() -> None:
    change = Change(
        PG,
        Action.UPDATE,
        Reason.CHANGED,
        (FieldChange("config.context_prompt", "one\ntwo\n\nthree\n", "one\n2\n\nthree\n"),),
    )
    human = render_plan_human(_plan(change), color=False).split("\n")
    start = human.index("      ~ config.context_prompt: <<EOT")
    block = human[start : human.index("        EOT", start) + 1]
    assert block == [
        "      ~ config.context_prompt: <<EOT",
        "              one",
        "            - two",
        "            + 2",
        "",
        "              three",
        "        EOT",
    ]
    assert not [line for line in human if line and not line.strip()]
