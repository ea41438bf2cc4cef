"""Agents console (BimpeAI) adapter: an agent's `custom_api`, `mcp_server` and `bimpeai` channels.

Each family's fields, the ones read back and the defaults are its spec's
(`reconciler.kinds.console`): a live body holds only what the API returns, and the write-only
fields (`auth_config`, `description`, `test_endpoint`, bimpeai keys) are sent on create and
never read back; the console has nowhere to keep a fingerprint, so a change to them alone cannot be
seen: `plan --replace ADDRESS` re-creates a channel to push a rotated credential.

The console has no update: a changed channel is disconnected and configured again (a new id).
It accepts duplicate names, so the reconciler keys channels on agent + family + name itself.
Channels have no tags, so none carries a marker: a channel is the reconciler's when the desired
state declares its name on that agent and family (extra channels of that name are duplicates
and removed); every other channel is listed as unmanaged and never touched.

Reading lists the three families of every agent the desired state names (three calls an
agent). Every write carries an `Idempotency-Key`. A configure's key is derived from the
channel's identity (agent, family, name, the channel it replaces) and its desired body, keyed
with a digest of the API key: a retry, or another apply creating the same channel at the same
time, sends the same key, and the console answers it with the first channel instead of making
a second. After each configure the family is listed again (a list begun after the configure,
shared by the writes of that family running at the same time: `fresh`): the first channel
listed of that name is the one kept (the console lists in creation order); an extra channel
this apply made is removed and the change reported as a conflict (another apply created it
first, with other values). Whatever still slips through (the idempotency window passed, a
person's channel) is a duplicate the next plan removes.
"""

from __future__ import annotations

import difflib
import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from reconciler.errors import PlatformError
from reconciler.kinds import canonical_resource, spec
from reconciler.model import (
    CHANNEL_FAMILIES,
    Address,
    LiveResource,
    Resource,
    ResourceKind,
    ServerKind,
    reveal,
)
from reconciler.outcomes import Done, Outcome, conflict
from reconciler.plan import Action, Change
from reconciler.platforms import wire
from reconciler.platforms.answers import decode
from reconciler.platforms.auth import BearerAuth
from reconciler.platforms.base import Platform, credential, gather_or_cancel, share_declared, stale
from reconciler.platforms.fresh import FreshShared
from reconciler.platforms.http import HttpClient, quote
from reconciler.platforms.retry import RetryPolicy
from reconciler.platforms.transports import Transport

BASE = "/api/v1/console/agents"
# The agents list (`GET`, paginated), used to suggest an agent id when one is not found.
AGENTS = BASE

