"""Property: apply does exactly what the plan showed.

For random pairs of a live state (made by applying one desired state) and a new desired state,
on the in-process sandbox: the fields that differ between the server's copy before and after
the apply are exactly the field changes the plan showed (same paths, same before and after
values), nothing the plan did not list changes, and the plan's counts are the apply summary's.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler import diff
from reconciler.apply import apply
from reconciler.model import Address, Lifecycle, Resource, ResourceKind
from reconciler.plan import Action
from reconciler.planner import make_plan
from reconciler.platforms import connect
from reconciler.sandbox.transport import forget
from tests.platforms.test_roundtrip import integ, model, prov, servers

_MISSING = object()


def _at(body: Mapping[str, Any], path: str) -> Any:
    value: Any = body
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _own(body: Mapping[str, Any], res: Resource) -> dict[str, Any]:
    """`body` without the configuration keys a server adds to a provider of its own (for
    some types, on create): the desired state does not name them and no plan shows them."""
    out = dict(body)
    if res.address.kind is ResourceKind.PROVIDER and isinstance(body.get("configuration"), Mapping):
        named = res.body.get("configuration") or {}
        out["configuration"] = {k: v for k, v in body["configuration"].items() if k in named}
    return out


async def _live(url: str, desired: Sequence[Resource]) -> dict[Address, Mapping[str, Any]]:
    out: dict[Address, Mapping[str, Any]] = {}
    for name, server in servers(url).items():
        platform = connect(server)
        try:
            scope = [platform.prepare(r) for r in desired if r.address.server == name]
            out.update({item.address: item.body for item in await platform.read(scope) if not item.deleted})
        finally:
            await platform.aclose()
    return out


async def _plan_and_apply(url: str, desired: Sequence[Resource]) -> tuple[Any, Any]:
    platforms = {n: connect(s) for n, s in servers(url).items()}
    try:
        prepared = [platforms[r.address.server].prepare(r) for r in desired]
        live = []
        for n, p in platforms.items():
            live.extend(await p.read([r for r in prepared if r.address.server == n]))
        plan = make_plan(prepared, live)
        return plan, await apply(plan, platforms)
    finally:
        for p in platforms.values():
            await p.aclose()


def _state(draw: st.DrawFn) -> list[Resource]:
    resources = []
    for name in draw(st.sets(st.sampled_from(["a", "b"]), min_size=1)):
        env = draw(st.dictionaries(st.sampled_from(["HOST", "PORT", "MODE"]), st.sampled_from(["1", "2"]), max_size=2))
        res = integ(
            name,
            type=draw(st.sampled_from(["postgres", "mysql"])),
            description=draw(st.sampled_from(["db", "primary db"])),
            config={"env_vars": env},
            tags=draw(st.lists(st.sampled_from(["team", "prod"]), unique=True, max_size=2)),
        )
        resources.append(Resource(res.address, res.body, lifecycle=Lifecycle(replace_on_type_change=True)))
    p = prov(
        "p",
        type=draw(st.sampled_from(["openai", "azure_openai"])),
        description=draw(st.sampled_from(["", "llm"])),
        enabled=draw(st.booleans()),
    )
    resources.append(Resource(p.address, p.body, lifecycle=Lifecycle(replace_on_type_change=True), write_only=p.write_only))
    for m in draw(st.sets(st.sampled_from(["m1", "m2"]))):
        resources.append(model("p", m, enabled=draw(st.booleans())))
    return resources


states = st.composite(_state)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=states(), second=states())
def test_apply_writes_exactly_the_planned_fields_and_counts_them_alike(
    first: list[Resource], second: list[Resource]
) -> None:
    url = f"sandbox:{Path(tempfile.mkdtemp()) / 's.db'}"
    try:
        _, setup = asyncio.run(_plan_and_apply(url, first))
        assert setup.ok
        before = asyncio.run(_live(url, second))
        plan, result = asyncio.run(_plan_and_apply(url, second))
        after = asyncio.run(_live(url, second))
    finally:
        forget(url)

    assert result.ok
    s, a = plan.summary(), result.summary()
    assert (s.add, s.change, s.replace, s.destroy) == (a.added, a.changed, a.replaced, a.destroyed)

    changes = {c.address: c for c in plan.actionable}
    wanted = {r.address: r for r in second}
    for address in before.keys() | after.keys():
        change = changes.get(address)
        if change is None:
            assert before.get(address) == after.get(address), f"{address} changed without a planned change"
            continue
        if change.action is Action.DELETE:
            assert address not in after
            continue
        if change.action is Action.CREATE:
            assert address not in before and address in after
            continue
        # Updates and replacements: the fields that moved are the fields the plan showed.
        res = wanted[address]
        written = diff.diff(_own(after[address], res), _own(before[address], res), write_only=res.write_only)
        moved = {f.path: (f.before, f.after) for f in written}
        shown = {f.path: (f.before, f.after) for f in change.fields if not f.sensitive}
        if not moved and all(before is None for before, _ in shown.values()):
            # Nothing differs: a replacement then lists what it will create.
            continue
        assert moved == shown, (str(address), change.action)
