"""What every platform adapter offers: small verbs, with the default bulk behaviour.

An adapter reads a server's live state into `LiveResource`s normalized to the desired shape,
prepares desired resources (server defaults filled in, write-only fingerprints computed), and
carries out single changes: `check` (conflicts found by one look before a phase writes),
`save`, `save_batch` (a loop over `save` unless the API has a bulk endpoint: Conductor
overrides it) and `delete`. It never orders, blocks, interrupts or bounds changes: `apply`
schedules everything from `plan.ORDER` (a replacement is its `delete`, then its `save`).
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from reconciler import diff
from reconciler.errors import Diagnostic, PlatformError, WireShapeError
from reconciler.model import Address, LiveResource, Resource, ServerConfig, ServerKind
from reconciler.outcomes import Failed, Outcome, conflict, failed
from reconciler.plan import Action, Change, Reason
from reconciler.platforms.http import HttpClient

_log = logging.getLogger(__name__)

T = TypeVar("T")


class AskedAhead(Generic[T]):
    """A read asked for before the step that uses it: a list `warm` starts, answered while the
    desired state is prepared, so that the server works on it meanwhile. Taken once; dropped
    (cancelled) when the platform closes without using it."""

    def __init__(self) -> None:
        self._future: asyncio.Future[T | None] | None = None

    async def start(self, fetch: Awaitable[T | None]) -> None:
        """Asks for `fetch` now (an answer asked for earlier and not taken is dropped)."""
        await self.drop()
        self._future = asyncio.ensure_future(fetch)

    async def take(self, fetch: Callable[[], Awaitable[T]]) -> T:
        """The answer asked for ahead, or, when none was (or it came back None), `fetch()` now."""
        future, self._future = self._future, None
        got = None if future is None else await future
        return got if got is not None else await fetch()

    async def drop(self) -> None:
        future, self._future = self._future, None
        if future is not None:
            future.cancel()
            await asyncio.gather(future, return_exceptions=True)


async def gather_or_cancel(*reads: Awaitable[T]) -> list[T]:
    """Each read's answer, in order. When one fails, the others are cancelled rather than left
    running against the server, and the first failure is raised as itself."""
    tasks = [asyncio.ensure_future(r) for r in reads]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def stale(change: Change, version: str | None, *, gone: str = "was deleted") -> Failed | None:
    """The one version check before a write: the conflict when the server's copy is not the
    one the plan was made against (`version`: its version token now, None when it is gone), or
    None when the write may go ahead. A create (a revive excepted) expects no copy at all."""
    if change.action is Action.CREATE and change.reason is not Reason.REVIVE:
        return None if version is None else conflict(change, "was created by someone else")
    if version is None:
        return conflict(change, gone)
    if version != (change.live_version or ""):
        return conflict(change, "changed")
    return None


def row_id(row: Any, what: str) -> str:
    """The `id` of a row a server answered, or a clear error when the answer has none."""
    value = row.get("id") if isinstance(row, Mapping) else None
    if value is None or value == "":
        raise PlatformError(f"{what}: the server's answer has an unexpected shape (no `id`)")
    return str(value)


class Platform(ABC):
    kind: ServerKind

    def __init__(self, server: ServerConfig, client: HttpClient | None = None) -> None:
        assert client is not None, "adapters build their client in their own __init__"
        self.server = server
        self.client = client
        # Warnings learned while reading (e.g. a catalog that could not be read), for the plan.
        self.diagnostics: list[Diagnostic] = []
        # Changes whose write has started and not yet ended (`apply` keeps it): what a hard
        # stop leaves unknown.
        self.in_flight: set[Address] = set()

    @abstractmethod
    async def read(self, desired: Sequence[Resource]) -> list[LiveResource]:
        """Every resource of this server the reconciler can see, with the fewest requests,
        each shared with its declaration in `desired` (see `share_declared`)."""

    async def warm(self) -> None:
        """Learn what `prepare` needs from the server (e.g. a catalog), before any prepare,
        and ask for what `read` will need (see `AskedAhead`)."""
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

    # How a replacement's halves are named when the second one fails (see `apply`).
    replace_words = ("deleted", "creating")

    @property
    def down(self) -> str | None:
        """Why the server is given up for this command (its circuit is open), or None."""
        return self.client.down

    def bulk(self, change: Change) -> bool:
        """Whether `change` goes through `save_batch` (only where the API has a bulk endpoint)."""
        return False

    def rides_with(self, change: Change) -> Address | None:
        """The bulk change whose call may carry `change` too; None: it is saved on its own."""
        return None

    async def check(self, changes: Sequence[Change]) -> Sequence[Outcome]:
        """Conflicts found by one look before a phase writes (none by default: each verb checks
        its resource right before its write)."""
        return ()

    @abstractmethod
    async def save(self, change: Change) -> Outcome:
        """Carry out a create or an update (or the create half of a replacement)."""

    async def save_batch(self, changes: Sequence[Change]) -> Sequence[Outcome]:
        """Several saves: one `save` after another, unless the API has a bulk endpoint."""
        outcomes: list[Outcome] = []
        for change in changes:
            try:
                outcomes.append(await self.save(change))
            except PlatformError as exc:
                outcomes.append(failed(change, exc))
        return outcomes

    @abstractmethod
    async def delete(self, change: Change) -> Outcome:
        """Carry out a delete, or the delete half of a replacement (for good, and after the
        same version check as an update)."""

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


def credential(server: ServerConfig, field: str, defaults: Mapping[str, str] | None = None) -> str:
    """A credential's value: the server's own, else the default passed in for it (the
    composition root passes the sandbox's built-in ones for a `sandbox:` server that names none)."""
    value = server.credentials.get(field)
    if value is not None:
        return value.reveal()
    if defaults is not None and field in defaults:
        return defaults[field]
    raise PlatformError(
        f"server {server.name!r} has no {field}",
        hint=f"add `{field}: ${{env:...}}` to servers.{server.name}",
    )


def share_declared(live: Iterable[LiveResource], desired: Sequence[Resource]) -> list[LiveResource]:
    """The live resources with every part equal to its declared counterpart held once (see
    `diff.shared`): the live copy of an unchanged resource is then freed as soon as it is read
    (as each is made, when `live` is made as it is iterated)."""
    declared = {r.address: r for r in desired}
    out: list[LiveResource] = []
    for item in live:
        want = declared.get(item.address)
        if want is not None:
            # The declared address too: equal, and held once.
            item = item.with_body(diff.shared(item.body, want.body), want.address)
        out.append(item)
    return out
