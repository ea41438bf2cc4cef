"""Kubiya Agent Control Plane adapter: custom integrations at `/api/v1/custom-integrations`.

Canonical body (desired and live alike, `reconciler.kinds.kubiya`): `type`, `description`,
`config` as the server stores it (defaults filled), `tags` sorted, without any ownership
marker (`managed-by:reconciler` for the default scope, `managed-by:reconciler:<owner>` for
another; this server's scope's marker is written on every write, replacing any other, except
an update under read-only adoption (`--no-adopt`), which keeps the row unmarked), and
`status` (`active` or `inactive`; a create cannot carry it, so an inactive integration is
created and then switched off with a PUT).

Reading takes two list calls: the default list (active and inactive rows) and
`status=deleted`, because a soft-deleted row still holds its name (a create into it would
answer 500); the planner revives such rows with a PUT instead.

Apply lock: the API's one atomic primitive is the 409 on a name that exists, so the lock is
an integration named `reconciler-lock` (`reconciler-lock-<owner>` for an ownership scope)
whose tags hold its holder and expiry (`reconciler-lock-holder:...`,
`reconciler-lock-expires:<epoch seconds>`). Creating it is the compare-and-set; a lock past
its expiry is removed (by id, so that a lock someone else just took is never removed) and
taken again; releasing it is a hard delete (a soft-deleted row would hold the name). The lock
row is left out of everything read.

Writes: a create that got no answer (or a 5xx) may have been written, so before trying again
the adapter lists the server and adopts the integration if it is there; a 409 after such a
lost answer is therefore success. Right before each update or delete the adapter reads the
row again and refuses to overwrite it if it changed since the plan (its `updated_at` moved).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from reconciler.errors import PlatformError, UnreachableError
from reconciler.kinds import canonical_resource, keep_ignored
from reconciler.kinds import kubiya as kinds_kubiya
from reconciler.model import (
    Address,
    LiveResource,
    Resource,
    ResourceKind,
    ServerKind,
    kubiya_marker,
    owner_of_kubiya_tag,
    reveal,
)
from reconciler.outcomes import Done, Failed, FailureCode, Outcome, conflict, failure_code
from reconciler.plan import Action, Change, Reason
from reconciler.platforms import wire
from reconciler.platforms.answers import decode
from reconciler.platforms.auth import BearerAuth
from reconciler.platforms.base import (
    AskedAhead,
    Platform,
    credential,
    gather_or_cancel,
    row_id,
    share_declared,
    stale,
)
from reconciler.platforms.http import HttpClient, quote
from reconciler.platforms.kubiya_lock import LOCK_NAME, ApplyLock, is_lock
from reconciler.platforms.retry import RetryPolicy
from reconciler.platforms.transports import Transport

BASE = "/api/v1/custom-integrations"
CREATE_ATTEMPTS = 4
ADOPTED = "adopted: written by an earlier try whose answer was lost"
# Fields a PUT leaves out when `ignore_changes` names them whole: the server keeps its own.
_PUT_OMITS = {"description": "description", "type": "integration_type", "status": "status", "config": "config"}


class KubiyaPlatform(Platform):
    kind = ServerKind.KUBIYA

    def __init__(
        self,
        server: Any,
        client: HttpClient | None = None,
        *,
        transport: Transport | None = None,
        credentials: Mapping[str, str] | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        """`client`: the HTTP client to use (else one is made on `transport`, retrying by
        `retry`); `credentials`: the values of credentials the server does not declare (see
        `platforms.connect`)."""
        if client is None:
            # The token is needed only for the client's auth: a client passed in carries its own.
            client = HttpClient(
                server, BearerAuth(credential(server, "token", credentials)), transport=transport, retry=retry
            )
        super().__init__(server, client)
        self.apply_lock = ApplyLock(self.client, self.server, self._lock_rows)
        self._listing = AskedAhead[tuple[Iterator[Any], Iterator[Any]]]()

    def _address(self, name: str) -> Address:
        return Address(ResourceKind.INTEGRATION, self.server.name, (), name)

    def prepare(self, resource: Resource) -> Resource:
        return canonical_resource(resource)

    @property
    def marker(self) -> str:
        return kubiya_marker(self.server.owner)

    def from_wire(self, raw: Any) -> LiveResource:
        """A list row as a live resource; `WireShapeError` when it has the wrong shape."""
        row = wire.record(raw, "an integration")
        tags = wire.strings(row, "tags")
        config = wire.optional_record(row, "config")
        for key in ("env_vars", "connection_test"):
            wire.optional_record(config, key)
        wire.records(config, "files")
        wire.items(config, "secrets")
        owners = sorted({o for o in (owner_of_kubiya_tag(t) for t in tags) if o is not None})
        status = row.get("status")
        body = {
            "type": row.get("integration_type"),
            "description": row.get("description"),
            "config": config,
            "tags": tags,
            "status": status if status in kinds_kubiya.STATUSES else None,
        }
        return LiveResource(
            address=self._address(wire.text(row, "name")),
            id=wire.text(row, "id"),
            body=kinds_kubiya.canonical(body),
            managed=bool(owners),
            # Two scopes' markers on one row: this scope's counts (it can only be there
            # because this scope wrote it).
            owner=self.server.owner if self.server.owner in owners else (owners[0] if owners else ""),
            deleted=status == "deleted",
            version=str(row.get("updated_at", "")),
        )

    # -- the apply lock (see kubiya_lock) --------------------------------------------------

    supports_lock = True

    @property
    def lock_name(self) -> str:
        return self.apply_lock.name

    async def lock(self, holder: str, timeout: float) -> None:
        await self.apply_lock.take(holder, timeout)

    async def unlock(self) -> None:
        await self.apply_lock.release()

    async def break_lock(self) -> str | None:
        return await self.apply_lock.break_()

    async def _rows(self, status: str | None = None, integration_type: str | None = None) -> Iterator[Any]:
        """The list, filtered by the API's `status` and `integration_type` where given."""
        params = {k: v for k, v in (("status", status), ("integration_type", integration_type)) if v}
        return await self.client.get_items(BASE, params=params or None)

    async def _list(self, status: str | None = None, integration_type: str | None = None) -> list[dict[str, Any]]:
        return list(await self._rows(status, integration_type))

    async def _lock_rows(self, status: str | None = None) -> list[dict[str, Any]]:
        """The rows of the lock's type: a look at the lock is one small answer, not the
        server's whole list, which the apply then reads anyway. A server that ignored the
        filter would answer every row, which the lock sifts as well."""
        return await self._list(status, LOCK_NAME)

    async def warm(self) -> None:
        """Asks for the lists `read` needs: the server makes them while the desired state is
        prepared."""
        await self._listing.start(self._both_lists())

    async def _both_lists(self) -> tuple[Iterator[Any], Iterator[Any]]:
        active, deleted = await gather_or_cancel(self._rows(), self._rows("deleted"))
        return active, deleted

    async def aclose(self) -> None:
        await self._listing.drop()
        await super().aclose()

    async def read(self, desired: Sequence[Resource]) -> list[LiveResource]:
        # Row by row, each shared with its declaration as it is made: the decoded rows of a
        # large server are never all held at once (see `decode_items`).
        active, deleted = await self._listing.take(self._both_lists)
        return share_declared(self._live(itertools.chain(active, deleted)), desired)

    def _live(self, rows: Iterable[Any]) -> Iterator[LiveResource]:
        for row in rows:
            item = self.from_wire(row)  # first: a row of the wrong shape is refused as such
            if not is_lock(row):
                yield item

    def _payload(self, change: Change, live_row: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The full body of a create or PUT (a revive adds `status: active`)."""
        assert change.desired is not None
        body = change.desired.body
        payload: dict[str, Any] = {
            "name": change.address.name,
            "integration_type": body["type"],
            "description": body.get("description") or "",
            "config": reveal(body["config"]),
            "tags": sorted({*body.get("tags", []), *self._markers(change, live_row)}),
        }
        if live_row is not None:
            payload["status"] = body.get("status") or kinds_kubiya.DEFAULT_STATUS
        ignored = change.desired.lifecycle.ignore_changes
        if live_row is not None and ignored:
            live = self.from_wire(live_row).body
            # A PUT leaves out what it does not carry: the server keeps it.
            keep_ignored(payload, live, ignored, omit=_PUT_OMITS, copy=("config",))
            if any(p.partition(".")[0] == "tags" for p in ignored):
                payload["tags"] = sorted({*live["tags"], *self._markers(change, live_row)})
        return payload

    def _markers(self, change: Change, live_row: Mapping[str, Any] | None) -> set[str]:
        """The ownership tags a write carries: this scope's marker, or, on an update that must
        not mark (read-only adoption), the markers the live row has (none: it is unmanaged)."""
        assert change.desired is not None
        if change.desired.mark or live_row is None:
            return {self.marker}
        return {t for t in live_row.get("tags") or [] if isinstance(t, str) and owner_of_kubiya_tag(t) is not None}

    async def _get(self, change: Change) -> dict[str, Any] | None:
        response = await self.client.request(
            "GET", f"{BASE}/{quote(change.live_id or '')}", address=str(change.address), ok=(200, 404)
        )
        if response.status_code == 404:
            return None
        row = decode(response, f"GET {BASE}/{{id}}")
        return row if isinstance(row, dict) else None

    async def _find(self, name: str) -> dict[str, Any] | None:
        for row in await self._list():
            if isinstance(row, dict) and row.get("name") == name:
                return row
        return None

    async def _create(self, change: Change) -> Outcome:
        payload = self._payload(change)
        # `lost`: a try may have been written without us hearing so (its answer was lost, or
        # was a 5xx, which Kubiya can give after committing). Then look before trying again.
        lost = False
        answers: list[str] = []
        # The one retry policy's tries (at least CREATE_ATTEMPTS: a create is worth more looks).
        attempts = max(CREATE_ATTEMPTS, self.client.retry.attempts)
        for attempt in range(attempts):
            if lost:
                found = await self._look_back(change, answers, attempt)
                if found is not None:
                    return found
            lost, outcome = await self._try_create(change, payload, answers, lost, last=attempt + 1 == attempts)
            if outcome is not None:
                return outcome
            if not lost:
                await self.client.backoff(attempt + 1)
        return Failed(
            change,
            f"POST {self.client.url_of(BASE)}: no success after {attempts} tries ({_counted(answers)}); "
            "it may have been written; the next plan will tell",
            unknown=lost,
            code=FailureCode.SERVER if any(a.startswith("HTTP") for a in answers) else FailureCode.UNREACHABLE,
        )

    async def _look_back(self, change: Change, answers: list[str], attempt: int) -> Outcome | None:
        """After a try that may have been written: wait, then adopt the row if it is there.
        None: it is not, try again."""
        try:
            await self.client.backoff(attempt)
            row = await self._find(change.address.name)
        except PlatformError as exc:
            return Failed(
                change,
                f"POST {self.client.url_of(BASE)}: {'; '.join(answers)}; reading it back then failed "
                f"({exc}): it may have been written; the next plan will tell",
                exc.status,
                unknown=True,
                code=failure_code(exc),
            )
        if row is None:
            return None
        return await self._after_create(change, row, ADOPTED)

    async def _try_create(
        self, change: Change, payload: Mapping[str, Any], answers: list[str], lost: bool, *, last: bool
    ) -> tuple[bool, Outcome | None]:
        """One try of a create: whether a try may now have been written unheard, and the
        outcome (None: try again)."""
        try:
            response = await self.client.request(
                "POST", BASE, json_body=payload, retry=False, address=str(change.address), ok=(201, 409)
            )
        except UnreachableError as exc:
            if exc.sent:
                answers.append("no answer")
                return True, None
            answers.append("no connection")
            if not lost and (self.client.down is not None or last):
                raise  # nothing reached the server: a plain failure, or skipped
            return lost, None
        except PlatformError as exc:
            if not exc.retryable:
                raise
            answers.append(f"HTTP {exc.status}")
            return True, None
        if response.status_code == 409:
            row = await self._find(change.address.name) if lost else None
            if row is not None:
                return lost, await self._after_create(change, row, ADOPTED)
            return lost, conflict(change, "was created by someone else")
        return lost, await self._after_create(change, decode(response, f"POST {BASE}"))

    async def _after_create(self, change: Change, row: Mapping[str, Any], note: str = "") -> Outcome:
        """A create cannot carry a status: an integration declared inactive is switched off
        right after it is created."""
        assert change.desired is not None
        want = change.desired.body.get("status") or "active"
        new_id = row_id(row, f"POST {BASE}")
        if want != "active" and row.get("status") != want:
            await self.client.request(
                "PUT",
                f"{BASE}/{quote(new_id)}",
                json_body={"status": want},
                address=str(change.address),
            )
        return Done(change, new_id, note)

    async def save(self, change: Change) -> Outcome:
        if change.action in (Action.CREATE, Action.REPLACE) and change.reason is not Reason.REVIVE:
            # A replacement's create comes after its delete (see `apply`).
            return await self._create(change)
        row = await self._get(change)
        problem = stale(change, None if row is None else str(row.get("updated_at", "")))
        if problem is not None or row is None:
            return problem or conflict(change, "was deleted")
        live_id = row_id(row, f"GET {BASE}/{{id}}")
        payload = self._payload(change, row)
        response = await self.client.request(
            "PUT", f"{BASE}/{quote(live_id)}", json_body=payload, address=str(change.address)
        )
        updated = decode(response, f"PUT {BASE}/{{id}}")
        return Done(change, str(updated.get("id") or live_id) if isinstance(updated, dict) else live_id)

    async def delete(self, change: Change) -> Outcome:
        """A delete is soft (the row stays, `deleted`); a replacement's delete is hard, since a
        soft-deleted row would hold the name against the create that follows."""
        replacing = change.action is Action.REPLACE
        row = await self._get(change)
        if not replacing and (row is None or row.get("status") == "deleted"):
            return Done(change, change.live_id, "already gone")
        problem = stale(change, None if row is None else str(row.get("updated_at", "")))
        if problem is not None or row is None:
            return problem or conflict(change, "was deleted")
        live_id = row_id(row, f"GET {BASE}/{{id}}")
        params = {"hard_delete": "true"} if replacing else None
        await self.client.request(
            "DELETE", f"{BASE}/{quote(live_id)}", params=params, address=str(change.address), ok=(204, 404)
        )
        return Done(change, live_id)


def _counted(answers: list[str]) -> str:
    """`HTTP 500 ×4, no answer ×2`: what the tries of a create got, in order of first sight."""
    counts: dict[str, int] = {}
    for answer in answers:
        counts[answer] = counts.get(answer, 0) + 1
    return ", ".join(f"{a} ×{n}" if n > 1 else a for a, n in counts.items())
