"""Two applies at once against one sandbox with injected latency: no duplicate, no silent
overwrite. The applies run in process, concurrently on one event loop, through the real
engine and adapters (the sandbox's latency interleaves their requests).

`CONCURRENCY_RUNS=20` repeats each test with other latency draws (`.ci/run` does so after
the suite); by default each runs once.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from reconciler import engine, planfile
from reconciler.errors import LockedError, StalePlanError
from reconciler.outcomes import ApplyResult, Done
from reconciler.plan import Plan
from reconciler.sandbox.transport import SANDBOX_BASE_URL, app_for, transport
from tests.cli.conftest import KEY_ID, KEY_SECRET, World, servers_yaml
from tests.cli.test_ownership import scoped

RUNS = range(int(os.environ.get("CONCURRENCY_RUNS", "1")))

SAME = """
integrations:
  - {name: i1, server: kubiya, type: redis}
  - {name: i2, server: kubiya, type: redis}
providers:
  - {name: p1, server: orkes, type: ollama, configuration: {endpoint: "http://a"}}
channels:
  - {server: console, agent: agt_demo, family: mcp_server, name: c1, server_url: "https://a.example"}
  - {server: console, agent: agt_demo, family: mcp_server, name: c2, server_url: "https://a.example"}
  - {server: console, agent: agt_demo, family: custom_api, name: c3, base_url: "https://a.example"}
"""


async def _apply(world: World, path: Any, saved: Plan | None = None) -> ApplyResult:
    run = await engine.open_run(engine.Sources((str(path),)), lock_timeout=60.0)
    try:
        plan = engine.make_plan(run, engine.plan_options(run))
        if saved is not None:
            planfile.check_fresh(saved, plan)
        return await engine.execute(run, plan)
    finally:
        await run.aclose()


async def _both(world: World, first: Any, second: Any, saved: list[Plan | None]) -> list[Any]:
    return list(
        await asyncio.gather(_apply(world, first, saved[0]), _apply(world, second, saved[1]), return_exceptions=True)
    )


def _saved_plan(path: Any) -> Plan:
    async def make() -> Plan:
        run = await engine.open_run(engine.Sources((str(path),)))
        try:
            options = engine.plan_options(run)
            saved = planfile.SavedOptions.of(options, list(run.platforms))
            return Plan.from_dict(planfile.encode(engine.make_plan(run, options), saved, path))
        finally:
            await run.aclose()

    return asyncio.run(make())


def _channels(world: World, family: str) -> Counter[str]:
    rows = world.console("GET", f"/{family}").json()["data"]
    return Counter(r["config"]["name"] for r in rows)


@pytest.mark.parametrize("attempt", RUNS)
def test_the_same_state_applied_twice_at_once_makes_everything_once(world: World, attempt: int) -> None:
    _same_state_twice(world, latency_ms=5, jitter_ms=20, seed=attempt)


def test_the_same_state_applied_twice_at_once_over_slow_servers_makes_everything_once(world: World) -> None:
    # The setting: 100-200 ms per request. Run once (each request waits), so that the
    # suite stays fast; the short-latency test above is the one repeated.
    _same_state_twice(world, latency_ms=100, jitter_ms=100, seed=7)


def _same_state_twice(world: World, *, latency_ms: float, jitter_ms: float, seed: int) -> None:
    path = world.desired(SAME)
    world.faults(latency_ms=latency_ms, jitter_ms=jitter_ms, seed=seed)
    results = asyncio.run(_both(world, path, path, [None, None]))
    world.faults()
    assert all(isinstance(r, ApplyResult) for r in results), results
    assert world.integration_names() == Counter({"i1": 1, "i2": 1})
    assert _channels(world, "mcp_server") == Counter({"c1": 1, "c2": 1})
    assert _channels(world, "custom_api")["c3"] == 1
    # The Kubiya lock serialized the two: one created the integrations, the other found
    # them there and had nothing to do.
    creators = [
        r
        for r in results
        if any(isinstance(o, Done) and o.change.address.kind.value == "integration" for o in r.outcomes)
    ]
    assert len(creators) == 1
    assert world.run("plan", path, "--detailed-exitcode").exit_code == 0


CHANNELS_ONLY = """
channels:
  - {server: console, agent: agt_demo, family: mcp_server, name: c1, server_url: "https://a.example"}
  - {server: console, agent: agt_demo, family: mcp_server, name: c2, server_url: "https://a.example"}
  - {server: console, agent: agt_demo, family: custom_api, name: c3, base_url: "https://a.example"}
