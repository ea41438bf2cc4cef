"""Kubiya Agent Control Plane adapter: custom integrations at `/api/v1/custom-integrations`.

Canonical body (desired and live alike): `type`, `description` ("" for none: the API
cannot clear it to null, so null and "" are the same), `config` normalized as the server
stores it
(every key present, defaults filled: `files[].mode = "0644"`, missing optional fields null,
`connection_test.enabled = true`, `timeout = 5`), and `tags` sorted, without the
`managed-by:reconciler` marker, which is added on every write.

Reading takes two list calls: the default list (active and inactive rows) and
`status=deleted`, because a soft-deleted row still holds its name (a create into it would
answer 500); the planner revives such rows with a PUT instead.

Writes: a create that got no answer (or a 5xx) may have been written, so before trying again
the adapter lists the server and adopts the integration if it is there; a 409 after such a
lost answer is therefore success. Right before each update or delete the adapter reads the
row again and refuses to overwrite it if it changed since the plan (its `updated_at` moved).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from reconciler.errors import PlatformError, UnreachableError
from reconciler.model import (
    MANAGED_TAG,
    Address,
    LiveResource,
    Resource,
    ResourceKind,
    ServerKind,
    reveal,
)
from reconciler.plan import Action, Change, Done, Failed, Outcome, Reason
from reconciler.platforms.base import Platform, conflict, sandbox_credentials, text_field
from reconciler.platforms.http import BearerAuth, HttpClient, decode, quote

BASE = "/api/v1/custom-integrations"
SANDBOX_TOKEN = "sandbox-kubiya-token"
CREATE_ATTEMPTS = 4


def normalize_config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The config as the server stores it: all keys, defaults filled, unknown keys dropped."""
    config = config or {}
    files = []
    for f in config.get("files") or []:
        files.append(
            {
                "path": f.get("path"),
                "content": f.get("content"),
                "secret_ref": f.get("secret_ref"),
                "mode": f.get("mode") or "0644",
                "description": f.get("description"),
            }
        )
    test = config.get("connection_test")
    if test is not None:
        enabled = test.get("enabled")
        timeout = test.get("timeout")
        test = {
            "enabled": True if enabled is None else enabled,
            "command": test.get("command"),
            "timeout": 5 if timeout is None else timeout,
        }
    return {
        "env_vars": dict(config.get("env_vars") or {}),
        "secrets": list(config.get("secrets") or []),
        "files": files,
        "context_prompt": config.get("context_prompt"),
        "connection_test": test,
    }


def _set_path(body: dict[str, Any], path: str, source: Mapping[str, Any]) -> None:
    """Copy the value at dotted `path` from `source` into `body` (ignore_changes on write)."""
    parts = path.split(".")
    src: Any = source
    dst: Any = body
    for part in parts[:-1]:
        if not isinstance(src, Mapping) or part not in src or not isinstance(dst, dict):
            return
        src = src[part]
        dst = dst.setdefault(part, {})
    if isinstance(src, Mapping) and isinstance(dst, dict) and parts[-1] in src:
        dst[parts[-1]] = src[parts[-1]]


