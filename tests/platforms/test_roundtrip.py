"""Adapters + planner + apply against the in-process sandbox, with resources built by hand.

Each test plans, applies, and plans again: after a successful apply the second plan must be
empty. This exercises the real client code over HTTP (an httpx transport into the sandbox).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import httpx
import pytest

from reconciler.apply import apply
from reconciler.desired import DesiredState
from reconciler.live import Sources, connect, connect_run
from reconciler.model import Address, Lifecycle, Resource, ResourceKind, Sensitive, ServerConfig, ServerKind
from reconciler.outcomes import ApplyResult, Done, Failed
from reconciler.plan import Action, Plan, Reason
from reconciler.planner import PlanOptions, make_plan
from reconciler.platforms import Platform
from reconciler.platforms.retry import RetryPolicy
from reconciler.sandbox.transport import transport


def servers(url: str) -> dict[str, ServerConfig]:
    return {
        "k": ServerConfig("k", ServerKind.KUBIYA, url),
        "o": ServerConfig("o", ServerKind.CONDUCTOR, url, batch_size=2),
        "c": ServerConfig("c", ServerKind.CONSOLE, url),
    }


def integ(name: str, **over: object) -> Resource:
    body: dict[str, Any] = {"type": "postgres", "description": "db", "config": {"env_vars": {"PGHOST": "h"}}, "tags": ["team"]}
    body.update(over)
    return Resource(Address(ResourceKind.INTEGRATION, "k", (), name), body)


def prov(name: str, key: str = "sk-one", **over: object) -> Resource:
    body: dict[str, Any] = {
        "type": "openai",
        "category": "AI_MODEL",
        "description": "",
        "enabled": True,
        "configuration": {"api_key": Sensitive(key)},
        "tags": [{"key": "team", "value": "ml"}],
    }
    body.update(over)
    return Resource(Address(ResourceKind.PROVIDER, "o", (), name), body, write_only=("configuration.api_key",))


def model(provider: str, name: str, **over: object) -> Resource:
    body: dict[str, Any] = {"description": name, "enabled": True, "configuration": {}}
    body.update(over)
    return Resource(Address(ResourceKind.MODEL, "o", (provider,), name), body)


def chan(name: str, **over: object) -> Resource:
    body: dict[str, Any] = {"server_url": "https://mcp.example.com", "transport": "streamable_http", "auth_type": "none"}
    body.update(over)
    return Resource(Address(ResourceKind.CHANNEL, "c", ("agt_demo", "mcp_server"), name), body)


class Harness:
    """Plans and applies resources built by hand through the tool's own pipeline
    (`live.connect_run`: connect, warm, prepare, read; then the planner and apply); `retry`:
    the retry policy every server's requests use."""

    def __init__(self, url: str, retry: RetryPolicy | None = None) -> None:
        self.servers = servers(url)
        self.retry = retry

    async def plan(
        self, desired: Sequence[Resource], options: PlanOptions | None = None
    ) -> tuple[Plan, dict[str, Platform]]:
        state = DesiredState(self.servers, tuple(desired))
        run = await connect_run(state, Sources(()), retry=self.retry)
        return make_plan(run.prepared, run.live, options), run.platforms

    async def converge(
        self, desired: Sequence[Resource], options: PlanOptions | None = None
    ) -> tuple[Plan, ApplyResult, Plan]:
        plan, platforms = await self.plan(desired, options)
        result = await apply(plan, platforms)
        for p in platforms.values():
            await p.aclose()
        again, platforms = await self.plan(desired, options)
        for p in platforms.values():
            await p.aclose()
        return plan, result, again


run = asyncio.run


def test_create_everything_then_no_changes(url: str) -> None:
    h = Harness(url)
    desired = [
        integ("pg"),
        prov("p1"),
        model("p1", "gpt-4o"),
        model("p1", "cfg", configuration={"x": "1"}),
        prov("p2"),
        prov("p3"),
        chan("docs"),
    ]
    plan, result, again = run(h.converge(desired))
    assert plan.summary().add == len(desired)
    assert result.ok, [o for o in result.outcomes if not isinstance(o, Done)]
    assert result.summary().added == len(desired)
    assert not again.has_changes, [(str(c.address), c.fields) for c in again.actionable]


def test_updates_and_secret_rotation_detected_by_fingerprint(url: str) -> None:
    h = Harness(url)
    run(h.converge([integ("pg"), prov("p1")]))
    plan, result, again = run(h.converge([integ("pg", description="changed"), prov("p1", key="sk-two")]))
    changes = {str(c.address): c for c in plan.actionable}
    assert changes["integration.k.pg"].action is Action.UPDATE
    assert changes["provider.o.p1"].reason is Reason.WRITE_ONLY_CHANGED
    assert "sk-two" not in repr(plan.to_dict())
    assert "sk-one" not in repr(plan.to_dict())
    assert result.ok
    assert not again.has_changes