"""


@pytest.mark.parametrize("attempt", RUNS)
def test_channels_alone_applied_twice_at_once_are_made_once(world: World, attempt: int) -> None:
    # No Kubiya server, so no lock serializes the two applies: the console's idempotency key
    # and the re-list after each create are what keep one channel per name.
    servers = servers_yaml(world.url, creds=world.creds)
    path = world.write("console.yaml", "servers:\n" + servers[servers.index("  console:") :] + CHANNELS_ONLY)
    world.faults(latency_ms=5, jitter_ms=20, seed=attempt)
    results = asyncio.run(_both(world, path, path, [None, None]))
    world.faults()
    assert [isinstance(r, ApplyResult) and r.ok for r in results] == [True, True], results
    assert _channels(world, "mcp_server") == Counter({"c1": 1, "c2": 1})
    assert _channels(world, "custom_api") == Counter({"c3": 1})
    assert world.run("plan", path, "--detailed-exitcode").exit_code == 0


EDIT = """
integrations:
  - {{name: i1, server: kubiya, type: redis, description: {text}}}
  - {{name: i2, server: kubiya, type: redis, description: {text}}}
"""


@pytest.mark.parametrize("attempt", RUNS)
def test_two_saved_plans_of_different_edits_applied_at_once_never_overwrite(world: World, attempt: int) -> None:
    base = world.desired(EDIT.format(text="base"), name="base.yaml")
    assert world.run("apply", base, "--auto-approve").exit_code == 0
    left = world.desired(EDIT.format(text="left"), name="left.yaml")
    right = world.desired(EDIT.format(text="right"), name="right.yaml")
    plans: list[Plan | None] = [_saved_plan(left), _saved_plan(right)]
    world.faults(latency_ms=5, jitter_ms=20, seed=attempt)
    results = asyncio.run(_both(world, left, right, plans))
    world.faults()
    winners = [i for i, r in enumerate(results) if isinstance(r, ApplyResult)]
    assert len(winners) == 1, results
    (loser,) = [r for r in results if not isinstance(r, ApplyResult)]
    assert isinstance(loser, StalePlanError)
    assert results[winners[0]].ok
    text = ("left", "right")[winners[0]]
    assert {world.integration(n)["description"] for n in ("i1", "i2")} == {text}


def test_an_apply_fails_clearly_while_another_holds_the_lock(world: World) -> None:
    path = world.desired(EDIT.format(text="x"))
    held = world.kubiya(
        "POST",
        json_body={
            "name": "reconciler-lock",
            "integration_type": "reconciler-lock",
            "config": {},
            "tags": ["reconciler-lock-holder:ci@runner-7:42/abcd", "reconciler-lock-expires:99999999999"],
        },
    )
    assert held.status_code == 201
    with pytest.raises(LockedError, match=r"another apply holds the lock 'reconciler-lock' \(ci@runner-7:42/abcd"):
        asyncio.run(engine.open_run(engine.Sources((str(path),)), lock_timeout=0.0))
    result = world.run("apply", path, "--auto-approve")
    assert result.exit_code == 1
    assert "reconciler force-unlock" in result.stderr
    assert world.integration_names() == Counter({"reconciler-lock": 1})
    # The lock row is no resource of anyone's: plan lists it nowhere.
    assert "reconciler-lock" not in world.run("plan", path).stdout

    unlocked = world.run("force-unlock", path, "--server", "kubiya")
    assert unlocked.exit_code == 0
    assert "removed the apply lock held by ci@runner-7:42/abcd" in unlocked.stdout
    assert world.run("apply", path, "--auto-approve").exit_code == 0
    assert sorted(world.integration_names()) == ["i1", "i2"]  # released after the apply


def _hold_lock(world: World, name: str) -> str:
    """A lock row as a live apply holds it (unexpired), by real HTTP; its id."""
    tags = ["reconciler-lock-holder:other@runner:7/beef", "reconciler-lock-expires:99999999999"]
    return str(world.create_integration(name, "reconciler-lock", tags)["id"])


@pytest.mark.parametrize(
    ("owner", "mine", "theirs"),
    [("team-a", "reconciler-lock-team-a", "reconciler-lock"), (None, "reconciler-lock", "reconciler-lock-team-a")],
)
def test_each_ownership_scope_takes_its_own_lock(world: World, owner: str | None, mine: str, theirs: str) -> None:
    # A scope's lock is `reconciler-lock-<owner>`; the default scope keeps `reconciler-lock`.
    path = scoped(world, "scoped.yaml", EDIT.format(text="x"), owner)
    own = _hold_lock(world, mine)
    blocked = world.run("apply", path, "--auto-approve", "--lock-timeout", "0")
    assert blocked.exit_code == 1
    assert f"another apply holds the lock {mine!r} (other@runner:7/beef" in blocked.stderr
    assert world.integration_names() == Counter({mine: 1})

    # The other scope's lock held instead: this apply runs, and leaves that lock alone.
    assert world.kubiya("DELETE", f"/{own}", params={"hard_delete": "true"}).status_code == 204
    _hold_lock(world, theirs)
    result = world.run("apply", path, "--auto-approve", "--lock-timeout", "0")
    assert result.exit_code == 0, result.output
    assert world.integration_names() == Counter({theirs: 1, "i1": 1, "i2": 1})


def test_a_stale_lock_is_taken_over(world: World) -> None:
    path = world.desired(EDIT.format(text="x"))
    stale = world.kubiya(
        "POST",
        json_body={
            "name": "reconciler-lock",
            "integration_type": "reconciler-lock",
            "config": {},
            "tags": ["reconciler-lock-holder:dead@host:1/0000", "reconciler-lock-expires:1"],
        },
    )
    assert stale.status_code == 201
    result = world.run("apply", path, "--auto-approve")
    assert result.exit_code == 0, result.output
    assert sorted(world.integration_names()) == ["i1", "i2"]


def test_a_lock_the_server_neither_grants_nor_shows_fails_within_the_timeout(world: World) -> None:
    # An integration made by hand holds the lock's name without being a lock: every try is
    # refused (409) and no holder can be named. The wait is bounded by --lock-timeout.
    assert world.create_unmanaged("reconciler-lock")["name"] == "reconciler-lock"
    path = world.desired(EDIT.format(text="x"))
    result = world.run("apply", path, "--auto-approve", "--lock-timeout", "1")
    assert result.exit_code == 1
    assert "could not take the lock 'reconciler-lock': the server neither granted it" in result.stderr
    assert sorted(world.integration_names()) == ["reconciler-lock"]


def test_a_server_error_while_taking_the_lock_is_reported_not_retried_forever(world: World) -> None:
    path = world.desired(EDIT.format(text="x"))
    # Every write is answered 500 (reads still work): the lock's create is one.
    world.faults(echo_error_rate=1.0)
    result = world.run("apply", path, "--auto-approve")
    world.faults()
    assert result.exit_code == 1
    assert "POST /api/v1/custom-integrations" in result.stderr
    assert "answered 500" in result.stderr
    assert world.integration_names() == Counter()


PROVIDER = """
providers:
  - {{name: p1, server: orkes, type: ollama, description: {text}, configuration: {{endpoint: "http://a"}}}}