class ConsolePlatform(Platform):
    kind = ServerKind.CONSOLE

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
        key = credential(server, "api_key", credentials)
        super().__init__(server, client or HttpClient(server, BearerAuth(key), transport=transport, retry=retry))
        self._bimpeai_names: dict[tuple[str, str], str] = {}
        # Keys the idempotency keys: equal for everyone holding the API key, and revealing
        # nothing of the (secret-bearing) body they are derived from.
        self._key_key = hashlib.sha256(b"reconciler-idempotency\0" + key.encode()).digest()
        # The lists the writes look at, by agent and family.
        self._listers: dict[tuple[str, str], FreshShared[dict[str, str]]] = {}

    def prepare(self, resource: Resource) -> Resource:
        agent, family = resource.address.scope
        if family == "bimpeai" and isinstance(resource.body.get("type"), str):
            # What `from_wire` needs to name the channel of a connected type (see there).
            self._bimpeai_names[(agent, resource.body["type"])] = resource.address.name
        prepared = canonical_resource(resource)
        # The console has nowhere to keep a fingerprint.
        return prepared if prepared.fingerprint is None else replace(prepared, fingerprint=None)

    def _path(self, agent: str, family: str) -> str:
        return f"{BASE}/{quote(agent)}/integrations/{family}"

    async def _list_family(self, agent: str, family: str) -> list[dict[str, Any]]:
        rows = await self.client.get_json(self._path(agent, family))
        data = rows.get("data") if isinstance(rows, dict) else rows
        if not isinstance(data, list):
            raise PlatformError(f"GET {self._path(agent, family)}: expected a list of channels")
        return data

    def from_wire(self, agent: str, family: str, raw: Any) -> LiveResource | None:
        """A list row as a live channel (None for a bimpeai type that is not connected);
        `WireShapeError` when it has the wrong shape."""
        row = wire.record(raw, "a channel")
        if family == "bimpeai":
            if not row.get("id"):
                return None  # a type that is not connected
            kind = str(row.get("type"))
            # The console names a bimpeai channel after its type ("Paystack"); the desired
            # state names it as the user likes. A type connected on an agent is matched to
            # the declared channel of that type there.
            name = self._bimpeai_names.get((agent, kind)) or str(row.get("name") or kind)
            body: dict[str, Any] = {"type": row.get("type")}
        else:
            config = wire.optional_record(row, "config")
            name = wire.text(config, "name")
            body = {k: config.get(k) for k in spec(ResourceKind.CHANNEL, family).read_back}
        channel_id = wire.text(row, "id")
        return LiveResource(
            address=Address(ResourceKind.CHANNEL, self.server.name, (agent, family), name),
            id=channel_id,
            body=body,
            managed=False,
            version=channel_id,
        )

    async def read(self, desired: Sequence[Resource]) -> list[LiveResource]:
        agents = sorted({r.address.scope[0] for r in desired if r.address.kind is ResourceKind.CHANNEL})
        pairs = [(a, f) for a in agents for f in CHANNEL_FAMILIES]
        try:
            results = await gather_or_cancel(*(self._list_family(a, f) for a, f in pairs))
        except PlatformError as exc:
            if exc.status == 404 and exc.hint is None:  # a hint: a base path or a web page
                raise await self._unknown_agent(exc, desired) from exc
            raise
        live = (
            item
            for (agent, family), rows in zip(pairs, results, strict=True)
            for row in rows
            if (item := self.from_wire(agent, family, row)) is not None
        )
        return share_declared(live, desired)

    async def _unknown_agent(self, exc: PlatformError, desired: Sequence[Resource]) -> PlatformError:
        """The error for an agent the console does not know: which agent, where its `agent:`
        is written, and the closest agent id when the key may list agents."""
        agent = next(
            (r.address.scope[0] for r in desired if f"/agents/{quote(r.address.scope[0])}/" in str(exc)), None
        )
        if agent is None:
            return exc
        where = next((r.scope_location for r in desired if r.address.scope[0] == agent and r.scope_location), None)
        known = await self._agent_ids()
        hint = f"check `agent: {agent}`" + (f" at {where}" if where else "")
        if known is None:
            hint += " (this API key cannot list agents to suggest one)"
        else:
            close = difflib.get_close_matches(agent, known, n=1, cutoff=0.6)
            if close:
                hint += f": did you mean `{close[0]}`?"
            elif known:
                hint += "; agents this API key sees: " + ", ".join(sorted(known)[:10])
            else:
                hint += "; this API key sees no agents"
        return PlatformError(
            f"agent {agent!r} was not found ({exc})", status=404, hint=hint
        )

    async def _agent_ids(self) -> list[str] | None:
        """Every agent id the API key may list (a few pages at most), or None when it may not."""
        ids: list[str] = []
        try:
            for page in range(1, 11):
                answer = await self.client.get_json(AGENTS, params={"page": str(page), "limit": "100"})
                rows = answer.get("data") if isinstance(answer, dict) else None
                if not isinstance(rows, list):
                    return None
                ids.extend(str(row["id"]) for row in rows if isinstance(row, dict) and row.get("id"))
                meta = answer.get("meta") if isinstance(answer, dict) else None
                if not (isinstance(meta, dict) and meta.get("has_next_page")):
                    break
        except PlatformError:
            return None
        return ids

    async def _current_ids(self, change: Change) -> dict[str, str]:
        """The channels of the change's agent and family, listed right before the write (the
        check that nobody changed them since the plan)."""
        agent, family = change.address.scope
        return await self._fresh_ids(agent, family)

    async def _fresh_ids(self, agent: str, family: str) -> dict[str, str]:
        """`_read_ids`, listed after this call began, shared by the writes of that agent and
        family that ask at the same time (see `fresh`): one list per write would make
        replacing N channels cost N lists of N."""
        lister = self._listers.get((agent, family))
        if lister is None:
            lister = self._listers[(agent, family)] = FreshShared(lambda: self._read_ids(agent, family))
        return await lister.get()

    async def _read_ids(self, agent: str, family: str) -> dict[str, str]:
        rows = await self._list_family(agent, family)
        out: dict[str, str] = {}
        for row in rows:
            item = self.from_wire(agent, family, row)
            if item is not None:
                out[item.id] = item.address.name
        return out

    def idempotency_key(self, change: Change, payload: Mapping[str, Any]) -> str:
        """The same for the same channel identity and desired body (see the module docstring)."""
        agent, family = change.address.scope
        identity = [self.server.url, agent, family, change.address.name, change.live_id or "", payload]
        digest = hmac.new(self._key_key, json.dumps(identity, sort_keys=True).encode(), hashlib.sha256)
        return "reconciler-" + digest.hexdigest()[:40]

    async def _configure(self, change: Change) -> Outcome:
        assert change.desired is not None
        agent, family = change.address.scope
        body = change.desired.body
        fields = spec(ResourceKind.CHANNEL, family).fields
        payload = {k: reveal(body[k]) for k in fields if body.get(k) is not None}
        if family != "bimpeai":
            payload["name"] = change.address.name
        key = self.idempotency_key(change, payload)
        outcome = await self._post(change, payload, key)
        if not isinstance(outcome, Done) or outcome.id is None:
            return outcome
        ours = outcome.id
        named = [i for i, n in (await self._fresh_ids(agent, family)).items() if n == change.address.name]
        if ours not in named:
            if named:
                return conflict(change, "was created by another apply at the same time, with other values")
            # A replayed answer naming a channel that is gone since (deleted inside the
            # idempotency window): configure it for real, under a key of its own.
            return await self._post(change, payload, f"{key}-{uuid.uuid4().hex[:12]}")
        if named[0] != ours:
            # Another apply made the first one; the one made here is an extra: remove it.
            await self._disconnect(change, ours)
            return conflict(change, "was created by another apply at the same time, with other values")
        return outcome

    async def _disconnect(self, change: Change, channel_id: str) -> None:
        agent, family = change.address.scope
        await self.client.request(
            "DELETE",
            f"{self._path(agent, family)}/{quote(channel_id)}",
            headers={"Idempotency-Key": str(uuid.uuid4())},
            address=str(change.address),
            ok=(200, 404),
        )

    async def _post(self, change: Change, payload: Mapping[str, Any], key: str) -> Outcome:
        agent, family = change.address.scope
        response = await self.client.request(
            "POST",
            f"{self._path(agent, family)}/configure",
            json_body=payload,
            headers={"Idempotency-Key": key},
            address=str(change.address),
        )
        answer = decode(response, f"POST {self._path(agent, family)}/configure")
        data = answer.get("data") if isinstance(answer, dict) else None
        if isinstance(data, dict):
            if data.get("onboarding_url"):
                return Done(change, None, f"finish the OAuth connection at {data['onboarding_url']}")
            new_id = data.get("id") or data.get("channel_id")
            return Done(change, str(new_id) if new_id else None)
        return Done(change, None)

    # How a replacement's halves are named when the second one fails (see `apply`).
    replace_words = ("disconnected", "configuring")

    async def save(self, change: Change) -> Outcome:
        if change.action is Action.UPDATE:
            # The console has no update: the planner plans a replacement instead.
            raise PlatformError(f"{change.address}: the console cannot update a channel in place")
        # No look first: another apply creating the same channel at this moment sends the
        # same idempotency key and gets the same channel; anything else is sorted out by
        # the list that follows the configure. (A replacement's configure follows its
        # disconnect, see `apply`.)
        return await self._configure(change)

    async def delete(self, change: Change) -> Outcome:
        if change.action is Action.REPLACE:
            current = await self._current_ids(change)
            problem = stale(change, change.live_id if change.live_id in current else None, gone="was disconnected")
            if problem is not None:
                return problem
        await self._disconnect(change, change.live_id or "")
        return Done(change, change.live_id)
