"""Executes a Plan: exactly its changes, in its order, reporting progress to an observer.

All scheduling lives here, from the one `plan.ORDER` table (as Kong's `pkg/diff/order.go`):
deletes first (every server at once), then saves; within a phase a server's changes run rank
by rank, a rank's independent changes in parallel (at most `server.parallelism` calls at once)
or in one bulk call. A change whose dependency did not succeed is skipped, naming it. A
replacement is its delete, then its create, in one call slot (so that Ctrl-C never leaves it
half done); one replaced with its parent (`Reason.PARENT_REPLACED`) was deleted by the server
with that parent, and so was a model deleted with its replaced provider, which is done when
that delete is. Once `stop` is set (Ctrl-C) no new call starts: queued changes are skipped at
once, calls in flight finish (`Executor.in_flight` names them for a second Ctrl-C). Once a
server is `down` (its circuit is open) its remaining changes are skipped. Every change ends
with exactly one outcome: `Done`, `Failed` (with a `FailureCode`) or `Skipped`.

Adapters offer small verbs (pip-audit's service shape, see `schedule.Executor`): `check` (conflicts found
by one look before a phase writes), `save`, `save_batch` (a bulk endpoint; by default a loop
over `save`) and `delete`. This module never prints: the observer (a view) decides what a
person sees.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Protocol

from reconciler.outcomes import ApplyResult, Failed, FailureCode, Outcome, Skipped
from reconciler.plan import Action, Change, Plan
from reconciler.schedule import Executor, ServerSchedule, cascaded


class Observer(Protocol):
    def started(self, total: int) -> None: ...

    def outcome(self, outcome: Outcome) -> None: ...


def _phases(changes: Sequence[Change]) -> tuple[list[Change], list[Change]]:
    """Deletes, then saves. A model deleted with its replaced provider goes with that
    replacement, in the save phase: deleting it on its own first would change the provider
    under the plan."""
    deletes = [c for c in changes if c.action is Action.DELETE and not cascaded(c)]
    saves = [c for c in changes if not (c.action is Action.DELETE and not cascaded(c))]
    return deletes, saves


async def apply(
    plan: Plan,
    executors: Mapping[str, Executor],
    *,
    observer: Observer | None = None,
    stop: asyncio.Event | None = None,
) -> ApplyResult:
    stop = stop or asyncio.Event()
    changes = list(plan.actionable)
    results: dict[int, Outcome] = {}
    index = {id(c): i for i, c in enumerate(changes)}
    if observer is not None:
        observer.started(len(changes))

    def report(outcome: Outcome) -> None:
        i = index.get(id(outcome.change))
        if i is None or i in results:
            return
        results[i] = outcome
        if observer is not None:
            observer.outcome(outcome)

    schedules = {name: ServerSchedule(executor, report, stop) for name, executor in executors.items()}
    for phase in _phases(changes):
        by_server: dict[str, list[Change]] = {}
        for c in phase:
            by_server.setdefault(c.address.server, []).append(c)
        runs = []
        for server, batch in sorted(by_server.items()):
            schedule = schedules.get(server)
            if schedule is None:
                for c in batch:
                    report(Failed(c, f"no connection to server {server!r}", code=FailureCode.INTERNAL))
                continue
            runs.append(schedule.phase(batch))
        await asyncio.gather(*runs)

    for c in changes:
        # Every change gets an outcome, even if an adapter forgot one.
        report(Skipped(c, "not carried out"))
    outcomes = tuple(results[i] for i in range(len(changes)))
    return ApplyResult(outcomes, interrupted=stop.is_set())