def test_tag_removal_and_model_update(url: str) -> None:
    h = Harness(url)
    run(h.converge([prov("p1"), model("p1", "m")]))
    plan, result, again = run(h.converge([prov("p1", tags=[]), model("p1", "m", description="new")]))
    assert {c.action for c in plan.actionable} == {Action.UPDATE}
    assert result.ok
    assert not again.has_changes


def test_soft_deleted_name_is_revived(url: str) -> None:
    h = Harness(url)
    run(h.converge([integ("pg")]))
    # Someone soft-deletes it behind our back.
    plan, platforms = run(h.plan([integ("pg")]))
    pid = next(c.live_id for c in plan.changes)
    run(platforms["k"].aclose())

    async def soft_delete() -> None:

        async with httpx.AsyncClient(transport=transport(url), base_url="http://s") as c:
            r = await c.delete(
                f"/api/v1/custom-integrations/{pid}", headers={"Authorization": "Bearer sandbox-kubiya-token"}
            )
            assert r.status_code == 204

    run(soft_delete())
    plan, result, again = run(h.converge([integ("pg")]))
    (change,) = plan.actionable
    assert change.action is Action.CREATE
    assert change.reason is Reason.REVIVE
    assert result.ok
    assert not again.has_changes


def test_prune_deletes_only_managed(url: str) -> None:
    h = Harness(url)
    run(h.converge([integ("a"), integ("b"), prov("p1"), model("p1", "m1"), model("p1", "m2")]))
    options = PlanOptions(prune_servers=frozenset({"k", "o"}))
    plan, result, again = run(h.converge([integ("a"), prov("p1"), model("p1", "m1")], options))
    assert sorted(str(c.address) for c in plan.actionable) == ["integration.k.b", "model.o.p1.m2"]
    assert all(c.action is Action.DELETE for c in plan.actionable)
    assert result.ok
    assert not again.has_changes
    plan, result, again = run(h.converge([], options))
    assert sorted(str(c.address) for c in plan.actionable) == ["integration.k.a", "provider.o.p1"]
    assert result.ok
    assert not again.has_changes


def test_type_replacement_and_channel_replacement(url: str) -> None:
    h = Harness(url)
    run(h.converge([integ("pg"), chan("docs")]))
    res = integ("pg", type="mysql")
    res = Resource(res.address, res.body, lifecycle=Lifecycle(replace_on_type_change=True))
    plan, result, again = run(h.converge([res, chan("docs", server_url="https://other.example.com")]))
    assert {c.action for c in plan.actionable} == {Action.REPLACE}
    assert result.ok
    assert not again.has_changes


def test_provider_replacement_shows_its_models_replaced_and_destroyed_with_it(url: str) -> None:
    h = Harness(url)
    run(h.converge([prov("p1"), model("p1", "m"), model("p1", "gone")]))
    p = prov(
        "p1", type="cohere", category="AI_MODEL", configuration={"api_key": Sensitive("k"), "endpoint": "https://c"}
    )
    p = Resource(p.address, p.body, lifecycle=Lifecycle(replace_on_type_change=True), write_only=p.write_only)
    plan, result, again = run(h.converge([p, model("p1", "m")]))
    assert {str(c.address): (c.action, c.reason) for c in plan.actionable} == {
        "provider.o.p1": (Action.REPLACE, Reason.TYPE_CHANGED),
        "model.o.p1.m": (Action.REPLACE, Reason.PARENT_REPLACED),
        "model.o.p1.gone": (Action.DELETE, Reason.PARENT_REPLACED),
    }
    assert result.ok
    assert not again.has_changes


def test_concurrent_change_is_not_overwritten(url: str) -> None:
    h = Harness(url)
    run(h.converge([integ("pg")]))
    plan, platforms = run(h.plan([integ("pg", description="mine")]))

    async def someone_else() -> None:
        other = Harness(url)
        _, r, _ = await other.converge([integ("pg", description="theirs")])
        assert r.ok

    run(someone_else())
    result = run(apply(plan, platforms))
    (outcome,) = result.outcomes
    assert isinstance(outcome, Failed)
    assert "since the plan was made" in outcome.message


async def _conductor_post(url: str, name: str, body: dict[str, Any]) -> None:

    async with httpx.AsyncClient(transport=transport(url), base_url="http://s") as c:
        token = (
            await c.post("/api/token", json={"keyId": "sandbox-key-id", "keySecret": "sandbox-key-secret"})
        ).json()["token"]
        r = await c.post("/api/integrations/", json=[{"name": name, **body}], headers={"X-Authorization": token})
        assert r.status_code == 200, r.text


