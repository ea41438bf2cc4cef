"""The apply scheduler (`reconciler.apply`), driving the real adapters over the in-process sandbox.

What is asserted is the order, the blocking, the stop and the bounds the scheduler alone owns:
the requests the sandbox saw (recorded by a transport in between) and the outcomes. Concurrency
is measured by counting calls in progress at once, never by timing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace

import httpx

from reconciler.apply import apply
from reconciler.model import Lifecycle, Resource, ResourceKind, ServerConfig
from reconciler.outcomes import NOT_STARTED, ApplyResult, Done, Failed, FailureCode, Outcome, Skipped
from reconciler.plan import Action, Change, Plan
from reconciler.planner import PlanOptions
from reconciler.platforms import Platform
from reconciler.platforms.http import HttpClient
from reconciler.platforms.kubiya import KubiyaPlatform
from reconciler.platforms.retry import RetryPolicy
from reconciler.sandbox.transport import transport
from tests.platforms.test_roundtrip import Harness, integ, model, prov

FAST = RetryPolicy(base=0.001, cap=0.002)


class Recording(httpx.AsyncBaseTransport):
    """Forwards to the sandbox and keeps `METHOD path` of every write, in the order sent.
    `on_write`: called as each write arrives (before the sandbox sees it)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.writes: list[str] = []
        self.on_write: list[asyncio.Event] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "GET" and request.url.path != "/api/token":
            self.writes.append(f"{request.method} {request.url.path}")
            for event in self.on_write:
                event.set()
        return await self.inner.handle_async_request(request)


def planned(
    url: str, desired: Sequence[Resource], options: PlanOptions | None = None, *, parallelism: int = 16
) -> tuple[Plan, dict[str, Platform], Recording]:
    """The plan of `desired`, and its platforms, whose clients now record what they write."""
    harness = Harness(url)
    harness.servers = {n: replace(s, parallelism=parallelism) for n, s in harness.servers.items()}
    plan, platforms = asyncio.run(harness.plan(desired, options))
    wire = Recording(transport(url))
    for p in platforms.values():
        p.client = HttpClient(p.server, p.client.auth, retry=FAST, transport=wire)
    return plan, platforms, wire


def applied(plan: Plan, platforms: dict[str, Platform], stop: asyncio.Event | None = None) -> ApplyResult:
    async def go() -> ApplyResult:
        try:
            return await apply(plan, platforms, stop=stop)
        finally:
            for p in platforms.values():
                await p.aclose()

    return asyncio.run(go())


def converge(url: str, desired: Sequence[Resource]) -> None:
    _, result, _ = asyncio.run(Harness(url).converge(desired))
    assert result.ok


def by_address(result: ApplyResult) -> dict[str, Outcome]:
    return {str(o.change.address): o for o in result.outcomes}


def test_deletes_run_before_saves_and_parents_before_children(url: str) -> None:
    converge(url, [prov("keep"), model("keep", "m"), prov("old")])
    # Prune a model and another provider; create a new provider with a model saved on its own
    # (a configuration cannot ride in the bulk item).
    desired = [prov("keep"), prov("new"), model("new", "cfg", configuration={"x": "1"})]
    plan, platforms, wire = planned(url, desired, PlanOptions(prune_servers=frozenset({"o"})))
    result = applied(plan, platforms)
    assert result.ok
    assert wire.writes == [
        "DELETE /api/integrations/provider/keep/integration/m",  # (delete, model): rank (0, 0)
        "DELETE /api/integrations/provider/old",  # (delete, provider): rank (0, 1)
        "POST /api/integrations/",  # (create, provider): rank (1, 0), the bulk save
        "POST /api/integrations/provider/new/integration/cfg",  # (create, model): rank (1, 1)
    ]


def test_a_model_whose_provider_failed_is_skipped_naming_it(url: str) -> None:
    plan, platforms, wire = planned(url, [prov("p"), model("p", "cfg", configuration={"x": "1"})])
    # Someone else creates the provider between plan and apply: its create is a conflict.
    converge(url, [prov("p")])
    result = applied(plan, platforms)
    outcomes = by_address(result)
    failed = outcomes["provider.o.p"]
    assert isinstance(failed, Failed)
    assert failed.code is FailureCode.CONFLICT
    assert outcomes["model.o.p.cfg"] == Skipped(
        outcomes["model.o.p.cfg"].change, "depends on provider.o.p, which did not succeed"
    )
    assert wire.writes == []


