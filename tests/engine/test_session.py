"""`engine.Session` against the in-process sandbox: each command connects, reads, returns a
value and tells its hooks what a person should know; nothing is written but by `apply`."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

import pytest

from reconciler import desired, planfile
from reconciler.engine import Hooks, Session, Sources
from reconciler.errors import ConfigError, StalePlanError
from reconciler.model import ResourceKind, ServerConfig
from reconciler.plan import Action, Plan
from reconciler.session_values import ExportRequest, PlanRequest
from tests.cli.conftest import BASIC_ADDRESSES, World, world

__all__ = ["world"]


class Recorder(Hooks):
    def __init__(self) -> None:
        self.notes: list[str] = []
        self.servers: list[str] = []

    def note(self, text: str) -> None:
        self.notes.append(text)

    def connected(self, session: Session, servers: Mapping[str, ServerConfig]) -> None:
        self.servers = list(servers)


def _session(path: Path, *, servers: tuple[str, ...] = (), hooks: Hooks | None = None) -> Session:
    return Session.open(Sources((str(path),)), servers=servers, hooks=hooks)


def test_plan_reads_and_writes_nothing(world: World) -> None:
    planned = asyncio.run(_session(world.desired()).plan())
    assert {str(c.address) for c in planned.plan.actionable} == set(BASIC_ADDRESSES)
    assert {c.action for c in planned.plan.actionable} == {Action.CREATE}
    assert world.integrations() == []


def test_plan_keeps_the_request_for_a_plan_file(world: World) -> None:
    request = PlanRequest(servers=("kubiya",), targets=("integration.kubiya.cache",), max_deletes=2)
    planned = asyncio.run(_session(world.desired(), servers=("kubiya",)).plan(request))
    assert [str(c.address) for c in planned.plan.actionable] == ["integration.kubiya.cache"]
    assert planned.options == planfile.SavedOptions(
        servers=("kubiya",), targets=("integration.kubiya.cache",), max_deletes=2
    )


def test_the_hooks_hear_the_sandbox_note_and_the_servers_read(world: World) -> None:
    hooks = Recorder()
    asyncio.run(_session(world.desired(), servers=("orkes",), hooks=hooks).plan())
    assert hooks.servers == ["orkes"]
    assert len(hooks.notes) == 1
    assert "does not exist yet; read as an empty sandbox, not created" in hooks.notes[0]


def test_a_session_opens_from_a_loaded_desired_state(world: World) -> None:
    path = world.desired()
    session = Session(desired.load([str(path)]))
    assert session.sources.paths == (str(path),)
    planned = asyncio.run(session.plan())
    assert len(planned.plan.actionable) == len(BASIC_ADDRESSES)


def test_apply_carries_out_the_reviewed_plan_and_drift_is_then_clean(world: World) -> None:
    path = world.desired()
    seen: list[Plan] = []

    def review(plan: Plan) -> bool:
        seen.append(plan)
        return True

    applied = asyncio.run(_session(path).apply(review=review))
    assert applied.result is not None
    assert applied.result.ok
    assert seen == [applied.plan]
    assert sorted(world.integration_names()) == ["cache", "pg-main"]
    report = asyncio.run(_session(path).drift())
    assert not report.drifted


def test_apply_declined_by_review_writes_nothing(world: World) -> None:
    applied = asyncio.run(_session(world.desired()).apply(review=lambda plan: False))
    assert applied.declined
    assert applied.result is None
    assert world.integrations() == []


def test_apply_of_nothing_to_do_has_no_result(world: World) -> None:
    path = world.desired()
    asyncio.run(_session(path).apply())
    applied = asyncio.run(_session(path).apply())
    assert not applied.plan.has_changes
    assert applied.result is None
    assert not applied.declined


def test_a_saved_plan_is_refused_once_the_server_changed(world: World) -> None:
    path = world.desired()
    plan_file = world.tmp / "plan.json"
    planned = asyncio.run(_session(path).plan())
    plan_file.write_text(planfile.text(planned.plan, planned.options, plan_file))
    asyncio.run(_session(path).apply(PlanRequest(targets=("integration.kubiya.cache",))))
    saved = planfile.read(plan_file)
    with pytest.raises(StalePlanError, match=r"integration\.kubiya\.cache"):
        asyncio.run(_session(path).apply(saved=saved))
    assert world.integration_names()["pg-main"] == 0


def test_a_saved_plan_applies_when_nothing_changed(world: World) -> None:
    path = world.desired()
    plan_file = world.tmp / "plan.json"
    planned = asyncio.run(_session(path).plan())
    plan_file.write_text(planfile.text(planned.plan, planned.options, plan_file))
    applied = asyncio.run(_session(path).apply(saved=planfile.read(plan_file)))
    assert applied.result is not None
    assert applied.result.ok
    assert sorted(world.integration_names()) == ["cache", "pg-main"]


def test_export_reads_one_server_through_the_session(world: World) -> None:
    path = world.desired()
    asyncio.run(_session(path).apply())
    exported = asyncio.run(
        _session(path, servers=("kubiya",)).export(ExportRequest("kubiya", (ResourceKind.INTEGRATION,)))
    )
    assert exported.count == 2
    assert "name: pg-main" in exported.text
    assert "name: cache" in exported.text


def test_export_of_a_console_without_agents_is_refused(world: World) -> None:
    path = world.desired("")
    with pytest.raises(ConfigError, match="whose API cannot list agents"):
        asyncio.run(_session(path, servers=("console",)).export(ExportRequest("console")))


def test_force_unlock_with_no_lock_held_says_so(world: World) -> None:
    unlocked = asyncio.run(_session(world.desired(), servers=("kubiya",)).force_unlock("kubiya"))
    assert unlocked.supported
    assert unlocked.holder is None
