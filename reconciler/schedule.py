"""One server's share of an apply phase: the schedule `apply` runs for each server at once.

What apply needs of a platform adapter is `Executor` (pip-audit's service shape: small verbs
with a bulk default). `ServerSchedule` runs a phase's changes for one server rank by rank (the
`plan.ORDER` table): the look before writing (`check`), a rank's independent changes in parallel
within the server's slots or carried in one bulk call, a replacement as its delete then its
create in one slot, the changes its server deleted with a replaced parent, and dependency,
stop and circuit skips. Every change it is given ends with exactly one outcome, reported as
it settles.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from reconciler.errors import PlatformError, ServerDownError
from reconciler.model import Address, ServerConfig
from reconciler.outcomes import (
    NOT_STARTED,
    Done,
    Failed,
    FailureCode,
    Outcome,
    Skipped,
    failed,
    failure_code,
    server_down_reason,
)
from reconciler.plan import Action, Change, Reason, order_key

# The apply's log: `--debug` names the apply, whichever of its modules reports.
_log = logging.getLogger("reconciler.apply")

Report = Callable[[Outcome], None]


class Executor(Protocol):
    """What apply needs of a platform adapter (`platforms.base.Platform` gives the defaults)."""

    server: ServerConfig
    # Addresses whose write has started and not ended: what a hard stop leaves unknown.
    in_flight: set[Address]
    # The halves of a replacement, as a failure of the second one names them.
    replace_words: tuple[str, str]

    @property
    def down(self) -> str | None:
        """Why the server is given up for this command (its circuit is open), or None."""

    def bulk(self, change: Change) -> bool:
        """Whether `change` is saved through `save_batch` (the API has a bulk endpoint)."""

    def rides_with(self, change: Change) -> Address | None:
        """The bulk change whose call may carry `change` too (a model in its provider's item)."""

    async def check(self, changes: Sequence[Change]) -> Sequence[Outcome]:
        """Conflicts found by one look before a phase writes: outcomes for the changes that
        must not be written (the others are checked right before their own write)."""

    async def save(self, change: Change) -> Outcome:
        """A create or update (the create half of a replace, after its delete)."""

    async def save_batch(self, changes: Sequence[Change]) -> Sequence[Outcome]:
        """Several saves in one call; one outcome per change given."""

    async def delete(self, change: Change) -> Outcome:
        """A delete, or the delete half of a replace (which removes the resource for good)."""


def cascaded(change: Change) -> bool:
    """Deleted by the server with its replaced parent: nothing to send for it."""
    return change.action is Action.DELETE and change.reason is Reason.PARENT_REPLACED


def _internal(change: Change, exc: BaseException) -> Failed:
    return Failed(
        change,
        f"internal error: {type(exc).__name__} (run with --debug for the traceback)",
        code=FailureCode.INTERNAL,
    )


@dataclass
class ServerSchedule:
    """The schedule of one server's changes: its slots, what is blocked, where outcomes go."""

    executor: Executor
    report: Report
    stop: asyncio.Event
    blocked: set[Address] = field(default_factory=set)
    # Replaced resources whose delete is done: their cascaded children are done with them.
    removed: set[Address] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.slots = asyncio.Semaphore(max(1, self.executor.server.parallelism))

    def settle(self, outcome: Outcome) -> None:
        if not isinstance(outcome, Done):
            self.blocked.add(outcome.change.address)
        self.report(outcome)

    def skip_all(self, changes: Sequence[Change], reason: str) -> None:
        for change in changes:
            self.settle(Skipped(change, reason))

    def fail_all(self, changes: Sequence[Change], exc: Exception) -> None:
        """Every change of a call that failed as a whole (its look before writing, say)."""
        for change in changes:
            if isinstance(exc, ServerDownError):
                self.settle(Skipped(change, f"not started: {server_down_reason(exc)}"))
            elif isinstance(exc, PlatformError):
                self.settle(Failed(change, str(exc), exc.status, code=failure_code(exc)))
            else:
                self.settle(_internal(change, exc))

    # -- a phase ---------------------------------------------------------------------------

    async def phase(self, changes: list[Change]) -> None:
        if self.stop.is_set():
            self.skip_all(changes, NOT_STARTED)
            return
        try:
            conflicts = await self.executor.check(changes)
        # A catch-all on purpose: an adapter's bug here must not lose the summary of what was
        # already done; it is logged with its traceback and reported as an internal failure.
        except Exception as exc:  # noqa: BLE001
            if not isinstance(exc, PlatformError):
                _log.exception("internal error while checking server %r", self.executor.server.name)
            self.fail_all(changes, exc)
            return
        for outcome in conflicts:
            self.settle(outcome)
        settled = {o.change.address for o in conflicts}
        cascades: dict[Address, list[Change]] = {}
        pending: list[Change] = []
        for c in changes:
            if c.address in settled:
                continue
            if cascaded(c) and c.address.parent is not None:
                cascades.setdefault(c.address.parent, []).append(c)
            else:
                pending.append(c)
        pending.sort(key=order_key)
        riders = self._riders(pending)
        ridden = {r.address for group in riders.values() for r in group}
        pending = [c for c in pending if c.address not in ridden]
        for _, group in itertools.groupby(pending, key=lambda c: order_key(c)[:2]):
            await self.rank(list(group), riders, cascades)
        for parent, orphans in cascades.items():
            # Their parent's replacement never ran its delete.
            self.skip_all(orphans, NOT_STARTED if self.stop.is_set() else f"depends on {parent}, which did not succeed")

    def _riders(self, changes: list[Change]) -> dict[Address, list[Change]]:
        """Changes carried in the bulk call of another change of this phase."""
        bulk = {c.address for c in changes if self.executor.bulk(c)}
        out: dict[Address, list[Change]] = {}
        for c in changes:
            parent = self.executor.rides_with(c)
            if parent is not None and parent in bulk:
                out.setdefault(parent, []).append(c)
        return out

    async def rank(
        self, group: list[Change], riders: dict[Address, list[Change]], cascades: dict[Address, list[Change]]
    ) -> None:
        ready = []
        for change in group:
            dep = next((d for d in change.depends_on if d in self.blocked), None)
            if dep is None:
                ready.append(change)
                continue
            self.settle(Skipped(change, f"depends on {dep}, which did not succeed"))
            for rider in riders.get(change.address, ()):
                self.settle(Skipped(rider, f"depends on {change.address}, which did not succeed"))
        bulk = [c for c in ready if self.executor.bulk(c)]
        single = [c for c in ready if not self.executor.bulk(c)]
        # A bulk replacement deletes first, on its own; its create goes in the bulk call.
        removing = [c for c in bulk if c.action is Action.REPLACE and c.reason is not Reason.PARENT_REPLACED]
        await asyncio.gather(*(self.unit([c], self._remove(c), report_done=False) for c in removing))
        for change in removing:
            self._cascade(change, cascades)
            if change.address in self.blocked:
                for rider in riders.get(change.address, ()):
                    self.settle(Skipped(rider, f"depends on {change.address}, which did not succeed"))
        bulk = [c for c in bulk if c.address not in self.blocked]
        size = max(1, self.executor.server.batch_size)
        chunks = [bulk[i : i + size] for i in range(0, len(bulk), size)]
        await asyncio.gather(
            *(self.batch(chunk, [r for c in chunk for r in riders.get(c.address, ())]) for chunk in chunks),
            *(self.unit([c], self._one(c)) for c in single),
        )
        for change in single:
            self._cascade(change, cascades)

    def _cascade(self, change: Change, cascades: dict[Address, list[Change]]) -> None:
        """Settle the changes the server deleted with `change`'s replaced resource."""
        if change.action is not Action.REPLACE:
            return
        for child in cascades.pop(change.address, []):
            if change.address in self.removed:
                self.settle(Done(child, child.address.name, "deleted with its provider"))
            elif self.stop.is_set():
                self.settle(Skipped(child, NOT_STARTED))
            else:
                self.settle(Skipped(child, f"depends on {change.address}, which did not succeed"))

    # -- units: one slot, one call ---------------------------------------------------------

    def _one(self, change: Change) -> Callable[[], Awaitable[Sequence[Outcome]]]:
        async def call() -> Sequence[Outcome]:
            if change.action is Action.DELETE:
                return [await self.executor.delete(change)]
            if change.action is Action.REPLACE and change.reason is not Reason.PARENT_REPLACED:
                return [await self._replace(change)]
            return [await self.executor.save(change)]

        return call

    def _remove(self, change: Change) -> Callable[[], Awaitable[Sequence[Outcome]]]:
        async def call() -> Sequence[Outcome]:
            outcome = await self.executor.delete(change)
            if isinstance(outcome, Done):
                self.removed.add(change.address)
            return [outcome]

        return call

    async def _replace(self, change: Change) -> Outcome:
        """Delete, then create: the one place a replacement is written."""
        removed = await self.executor.delete(change)
        if not isinstance(removed, Done):
            return removed
        self.removed.add(change.address)
        try:
            outcome = await self.executor.save(change)
        except PlatformError as exc:
            outcome = failed(change, exc)
        if not isinstance(outcome, Failed):
            return outcome
        gone, again = self.executor.replace_words
        return Failed(
            change,
            f"{gone}, but {again} it again failed: {outcome.message}; run apply again to create it",
            outcome.status,
            outcome.unknown,
            outcome.code,
        )

    async def batch(self, chunk: list[Change], riding: list[Change]) -> None:
        async def call() -> Sequence[Outcome]:
            return await self.executor.save_batch([*chunk, *riding])

        await self.unit([*chunk, *riding], call)

    async def unit(
        self,
        changes: list[Change],
        call: Callable[[], Awaitable[Sequence[Outcome]]],
        *,
        report_done: bool = True,
    ) -> None:
        """Runs one call in a slot and settles each of its changes exactly once.
        `report_done=False`: the first half of a replacement, whose `Done` is not the end."""
        if not await self._slot():
            self.skip_all(changes, NOT_STARTED)
            return
        addresses = {c.address for c in changes}
        try:
            if self.stop.is_set():
                self.skip_all(changes, NOT_STARTED)
                return
            if self.executor.down is not None:
                self.skip_all(changes, f"not started: {self.executor.down}")
                return
            self.executor.in_flight |= addresses
            outcomes = await self._outcomes(changes, call)
        finally:
            self.slots.release()
        # Not in a `finally`: a cancelled write stays in flight, its outcome unknown.
        self.executor.in_flight -= addresses
        for outcome in outcomes:
            if report_done or not isinstance(outcome, Done):
                self.settle(outcome)

    async def _outcomes(
        self, changes: list[Change], call: Callable[[], Awaitable[Sequence[Outcome]]]
    ) -> list[Outcome]:
        try:
            given = list(await call())
        except PlatformError as exc:
            return [failed(c, exc) for c in changes]
        # A catch-all on purpose: an adapter's bug must not lose the summary of what was already
        # done; it is logged with its traceback and each change reported as an internal failure.
        except Exception as exc:  # noqa: BLE001
            _log.exception(
                "internal error while applying %d change(s) on server %r", len(changes), self.executor.server.name
            )
            return [_internal(c, exc) for c in changes]
        known = {o.change.address for o in given}
        # Every change gets an outcome, even if an adapter forgot one.
        return given + [Skipped(c, "not carried out") for c in changes if c.address not in known]

    async def _slot(self) -> bool:
        """Takes a slot, or gives up (False) when `stop` is set while waiting for one: after
        Ctrl-C the changes still queued are skipped at once, so that whatever has no outcome
        yet is exactly what is in flight."""
        if not self.slots.locked():
            await self.slots.acquire()
            return True
        acquire = asyncio.ensure_future(self.slots.acquire())
        stopped = asyncio.ensure_future(self.stop.wait())
        try:
            await asyncio.wait((acquire, stopped), return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            acquire.cancel()
            raise
        finally:
            stopped.cancel()
        if acquire.done() and not acquire.cancelled():
            return True
        acquire.cancel()
        return False
