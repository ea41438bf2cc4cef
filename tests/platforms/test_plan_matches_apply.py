"""Property: apply does exactly what the plan showed.

For random pairs of a live state (made by applying one desired state) and a new desired state,
on the in-process sandbox, across every kind (Kubiya integrations with env vars, vault secret
names and files; Conductor providers with their models; console channels), with fields added,
changed and removed, replacements by type and by a channel's lack of an update API:

- for an update or a replacement, the fields that differ between the server's copy before and
  after the apply are exactly the field changes the plan showed (same paths, same before and
  after values), and nothing the plan did not list changes;
- for a create (and the create half of a replacement that lists what it creates), what the
  plan showed is what the server holds afterwards: each shown field has the server's value,
  and the server holds no field the plan did not show;
- the plan's counts are the apply summary's.
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
from reconciler.live import connect
from reconciler.model import Address, Lifecycle, Resource, ResourceKind
from reconciler.plan import Action, Change, FieldChange
from reconciler.planner import make_plan
from reconciler.sandbox.transport import forget
from tests.platforms.test_roundtrip import chan, integ, model, prov, servers

_MISSING = object()


def _at(body: Mapping[str, Any], path: str) -> Any:
    value: Any = body
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _own(body: Mapping[str, Any], res: Resource, shown: Sequence[str] = ()) -> dict[str, Any]:
    """`body` without the configuration keys a server adds to a provider of its own (for
    some types, on create: `organizationId`): the desired state does not name them and no
    plan shows them. A key the plan shows (one it removes) is kept, on both sides."""
    out = dict(body)
    if res.address.kind is ResourceKind.PROVIDER and isinstance(body.get("configuration"), Mapping):
        named = set(res.body.get("configuration") or {}) | {
            p.split(".")[1] for p in shown if p.startswith("configuration.")
        }
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


_REPLACE_ON_TYPE = Lifecycle(replace_on_type_change=True)
_VALUES = st.sampled_from(["1", "2"])


def _integration(draw: st.DrawFn, name: str) -> Resource:
    env = draw(st.dictionaries(st.sampled_from(["HOST", "PORT", "MODE", "DB_PASSWORD"]), _VALUES, max_size=3))
    config: dict[str, Any] = {"env_vars": env}
    secrets = draw(st.lists(st.sampled_from(["PG_PASSWORD", "PG_REPLICA_PASSWORD"]), unique=True, max_size=2))
    if secrets:
        config["secrets"] = secrets
    files = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "path": st.sampled_from(["/etc/ssl/ca.pem", "/etc/app.conf"]),
                    "content": st.sampled_from(["one\n", "two\nlines\n"]),
                    "mode": st.sampled_from(["0644", "0600"]),
                }
            ),
            unique_by=lambda f: f["path"],
            max_size=2,
        )
    )
    if files:
        config["files"] = files
    res = integ(
        name,
        type=draw(st.sampled_from(["postgres", "mysql"])),
        description=draw(st.sampled_from(["db", "primary db"])),
        config=config,
        tags=draw(st.lists(st.sampled_from(["team", "prod"]), unique=True, max_size=2)),
    )
    return Resource(res.address, res.body, lifecycle=_REPLACE_ON_TYPE)


def _provider(draw: st.DrawFn) -> Resource:
    endpoint = draw(st.sampled_from([None, "https://a.example/v1", "https://b.example/v1"]))
    p = prov(
        "p",
        key=draw(st.sampled_from(["sk-one", "sk-two"])),
        type=draw(st.sampled_from(["openai", "azure_openai"])),
        description=draw(st.sampled_from(["", "llm"])),
        enabled=draw(st.booleans()),
        tags=draw(
            st.lists(
                st.sampled_from([{"key": "team", "value": "ml"}, {"key": "env", "value": "prod"}]),
                unique_by=lambda t: t["key"],
                max_size=2,
            )
        ),
    )
    configuration: dict[str, Any] = dict(p.body["configuration"])
    if endpoint is not None:
        configuration["endpoint"] = endpoint
    body = {**p.body, "configuration": configuration}
    return Resource(p.address, body, lifecycle=_REPLACE_ON_TYPE, write_only=p.write_only)


def _state(draw: st.DrawFn) -> list[Resource]:
    resources = [_integration(draw, name) for name in sorted(draw(st.sets(st.sampled_from(["a", "b"]), min_size=1)))]
    if draw(st.booleans()):
        resources.append(_provider(draw))
        for m in sorted(draw(st.sets(st.sampled_from(["m1", "m2"])))):
            resources.append(
                model(
                    "p",
                    m,
                    enabled=draw(st.booleans()),
                    description=draw(st.sampled_from(["chat", "embeddings"])),
                )
            )
    for c in sorted(draw(st.sets(st.sampled_from(["docs", "wiki"])))):
        resources.append(
            chan(
                c,
                server_url=draw(st.sampled_from(["https://mcp.example.com", "https://mcp.example.com/v2"])),
                transport=draw(st.sampled_from(["streamable_http", "http_sse"])),
            )
        )
    return resources


states = st.composite(_state)


def _created_fields(change: Change, row: Mapping[str, Any], res: Resource) -> None:
    """What the plan showed for a create is what the server holds."""
    shown = {f.path: f for f in change.fields}
    for path, field in shown.items():
        if field.sensitive or diff.covered(path, res.write_only):
            continue  # a secret: never shown, and write-only fields are not read back
        held = _at(row, path)
        assert held is not _MISSING, (str(change.address), path, "shown, but the server does not hold it")
        assert diff.values_equal(field.after, held), (str(change.address), path, field.after, held)
    held_fields: tuple[FieldChange, ...] = diff.creation_fields(_own(row, res))
    unshown = [f.path for f in held_fields if f.path not in shown and not diff.covered(f.path, res.write_only)]
    assert unshown == [], (str(change.address), "the server holds fields the plan did not show", unshown)


# Each example applies twice to a fresh sandbox (about a second): a tenth of the profile's
# examples, 5 in the everyday run and 50 with HYPOTHESIS_PROFILE=thorough.
@settings(
    max_examples=max(5, settings().max_examples // 10),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
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
        res = wanted[address]
        if change.action is Action.CREATE:
            assert address not in before
            assert address in after
            _created_fields(change, after[address], res)
            continue
        # Updates and replacements: the fields that moved are the fields the plan showed.
        paths = [f.path for f in change.fields]
        written = diff.diff(
            _own(after[address], res, paths), _own(before[address], res, paths), write_only=res.write_only
        )
        # Secret fields compare by path: both sides hold only their masks. A write-only field
        # (a provider's api_key) is never read back, so its rotation is not seen in the rows.
        moved = {f.path: (f.before, f.after) for f in written}
        shown = {f.path: (f.before, f.after) for f in change.fields if not diff.covered(f.path, res.write_only)}
        if change.action is Action.REPLACE and not moved and all(b is None for b, _ in shown.values()):
            # Nothing differs: a replacement then lists what it will create.
            _created_fields(change, after[address], res)
            continue
        assert moved == shown, (str(address), change.action)