async def _conductor_get(url: str, name: str) -> dict[str, Any]:

    async with httpx.AsyncClient(transport=transport(url), base_url="http://s") as c:
        token = (
            await c.post("/api/token", json={"keyId": "sandbox-key-id", "keySecret": "sandbox-key-secret"})
        ).json()["token"]
        r = await c.get(f"/api/integrations/provider/{name}", headers={"X-Authorization": token})
        return dict(r.json())


def test_conductor_writes_keep_what_the_plan_leaves_alone(url: str) -> None:
    h = Harness(url)
    base = prov("p1", description="from-yaml", configuration={"api_key": Sensitive("k1"), "endpoint": "https://e"})
    ignoring = Resource(
        base.address, base.body, lifecycle=Lifecycle(ignore_changes=("description",)), write_only=base.write_only
    )
    run(h.converge([ignoring]))
    # By hand: a new description (ignored) and a configuration key the desired state does not name.
    live = run(_conductor_get(url, "p1"))
    run(
        _conductor_post(
            url,
            "p1",
            {
                "type": "openai",
                "category": "AI_MODEL",
                "description": "by hand",
                "enabled": True,
                "configuration": {**live["configuration"], "organizationId": "org-123"},
                "tags": live["tags"],
            },
        )
    )
    assert not run(h.plan([ignoring]))[0].has_changes
    changed = Resource(
        base.address,
        {**base.body, "configuration": {"api_key": Sensitive("k1"), "endpoint": "https://other"}},
        lifecycle=Lifecycle(ignore_changes=("description",)),
        write_only=base.write_only,
    )
    plan, result, again = run(h.converge([changed]))
    assert [f.path for f in plan.actionable[0].fields] == ["configuration.endpoint"]
    assert result.ok
    assert not again.has_changes
    after = run(_conductor_get(url, "p1"))
    assert after["description"] == "by hand"
    assert after["configuration"]["organizationId"] == "org-123"
    assert after["configuration"]["endpoint"] == "https://other"


def test_bimpeai_channels_converge_and_are_matched_by_type(url: str) -> None:
    h = Harness(url)
    payments = Resource(
        Address(ResourceKind.CHANNEL, "c", ("agt_demo", "bimpeai"), "payments"),
        {"type": "paystack", "secret_key": Sensitive("sk_live_paystack_123")},
        write_only=("secret_key",),
    )
    plan, result, again = run(h.converge([payments]))
    assert [c.action for c in plan.actionable] == [Action.CREATE]
    assert result.ok
    assert not again.has_changes, [str(c.address) for c in again.actionable]
    # A second apply creates nothing more: one paystack channel on the agent.
    _, result, _ = run(h.converge([payments]))
    assert result.outcomes == ()
    live, platforms = run(h.plan([payments]))
    assert not live.unmanaged
    for p in platforms.values():
        run(p.aclose())


@pytest.mark.parametrize(("type_", "key"), [("openai", "api_key"), ("relational_db", "password")])
def test_after_warming_a_conductor_password_field_is_write_only_and_masked(url: str, type_: str, key: str) -> None:
    platform = connect(servers(url)["o"])

    async def go() -> None:
        await platform.warm()
        await platform.aclose()

    run(go())
    # A value in such a field is write-only and masked, however it was written.
    res = Resource(
        Address(ResourceKind.PROVIDER, "o", (), "p"),
        {"type": type_, "configuration": {key: "literal-value", "user": "u"}},
    )
    prepared = platform.prepare(res)
    assert prepared.write_only == (f"configuration.{key}",)
    assert isinstance(prepared.body["configuration"][key], Sensitive)
    assert not isinstance(prepared.body["configuration"]["user"], Sensitive)
    assert prepared.fingerprint is not None


def test_conductor_does_not_overwrite_a_model_changed_since_the_plan(url: str) -> None:
    h = Harness(url)
    run(h.converge([prov("p1"), model("p1", "m")]))
    plan, platforms = run(h.plan([prov("p1", description="mine"), model("p1", "m", description="mine")]))
    assert {c.action for c in plan.actionable} == {Action.UPDATE}
    # Someone else updates the model between the plan and the apply.
    _, other, _ = run(h.converge([prov("p1"), model("p1", "m", description="theirs")]))
    assert other.ok
    result = run(apply(plan, platforms))
    for p in platforms.values():
        run(p.aclose())
    # Writing a model moves its provider's version too: neither is overwritten.
    outcomes = {str(o.change.address): o for o in result.outcomes}
    assert not any(isinstance(o, Done) for o in result.outcomes)
    provider = outcomes["provider.o.p1"]
    assert isinstance(provider, Failed)
    assert "since the plan was made" in provider.message
    again, platforms = run(h.plan([prov("p1"), model("p1", "m", description="theirs")]))
    for p in platforms.values():
        run(p.aclose())
    assert not again.has_changes
