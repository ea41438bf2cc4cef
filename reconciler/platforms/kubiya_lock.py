"""The apply lock on a Kubiya server: an integration row named `reconciler-lock` (per
ownership scope: `reconciler-lock-OWNER`) whose creation is the compare-and-set, tagged with its
holder and its expiry. A stale lock (its apply died) is removed by id; a lost answer is found
again by the next look; the soft-delete name trap is cleared."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from reconciler.errors import LockedError, PlatformError, UnreachableError
from reconciler.model import LOCK_TAG_PREFIX, ServerConfig
from reconciler.platforms.answers import decode
from reconciler.platforms.base import row_id
from reconciler.platforms.http import HttpClient, quote

BASE = "/api/v1/custom-integrations"
LOCK_NAME = "reconciler-lock"
LOCK_HOLDER_TAG = LOCK_TAG_PREFIX + "-holder:"
LOCK_EXPIRES_TAG = LOCK_TAG_PREFIX + "-expires:"
# A lock older than this is stale: its apply died without releasing it.
LOCK_TTL = 15 * 60
# The longest wait between two looks at a held lock.
LOCK_POLL_CAP = 0.5



def is_lock(row: Mapping[str, Any]) -> bool:
    """Whether a row is the apply lock (kept apart from what is planned)."""
    return any(isinstance(t, str) and t.startswith(LOCK_TAG_PREFIX) for t in row.get("tags") or [])


# Body fields under `ignore_changes` left out of a PUT, by their payload key.

class ApplyLock:
    """The apply lock of one server's ownership scope. `list_rows(status)`: the server's
    integration rows (of that status: None for active ones)."""

    def __init__(
        self,
        client: HttpClient,
        server: ServerConfig,
        list_rows: Callable[[str | None], Awaitable[list[dict[str, Any]]]],
    ) -> None:
        self.client = client
        self.server = server
        self._list_rows = list_rows
        # The lock row this run holds, and why the last try to take it failed (for the error).
        self.lock_id: str | None = None
        self.failure = ""


    @property
    def name(self) -> str:
        """`reconciler-lock`, or `reconciler-lock-OWNER` for a scope's own lock."""
        return LOCK_NAME if not self.server.owner else f"{LOCK_NAME}-{self.server.owner}"

    def info(self, row: Mapping[str, Any]) -> tuple[str, float]:
        holder, expires = "unknown", 0.0
        for tag in row.get("tags") or []:
            if isinstance(tag, str) and tag.startswith(LOCK_HOLDER_TAG):
                holder = tag[len(LOCK_HOLDER_TAG) :]
            elif isinstance(tag, str) and tag.startswith(LOCK_EXPIRES_TAG):
                try:
                    expires = float(tag[len(LOCK_EXPIRES_TAG) :])
                except ValueError:
                    expires = 0.0  # unreadable: treated as expired
        return holder, expires

    async def find(self, status: str | None = None) -> dict[str, Any] | None:
        for row in await self._list_rows(status):
            if isinstance(row, dict) and row.get("name") == self.name and is_lock(row):
                return row
        return None

    async def remove(self, lock_id: str) -> None:
        await self.client.request(
            "DELETE",
            f"{BASE}/{quote(lock_id)}",
            params={"hard_delete": "true"},
            address=f"lock {self.name}",
            ok=(204, 404),
        )

    async def take(self, holder: str, timeout: float) -> None:
        me = f"{holder}/{uuid.uuid4().hex[:8]}"
        deadline = time.monotonic() + timeout
        other, until = "", 0.0
        for look in itertools.count(1):
            # Look first: a held lock costs no write, and an unreadable server gets none.
            row = await self.find()
            if row is not None:
                other, until = self.info(row)
                if other == me:
                    self.lock_id = row_id(row, "the lock")  # taken by a try whose answer was lost
                    return
                if until < time.time():
                    # Stale: removed by id, so that a lock someone else took meanwhile stays.
                    await self.remove(row_id(row, "the lock"))
                    if await self._try(me):
                        return
            elif await self._try(me):
                return
            # Every path that did not take the lock waits and counts against the timeout, so
            # that a server which neither grants nor shows the lock cannot hold the run forever.
            left = deadline - time.monotonic()
            if left <= 0:
                if not other:
                    # Taken by another apply between the look and the try: name it.
                    row = await self.find()
                    if row is not None:
                        other, until = self.info(row)
                raise self._locked(other, until)
            # The one retry policy's backoff, capped: a released lock is seen soon.
            await self.client.poll(look, min(LOCK_POLL_CAP, left))

    def _locked(self, other: str, until: float) -> LockedError:
        if not other:
            why = f" (last try: {self.failure})" if self.failure else ""
            return LockedError(
                f"server {self.server.name!r}: could not take the lock {self.name!r}: "
                f"the server neither granted it nor showed who holds it{why}",
                hint="retry later; if an integration not made by reconciler is named "
                f"{self.name!r}, rename it",
            )
        stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(until))
        return LockedError(
            f"server {self.server.name!r}: another apply holds the lock {self.name!r} "
            f"({other}, until {stamp})",
            hint="wait for it (--lock-timeout SECONDS), or, if that apply is dead, remove the lock "
            f"with `reconciler force-unlock FILES --server {self.server.name}`",
        )

    async def _try(self, me: str) -> bool:
        """One compare-and-set: create the lock row. False when someone else was first, or
        when the answer was lost (the next look tells whether this try took it). A server
        error that is not the soft-delete name trap is raised: it is not contention."""
        body = {
            "name": self.name,
            "integration_type": LOCK_NAME,
            "description": "Apply lock of reconciler: another apply on this server waits for it to go",
            "config": {},
            "tags": [f"{LOCK_HOLDER_TAG}{me}", f"{LOCK_EXPIRES_TAG}{int(time.time() + LOCK_TTL)}"],
        }
        try:
            response = await self.client.request(
                "POST", BASE, json_body=body, retry=False, address=f"lock {self.name}", ok=(201, 409, 500)
            )
        except PlatformError as exc:
            if isinstance(exc, UnreachableError) or exc.retryable:
                self.failure = str(exc)
                return False
            raise
        if response.status_code == 201:
            row = decode(response, f"POST {BASE}")
            # No id in the answer: the next look tells whether this try took the lock.
            self.lock_id = str(row["id"]) if isinstance(row, dict) and row.get("id") else None
            return self.lock_id is not None
        if response.status_code == 500:
            # Either the write was carried out and only its answer failed (the published
            # router's 500 after the commit), or a soft-deleted lock row holds the name (the
            # 500 name trap): look which.
            try:
                held = await self.find()
                gone = None if held is not None else await self.find("deleted")
            except PlatformError as exc:
                raise PlatformError(
                    f"POST {self.client.url_of(BASE)} (the lock {self.name!r}) answered 500, and reading it "
                    f"back then failed ({exc}): the lock may have been written",
                    status=500,
                    hint="if no other apply is running, remove it with "
                    f"`reconciler force-unlock FILES --server {self.server.name}`",
                ) from exc
            if held is not None:
                if self.info(held)[0] == me:
                    self.lock_id = row_id(held, "the lock")
                    return True
                return False
            if gone is None:
                raise self.client.error_for("POST", BASE, response, f"lock {self.name}")
            await self.remove(row_id(gone, "the lock"))
        return False

    async def release(self) -> None:
        lock_id = self.lock_id
        if lock_id is not None:
            self.lock_id = None
            await self.remove(lock_id)

    async def break_(self) -> str | None:
        row = await self.find()
        if row is None:
            return None
        await self.remove(row_id(row, "the lock"))
        return self.info(row)[0]

