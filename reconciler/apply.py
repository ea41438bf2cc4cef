"""Executes a Plan: exactly its changes, in its order, reporting progress to an observer.

Deletes run first (every server at once), then creates, updates and replaces. Each server's
changes go to its executor (`delete_many`/`save_many`), which may batch them and bounds its
own parallelism. Every change ends with exactly one `Outcome`: `Done`, `Failed` or
`Skipped` (a dependency did not succeed, or the run was interrupted). Independent changes go
on after one fails. When `stop` is set (Ctrl-C), no new change starts; calls in flight finish
and the rest are reported as skipped, so the summary says exactly what was and was not done.

This module never prints: the observer (a view) decides what a person sees.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from reconciler.errors import PlatformError, ServerDownError
from reconciler.plan import Action, Change, Done, Failed, Outcome, Plan, Reason, Skipped

_log = logging.getLogger(__name__)

Report = Callable[[Outcome], None]


class Executor(Protocol):
    """What apply needs of a platform adapter (see `platforms.base.Platform`)."""

    async def delete_many(self, changes: Sequence[Change], report: Report, stop: asyncio.Event) -> None: ...

    async def save_many(self, changes: Sequence[Change], report: Report, stop: asyncio.Event) -> None: ...


class Observer(Protocol):
    def started(self, total: int) -> None: ...

    def outcome(self, outcome: Outcome) -> None: ...


@dataclass(frozen=True)
class ApplySummary:
    added: int = 0
    changed: int = 0
    replaced: int = 0
    destroyed: int = 0
    failed: int = 0
    skipped: int = 0

    def to_dict(self) -> dict[str, int]:
        return {
            "added": self.added,
            "changed": self.changed,
            "replaced": self.replaced,
            "destroyed": self.destroyed,
            "failed": self.failed,
            "skipped": self.skipped,
        }


@dataclass(frozen=True)
class ApplyResult:
    """Outcomes in plan order. `interrupted`: the run was stopped before it finished."""

    outcomes: tuple[Outcome, ...]
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return all(isinstance(o, Done) for o in self.outcomes)

    def summary(self) -> ApplySummary:
        counts = {"added": 0, "changed": 0, "replaced": 0, "destroyed": 0, "failed": 0, "skipped": 0}
        key = {Action.CREATE: "added", Action.UPDATE: "changed", Action.REPLACE: "replaced", Action.DELETE: "destroyed"}
        for o in self.outcomes:
            if isinstance(o, Done):
                counts[key[o.change.action]] += 1
            elif isinstance(o, Failed):
                counts["failed"] += 1
            else:
                counts["skipped"] += 1
        return ApplySummary(**counts)


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

    async def run(server: str, batch: list[Change], deleting: bool) -> None:
        executor = executors.get(server)
        try:
            if executor is None:
                raise PlatformError(f"no connection to server {server!r}")
            if deleting:
                await executor.delete_many(batch, report, stop)
            else:
                await executor.save_many(batch, report, stop)
        except ServerDownError as exc:
            for change in batch:
                report(Skipped(change, f"not started: {str(exc).split(': not sent: ', 1)[-1]}"))
        except PlatformError as exc:
            for change in batch:
                report(Failed(change, str(exc), exc.status))
        except Exception as exc:  # an adapter bug must not lose the summary
            _log.exception("internal error while applying %d change(s) on server %r", len(batch), server)
            for change in batch:
                report(Failed(change, f"internal error: {type(exc).__name__} (run with --debug for the traceback)"))
        for change in batch:
            # Every change gets an outcome, even if an adapter forgot one.
            report(Skipped(change, "not carried out"))

    for deleting in (True, False):
        by_server: dict[str, list[Change]] = {}
        for c in changes:
            # A model deleted with its replaced provider goes with that replacement, in the
            # save phase: deleting it on its own first would change the provider under the plan.
            cascaded = c.reason is Reason.PARENT_REPLACED
            if (c.action is Action.DELETE and not cascaded) == deleting:
                by_server.setdefault(c.address.server, []).append(c)
        if stop.is_set():
            for batch in by_server.values():
                for c in batch:
                    report(Skipped(c, "not started: the apply was interrupted"))
            continue
        await asyncio.gather(*(run(s, b, deleting) for s, b in sorted(by_server.items())))

    outcomes = tuple(results[i] for i in range(len(changes)))
    return ApplyResult(outcomes, interrupted=stop.is_set())
