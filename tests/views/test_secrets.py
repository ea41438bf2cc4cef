"""No view ever shows a secret: desired resources hold `Sensitive` values, and the views must
neither read them nor print a sensitive field's contents."""

from __future__ import annotations

import io

from rich.console import Console

from reconciler.model import Address, Resource, ResourceKind, Sensitive
from reconciler.outcomes import ApplyResult, Done
from reconciler.plan import Action, Change, FieldChange, Plan, Reason
from reconciler.views import (
    ProgressObserver,
    render_apply_human,
    render_apply_json,
    render_plan_human,
    render_plan_json,
    render_plan_markdown,
)
from tests.views import plans

SECRET = plans.SECRET


def _plan() -> Plan:
    base = plans.representative_plan()
    address = Address(ResourceKind.PROVIDER, "orkes", (), "leaky")
    leaky = Change(
        address,
        Action.UPDATE,
        Reason.CHANGED,
        # A sensitive field that wrongly carries the value: the views must mask it anyway.
        (FieldChange("configuration.api_key", SECRET + "-old", SECRET, True),),
        desired=Resource(address, {"configuration": {"api_key": Sensitive(SECRET)}}),
    )
    return Plan(
        changes=(*base.changes, leaky),
        unmanaged=base.unmanaged,
        orphaned=base.orphaned,
        diagnostics=base.diagnostics,
        sources={"variables": {"api_key": Sensitive(SECRET)}},
        servers=base.servers,
    )


def _sensitives(value: object) -> list[Sensitive]:
    if isinstance(value, Sensitive):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _sensitives(v)]
    return []


def test_the_plan_really_holds_the_secret() -> None:
    # Without this the tests below would pass vacuously.
    holders = [
        c for c in _plan().changes
        if c.desired is not None and any(s.reveal() == SECRET for s in _sensitives(dict(c.desired.body)))
    ]  # fmt: skip
    assert len(holders) >= 4


def test_no_plan_view_shows_the_secret() -> None:
    plan = _plan()
    outputs = {
        "human": render_plan_human(plan, color=False),
        "human color": render_plan_human(plan, color=True),
        "human noop": render_plan_human(plan, color=False, show_noop=True),
        "json": render_plan_json(plan),
        "markdown": render_plan_markdown(plan),
    }
    for name, text in outputs.items():
        assert "configuration.api_key" in text, name  # the field is listed...
        assert SECRET not in text, name  # ...its value is not


def test_no_apply_view_shows_the_secret() -> None:
    result = ApplyResult(tuple(Done(c) for c in _plan().actionable))
    out = io.StringIO()
    observer = ProgressObserver(Console(file=out, force_terminal=True, width=100))
    observer.started(len(result.outcomes))
    for o in result.outcomes:
        observer.outcome(o)
    observer.close()
    for text in (render_apply_human(result, color=False), render_apply_json(result), out.getvalue()):
        assert "provider.orkes.leaky" in text
        assert SECRET not in text