def test_every_change_gets_exactly_one_outcome_in_plan_order(url: str) -> None:
    desired = [integ("a"), integ("b"), prov("p"), model("p", "m"), model("p", "cfg", configuration={"x": "1"})]
    plan, platforms, _ = planned(url, desired)
    result = applied(plan, platforms)
    assert [o.change for o in result.outcomes] == list(plan.actionable)
    assert result.ok


def test_a_stop_set_before_the_apply_starts_nothing(url: str) -> None:
    plan, platforms, wire = planned(url, [integ("a"), integ("b"), prov("p")])
    stop = asyncio.Event()
    stop.set()
    result = applied(plan, platforms, stop)
    assert result.interrupted
    assert {o.reason for o in result.outcomes if isinstance(o, Skipped)} == {NOT_STARTED}
    assert len(result.outcomes) == 3
    assert wire.writes == []


def test_a_stop_lets_the_call_in_flight_finish_and_skips_the_queued_ones(url: str) -> None:
    desired = [integ(f"i{n}") for n in range(5)]
    plan, platforms, wire = planned(url, desired, parallelism=1)
    # Ctrl-C as the first write reaches the server.
    stop = asyncio.Event()
    wire.on_write.append(stop)
    result = applied(plan, platforms, stop)
    done = [o for o in result.outcomes if isinstance(o, Done)]
    skipped = [o for o in result.outcomes if isinstance(o, Skipped)]
    assert len(done) == 1
    assert len(wire.writes) == 1
    assert len(skipped) == 4
    assert all(o.reason == NOT_STARTED for o in skipped)
    assert platforms["k"].in_flight == set()


class Counting(KubiyaPlatform):
    """The real Kubiya adapter, counting its saves in progress at once. Each save waits until
    `gate` opens, which happens once `bound` saves are in progress together."""

    bound = 3

    def __init__(self, server: ServerConfig, client: HttpClient | None = None) -> None:
        super().__init__(server, client)
        self.now = 0
        self.most = 0
        self.gate = asyncio.Event()

    async def save(self, change: Change) -> Outcome:
        self.now += 1
        self.most = max(self.most, self.now)
        if self.now >= self.bound:
            self.gate.set()
        try:
            await self.gate.wait()
            return await super().save(change)
        finally:
            self.now -= 1


def test_parallelism_bounds_the_changes_in_progress(url: str) -> None:
    plan, platforms, _ = planned(url, [integ(f"i{n}") for n in range(10)], parallelism=Counting.bound)
    counting = Counting(platforms["k"].server, platforms["k"].client)

    async def go() -> ApplyResult:
        async with asyncio.timeout(30):  # a guard against a hang, not a timing assertion
            return await apply(plan, {"k": counting})

    result = asyncio.run(go())
    assert result.ok
    assert len(result.outcomes) == 10
    assert counting.most == Counting.bound


def test_conductor_saves_providers_in_bulk_batches_and_models_ride_along(url: str) -> None:
    # batch_size is 2: three providers are two bulk saves, and their models go in the items.
    desired = [prov("p1"), prov("p2"), prov("p3"), model("p1", "m"), model("p3", "m")]
    plan, platforms, wire = planned(url, desired)
    result = applied(plan, platforms)
    assert result.ok
    assert wire.writes == ["POST /api/integrations/", "POST /api/integrations/"]
    models = [o for o in result.outcomes if o.change.address.kind is ResourceKind.MODEL]
    assert [o.note for o in models if isinstance(o, Done)] == ["saved with its provider"] * 2


def test_the_default_save_batch_is_one_save_per_change(url: str) -> None:
    plan, platforms, wire = planned(url, [integ("a"), integ("b"), integ("c")])
    kubiya = platforms["k"]

    async def go() -> Sequence[Outcome]:
        try:
            return await kubiya.save_batch(plan.actionable)
        finally:
            await kubiya.aclose()

    outcomes = asyncio.run(go())
    assert [type(o) for o in outcomes] == [Done, Done, Done]
    assert wire.writes == ["POST /api/v1/custom-integrations"] * 3


def test_a_replacement_is_its_delete_then_its_create(url: str) -> None:
    converge(url, [integ("pg")])
    replaced = integ("pg", type="mysql")
    replaced = Resource(replaced.address, replaced.body, lifecycle=Lifecycle(replace_on_type_change=True))
    plan, platforms, wire = planned(url, [replaced])
    (change,) = plan.actionable
    assert change.action is Action.REPLACE
    result = applied(plan, platforms)
    assert result.ok
    assert len(result.outcomes) == 1
    assert [w.split(" ")[0] for w in wire.writes] == ["DELETE", "POST"]