class KubiyaPlatform(Platform):
    kind = ServerKind.KUBIYA

    def __init__(self, server: Any, client: HttpClient | None = None) -> None:
        token = sandbox_credentials(server, "token", SANDBOX_TOKEN)
        super().__init__(server, client or HttpClient(server, BearerAuth(token)))

    def _address(self, name: str) -> Address:
        return Address(ResourceKind.INTEGRATION, self.server.name, (), name)

    def prepare(self, resource: Resource) -> Resource:
        body = dict(resource.body)
        body["config"] = normalize_config(body.get("config"))
        body["description"] = body.get("description") or ""
        body["tags"] = sorted(t for t in body.get("tags") or [] if t != MANAGED_TAG)
        return replace(resource, body=body)

    def _live(self, row: Mapping[str, Any]) -> LiveResource:
        tags = row.get("tags") or []
        return LiveResource(
            address=self._address(text_field(row, "name")),
            id=text_field(row, "id"),
            body={
                "type": row.get("integration_type"),
                "description": row.get("description") or "",
                "config": normalize_config(row.get("config")),
                "tags": sorted(t for t in tags if t != MANAGED_TAG),
            },
            managed=MANAGED_TAG in tags,
            deleted=row.get("status") == "deleted",
            version=str(row.get("updated_at", "")),
        )

    async def _list(self, status: str | None = None) -> list[dict[str, Any]]:
        params = {"status": status} if status else None
        rows = await self.client.get_json(BASE, params=params)
        if not isinstance(rows, list):
            raise PlatformError(f"GET {BASE}: expected a JSON array")
        return rows

    async def read(self, desired: Sequence[Resource]) -> list[LiveResource]:
        active, deleted = await asyncio.gather(self._list(), self._list("deleted"))
        return [self._live(r) for r in active + deleted]

    def _payload(self, change: Change, live_row: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The full body of a create or PUT (a revive adds `status: active`)."""
        assert change.desired is not None
        body = change.desired.body
        payload: dict[str, Any] = {
            "name": change.address.name,
            "integration_type": body["type"],
            "description": body.get("description") or "",
            "config": reveal(body["config"]),
            "tags": sorted({*body.get("tags", []), MANAGED_TAG}),
        }
        if live_row is not None and change.desired.lifecycle.ignore_changes:
            live = self._live(live_row).body
            mapped = {"type": "integration_type"}
            for path in change.desired.lifecycle.ignore_changes:
                head, _, rest = path.partition(".")
                if head == "tags":
                    payload["tags"] = sorted({*live_row.get("tags", []), MANAGED_TAG})
                elif head == "description":
                    payload.pop("description", None)
                elif head == "config" and rest:
                    _set_path(payload["config"], rest, live["config"])
                elif head in mapped:
                    payload.pop(mapped[head], None)
        return payload

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
            if row.get("name") == name:
                return row
        return None

    async def _create(self, change: Change) -> Outcome:
        payload = self._payload(change)
        # `lost`: a try may have been written without us hearing so (its answer was lost, or
        # was a 5xx, which Kubiya can give after committing). Then look before trying again.
        lost = False
        answers: list[str] = []
        attempts = max(CREATE_ATTEMPTS, self.client.retry.attempts)
        for attempt in range(attempts):
            if lost:
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
                    )
                if row is not None:
                    return Done(change, row["id"], "adopted: written by an earlier try whose answer was lost")
            try:
                response = await self.client.request(
                    "POST", BASE, json_body=payload, retry=False, address=str(change.address), ok=(201, 409)
                )
            except UnreachableError as exc:
                if not exc.sent:
                    answers.append("no connection")
                    if not lost and (self.client.down is not None or attempt + 1 == attempts):
                        raise  # nothing reached the server: a plain failure, or skipped
                    if not lost:
                        await self.client.backoff(attempt + 1)
                    continue
                lost = True
                answers.append("no answer")
                continue
            except PlatformError as exc:
                if exc.retryable:
                    lost = True
                    answers.append(f"HTTP {exc.status}")
                    continue
                raise
            if response.status_code == 409:
                if lost:
                    row = await self._find(change.address.name)
                    if row is not None:
                        return Done(change, row["id"], "adopted: written by an earlier try whose answer was lost")
                return conflict(change, "was created by someone else")
            row = decode(response, f"POST {BASE}")
            return Done(change, row.get("id"))
        return Failed(
            change,
            f"POST {self.client.url_of(BASE)}: no success after {attempts} tries ({_counted(answers)}); "
            "it may have been written: the next plan will tell",
            unknown=lost,
        )

    async def save_one(self, change: Change) -> Outcome:
        address = str(change.address)
        if change.action is Action.CREATE and change.reason is not Reason.REVIVE:
            return await self._create(change)
        row = await self._get(change)
        if row is None:
            return conflict(change, "was deleted")
        if str(row.get("updated_at", "")) != (change.live_version or ""):
            return conflict(change, "changed")
        if change.action is Action.REPLACE:
            await self.client.request(
                "DELETE", f"{BASE}/{quote(row['id'])}", params={"hard_delete": "true"}, address=address, ok=(204, 404)
            )
            outcome = await self._create(change)
            if isinstance(outcome, Failed):
                return Failed(
                    change,
                    f"deleted, but creating it again failed: {outcome.message}; run apply again to create it",
                    outcome.status,
                    outcome.unknown,
                )
            return outcome
        payload = self._payload(change, row)
        if change.reason is Reason.REVIVE:
            payload["status"] = "active"
        response = await self.client.request("PUT", f"{BASE}/{quote(row['id'])}", json_body=payload, address=address)
        updated = decode(response, f"PUT {BASE}/{{id}}")
        return Done(change, updated.get("id") if isinstance(updated, dict) else row["id"])

    async def delete_one(self, change: Change) -> Outcome:
        address = str(change.address)
        row = await self._get(change)
        if row is None or row.get("status") == "deleted":
            return Done(change, change.live_id, "already gone")
        if str(row.get("updated_at", "")) != (change.live_version or ""):
            return conflict(change, "changed")
        await self.client.request("DELETE", f"{BASE}/{quote(row['id'])}", address=address, ok=(204, 404))
        return Done(change, row["id"])


def _counted(answers: list[str]) -> str:
    """`HTTP 500 ×4, no answer ×2`: what the tries of a create got, in order of first sight."""
    counts: dict[str, int] = {}
    for answer in answers:
        counts[answer] = counts.get(answer, 0) + 1
    return ", ".join(f"{a} ×{n}" if n > 1 else a for a, n in counts.items())