"""


@dataclass
class OtherWriter:
    """Another writer's bulk save of `item`, made over HTTP through the same sandbox."""

    url: str
    item: dict[str, Any]
    armed: bool = False

    async def save(self) -> None:
        async with httpx.AsyncClient(transport=transport(self.url), base_url=SANDBOX_BASE_URL) as client:
            token = (await client.post("/api/token", json={"keyId": KEY_ID, "keySecret": KEY_SECRET})).json()
            saved = await client.post("/api/integrations/", json=[self.item], headers={"X-Authorization": token["token"]})
            saved.raise_for_status()


class SaveRightAfterTheNextSave:
    """Once armed, right after the next bulk save the sandbox answers, and before that answer
    reaches the apply, the other writer saves, as a second apply whose save lands between this
    apply's save and its re-read would. Deterministic: no clock decides the order."""

    def __init__(self, app: ASGIApp, writer: OtherWriter) -> None:
        self.app, self.writer = app, writer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
        is_save = scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == "/api/integrations/"
        if is_save and self.writer.armed:
            self.writer.armed = False
            await self.writer.save()


def test_a_conductor_save_overwritten_during_the_apply_is_reported_not_claimed(world: World) -> None:
    # The other writer changes another field (the endpoint) from the same starting point; its
    # bulk save carries the whole provider, so it puts the description back.
    writer = OtherWriter(
        world.url,
        {
            "name": "p1",
            "type": "ollama",
            "description": "base",
            "enabled": True,
            "configuration": {"endpoint": "http://b"},
            "tags": [],
        },
    )
    app_for(world.url).add_middleware(SaveRightAfterTheNextSave, writer=writer)  # before the app starts
    assert world.run("apply", world.desired(PROVIDER.format(text="base")), "--auto-approve").exit_code == 0
    writer.armed = True
    path = world.desired(PROVIDER.format(text="ours"))
    result = world.run("apply", path, "--auto-approve")
    assert not writer.armed  # the other save happened
    assert result.exit_code == 1, result.output
    assert "provider.orkes.p1 was changed by another writer during this apply" in result.output
    assert "run plan again" in result.output
    # Nothing is claimed or hidden: the server holds the other writer's save, and plan shows it.
    assert world.conductor("GET", "/integrations/provider/p1").json()["description"] == "base"
    assert world.run("plan", path, "--detailed-exitcode").exit_code == 2
