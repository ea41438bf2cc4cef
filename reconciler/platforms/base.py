"""What every platform adapter offers, with the default (one call per change) bulk behaviour.

An adapter reads a server's live state into `LiveResource`s normalized to the desired shape,
prepares desired resources (server defaults filled in, write-only fingerprints computed), and
carries out changes. `save_many`/`delete_many` loop over `save_one`/`delete_one` with bounded
parallelism unless the adapter has a bulk endpoint (Conductor overrides `save_many`).

Within one call, changes run rank by rank (`plan.ORDER`): a change whose dependency failed
or was skipped is skipped, with the reason. Once `stop` is set no new change starts; changes
not started are reported as skipped, calls in flight finish.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

from reconciler.errors import (
    ConflictError,
    Diagnostic,
    PlatformError,
    ServerDownError,
    UnreachableError,
    WireShapeError,
)
from reconciler.model import Address, LiveResource, Resource, ServerConfig, ServerKind
from reconciler.plan import NOT_STARTED, Action, Change, Done, Failed, Outcome, Skipped, order_key
from reconciler.platforms.http import HttpClient

_log = logging.getLogger(__name__)

Report = Callable[[Outcome], None]

INTERRUPTED = NOT_STARTED


def failed(change: Change, exc: PlatformError) -> Outcome:
    """The outcome of a change whose request failed. It is unknown whether it was carried out
    only when a write may have reached the server; a change never started (the server's
    circuit is open or its deadline passed) is skipped."""
    if isinstance(exc, ServerDownError):
        return Skipped(change, f"not started: {server_down_reason(exc)}")
    message = str(exc)
    if exc.hint:
        message += f" (hint: {exc.hint})"
    sent = exc.sent if isinstance(exc, UnreachableError) else exc.maybe_written
    unknown = sent and change.action is not Action.NOOP
    return Failed(change, message, exc.status, unknown=unknown)


def server_down_reason(exc: ServerDownError) -> str:
    text = str(exc)
    return text.split(": not sent: ", 1)[-1]


def conflict(change: Change, what: str) -> Failed:
    return Failed(
        change,
        f"{change.address} {what} since the plan was made; not overwritten "
        "(another apply or a person changed it: run plan again)",
        409,
    )


class Platform(ABC):
    kind: ServerKind

    def __init__(self, server: ServerConfig, client: HttpClient | None = None) -> None:
        assert client is not None, "adapters build their client in their own __init__"
        self.server = server
        self.client = client
        # Warnings learned while reading (e.g. a catalog that could not be read), for the plan.
        self.diagnostics: list[Diagnostic] = []
        # Changes in progress at once. The stop flag is checked once a change holds a slot,
        # so that after Ctrl-C the queued changes are skipped, not started.
        self._changes = asyncio.Semaphore(max(1, server.parallelism))
        # Changes whose write has started and not yet ended: what a hard stop leaves unknown.
        self.in_flight: set[Address] = set()

    @abstractmethod
    async def read(self, desired: Sequence[Resource]) -> list[LiveResource]:
        """Every resource of this server the reconciler can see, with the fewest requests."""

    async def warm(self) -> None:
        """Learn what `prepare` needs from the server (e.g. a catalog), before any prepare."""
        return None

    async def read_live(self, desired: Sequence[Resource]) -> list[LiveResource]:
        """`read`, with an answer of an unexpected shape (valid JSON, wrong rows, as each
        adapter's `from_wire` finds it) turned into a clear error. Anything else an adapter
        raises is its own bug and surfaces as itself."""
        try:
            return await self.read(desired)
        except WireShapeError as exc:
            _log.debug("reading server %r failed on an unexpected row shape", self.server.name, exc_info=True)
            raise PlatformError(
                f"the server's list answer has an unexpected shape ({exc})",
                hint=f"check that {self.server.url} is a {self.kind.value} server",
            ) from exc

    def prepare(self, resource: Resource) -> Resource:
        """The desired resource in the exact shape `read` produces (defaults filled in)."""
        return resource

    # Whether the API offers an atomic primitive to build an apply lock on.
    supports_lock = False

    async def lock(self, holder: str, timeout: float) -> None:
        """Take the apply lock of this server's ownership scope, waiting up to `timeout`
        seconds; raises `LockedError` naming the holder. A no-op where the API offers no
        atomic primitive (see the README: the re-check before each write is all there is)."""
        return None

    async def unlock(self) -> None:
        """Release the lock `lock` took, if any."""
        return None

    async def break_lock(self) -> str | None:
        """Remove the apply lock whoever holds it; the holder it named, None when none."""
        return None

    @abstractmethod
    async def save_one(self, change: Change) -> Outcome:
        """Carry out a create, update or replace."""

    @abstractmethod
    async def delete_one(self, change: Change) -> Outcome:
        """Carry out a delete."""

    async def delete_many(self, changes: Sequence[Change], report: Report, stop: asyncio.Event) -> None:
        await self._run_ranked(changes, self.delete_one, report, stop)

    async def save_many(self, changes: Sequence[Change], report: Report, stop: asyncio.Event) -> None:
        await self._run_ranked(changes, self.save_one, report, stop)

    async def _run_ranked(
        self,
        changes: Sequence[Change],
        run: Callable[[Change], Any],
        report: Report,
        stop: asyncio.Event,
        blocked: set[Address] | None = None,
    ) -> None:
        blocked = blocked if blocked is not None else set()
        ordered = sorted(changes, key=order_key)
        for _, group in itertools.groupby(ordered, key=lambda c: order_key(c)[:2]):
            batch = list(group)
            await asyncio.gather(*(self._guarded(c, run, report, stop, blocked) for c in batch))

    async def _guarded(
        self,
        change: Change,
        run: Callable[[Change], Any],
        report: Report,
        stop: asyncio.Event,
        blocked: set[Address],
    ) -> None:
        dep = next((d for d in change.depends_on if d in blocked), None)
        if dep is not None:
            blocked.add(change.address)
            report(Skipped(change, f"depends on {dep}, which did not succeed"))
            return
        if not await self._slot(stop):
            blocked.add(change.address)
            report(Skipped(change, INTERRUPTED))
            return
        try:
            if stop.is_set():
                blocked.add(change.address)
                report(Skipped(change, INTERRUPTED))
                return
            if self.client.down is not None:
                blocked.add(change.address)
                report(Skipped(change, f"not started: {self.client.down}"))
                return
            self.in_flight.add(change.address)
            outcome = await run(change)
        except ConflictError as exc:
            outcome = conflict(change, str(exc))
        except PlatformError as exc:
            outcome = failed(change, exc)
        finally:
            self._changes.release()
        # Not in a `finally`: a cancelled write stays in flight, its outcome unknown.
        self.in_flight.discard(change.address)
        if not isinstance(outcome, Done):
            blocked.add(change.address)
        report(outcome)

    async def _slot(self, stop: asyncio.Event) -> bool:
        """Takes a change slot, or gives up (False) when `stop` is set while waiting for one:
        after Ctrl-C the changes still queued are skipped at once, so that whatever has no
        outcome yet is exactly what is in flight."""
        if not self._changes.locked():
            await self._changes.acquire()
            return True
        acquire = asyncio.ensure_future(self._changes.acquire())
        stopped = asyncio.ensure_future(stop.wait())
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

    async def aclose(self) -> None:
        await self.client.aclose()


def text_field(row: Any, key: str) -> str:
    """A required string field of a list row; anything else is an unexpected answer."""
    if not isinstance(row, dict):
        raise TypeError(f"a row is {type(row).__name__}, not an object")
    value = row[key]
    if not isinstance(value, str):
        raise TypeError(f"`{key}` is {type(value).__name__}, not a string")
    return value


def sandbox_credentials(server: ServerConfig, field: str, default: str) -> str:
    """A credential's value; the sandbox's built-in one when a `sandbox:` server names none."""
    value = server.credentials.get(field)
    if value is not None:
        return value.reveal()
    if server.is_sandbox:
        return default
    raise PlatformError(
        f"server {server.name!r} has no {field}",
        hint=f"add `{field}: ${{env:...}}` to servers.{server.name}",
    )
