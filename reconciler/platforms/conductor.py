"""Orkes Conductor adapter: integration providers and their models (integration APIs).

Canonical provider body: `type`, `category`, `description`, `enabled`, `configuration` (only
the keys the desired state names are compared; server-added keys such as `organizationId` are
ignored), `tags` as a sorted list of `{key, value}` without the reconciler's own tags. Password
fields (`api_key`, `password`, catalog PASSWORD fields) come back masked and are write-only:
they are compared through a keyed fingerprint stored as the tag `reconciler-fingerprint`.
An update under read-only adoption (`--no-adopt`) writes none of the reconciler's own tags
(marker, fingerprint, key record) and leaves those the server has as they are.
Model body: `description`, `enabled`, `configuration`.

Reading is one call: `GET /api/integrations/?activeOnly=false` returns every provider with its
APIs (the default `activeOnly=true` would hide disabled providers).

Writing: creates and updates of providers go through the bulk save `POST /api/integrations/`
in batches of `batch_size`, carrying the APIs created or updated with them. A model whose
provider is unchanged, or that has a configuration (the bulk item cannot carry one), is saved
with the single-API call; tag pairs to remove and models to delete use their single calls.
Before writing, the adapter lists the server once and refuses to overwrite any provider or
model whose `updateTime` (older servers: `updatedOn`) moved since the plan was made. After each
bulk save it lists them again and fails a provider the server no longer holds as saved (another
writer's save landed in between: the bulk save has no compare-and-set).

Checked against the vendor's OpenAPI spec (tests/contracts): `category` is sent only when
known (the enum has no value for aws and gcp); a masked value (`"********"`) is never sent
back, since what a server does with it is not published; every body validates against the
spec's `Integration`, `IntegrationApiUpdate`, `Tag` and `GenerateTokenRequest` schemas.

Beside it: `conductor_auth` (the token exchange) and `conductor_body` (what a write carries).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

from reconciler.errors import PlatformError, warning
from reconciler.kinds import canonical_resource
from reconciler.kinds import catalog as catalog_of
from reconciler.kinds.conductor import MASK, OWN_TAG_KEYS, canonical_model, canonical_provider, tag_pairs
from reconciler.model import (
    FINGERPRINT_TAG_KEY,
    MANAGED_TAG_KEY,
    Address,
    LiveResource,
    Resource,
    ResourceKind,
    Sensitive,
    ServerKind,
    fingerprint,
    owner_of_marker,
)
from reconciler.outcomes import Done, Failed, FailureCode, Outcome, Skipped, failed
from reconciler.plan import Action, Change, Reason
from reconciler.platforms import wire
from reconciler.platforms.answers import decode
from reconciler.platforms.base import AskedAhead, Platform, credential, share_declared, stale
from reconciler.platforms.conductor_auth import TokenAuth
from reconciler.platforms.conductor_body import (
    applied_keys,
    batch_failed,
    bulk_item,
    differs,
    keep_ignored_of_row,
    merged,
    own_tags,
    value_at,
    version_of,
)
from reconciler.platforms.fresh import FreshShared
from reconciler.platforms.http import HttpClient, quote
from reconciler.platforms.retry import RetryPolicy
from reconciler.platforms.transports import Transport


class ConductorPlatform(Platform):
    kind = ServerKind.CONDUCTOR

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
        key_id = credential(server, "key_id", credentials)
        key_secret = credential(server, "key_secret", credentials)
        self.auth = TokenAuth(key_id, key_secret)
        # The official SDKs take the server url with its `/api` suffix; the paths here carry it.
        if not server.is_sandbox and server.url.rstrip("/").endswith("/api"):
            server = replace(server, url=server.url.rstrip("/")[: -len("/api")])
        super().__init__(server, client or HttpClient(server, self.auth, transport=transport, retry=retry))
        if server.fingerprint_key is not None:
            self._fp_key = server.fingerprint_key.reveal().encode()
        else:
            # Derived from the key secret: stable for everyone who may write this server,
            # and not derivable from anything the server shows.
            self._fp_key = hashlib.sha256(b"reconciler-fingerprint\0" + key_secret.encode()).digest()
        self._password_fields: dict[str, frozenset[str]] = {}
        # Providers being replaced in the current save: their models are new, not checked.
        self._replacing: set[Address] = set()
        self._versions_now = FreshShared(self._read_versions)
        # The provider list `warm` asked for, until `read` takes it.
        self._listing = AskedAhead[Iterator[Any]]()

    # -- reading -------------------------------------------------------------------------

    async def warm(self) -> None:
        """Read the type catalog: any field whose `fieldType` is PASSWORD is stored as a secret
        and comes back masked, not only the `api_key`/`password` the bundled catalog names.
        The list `read` needs is asked for meanwhile: it does not depend on the catalog, and
        a plan waits for one round trip less."""
        await self._listing.start(self._list_once_authenticated())
        try:
            catalog = await self.client.get_json("/api/integrations/def")
        except PlatformError as exc:
            if exc.status == 0 or exc.status in (401, 403):
                await self._listing.drop()
                raise  # the server is unreachable or refuses us: the read would fail alike
            self.diagnostics.append(
                warning(
                    "conductor.catalog-unreadable",
                    f"server {self.server.name!r}: the type catalog (GET /api/integrations/def) could not be read "
                    f"({exc}); only the bundled password fields are treated as write-only, and other masked "
                    "values are compared as the server shows them",
                    hint="check that the key may read integration definitions",
                )
            )
            return
        self._password_fields.update(catalog_of.password_fields(catalog))

    def prepare(self, resource: Resource) -> Resource:
        resource = canonical_resource(resource)
        if resource.address.kind is not ResourceKind.PROVIDER:
            return resource
        # What only this server knows: the password fields its own catalog names for the type
        # (write-only, wrapped however they were written), and the fingerprint key.
        body = resource.body
        configuration = body["configuration"]
        learned = catalog_of.secret_keys(str(body.get("type")), self._password_fields)
        secret = sorted(learned & configuration.keys())
        extra = [k for k in secret if f"configuration.{k}" not in resource.write_only]
        literal = [k for k in secret if not isinstance(configuration[k], Sensitive)]
        if literal:
            configuration = {
                **configuration,
                **{k: Sensitive(str(configuration[k]), source="literal") for k in literal},
            }
            body = {**body, "configuration": configuration}
        write_only = tuple(sorted({*resource.write_only, *(f"configuration.{k}" for k in extra)}))
        secrets = {p: value_at(body, p) for p in write_only}
        fp = fingerprint(self._fp_key, secrets) if secrets else None
        if body is resource.body and write_only == resource.write_only and fp == resource.fingerprint:
            return resource
        return replace(resource, body=body, write_only=write_only, fingerprint=fp)

    async def _list_all(self) -> list[dict[str, Any]]:
        return list(await self._rows())

    async def _list_once_authenticated(self) -> Iterator[Any] | None:
        """The list, asked for once the catalog's request holds a token; None, without a
        request, when it got none: a server that cannot be reached, or refuses the key, is
        then reported once, by the catalog's request, with its cause (two requests failing
        side by side would open the circuit breaker, whose error names no cause)."""
        if not await self.auth.settled():
            return None
        return await self._rows()

    async def aclose(self) -> None:
        await self._listing.drop()
        await super().aclose()

    async def _rows(self) -> Iterator[Any]:
        return await self.client.get_items("/api/integrations/", params={"activeOnly": "false"})

    def from_wire(self, raw: Any) -> list[LiveResource]:
        """A list row as the live provider and its models; `WireShapeError` when it has the
        wrong shape."""
        row = wire.record(raw, "a provider")
        provider = self._provider_live(row)
        return [provider, *(self._model_live(provider, api) for api in wire.records(row, "apis"))]

    def _provider_live(self, row: Mapping[str, Any]) -> LiveResource:
        raw_tags = tag_pairs(wire.items(row, "tags"))
        owners = sorted(
            {o for o in (owner_of_marker(t["value"]) for t in raw_tags if t["key"] == MANAGED_TAG_KEY) if o is not None}
        )
        owner = self.server.owner if self.server.owner in owners else (owners[0] if owners else "")
        fp = next((t["value"] for t in raw_tags if t["key"] == FINGERPRINT_TAG_KEY), None)
        name = wire.text(row, "name")
        body = {
            "type": row.get("type"),
            "category": row.get("category"),
            "description": row.get("description"),
            "enabled": bool(row.get("enabled", True)),
            "configuration": wire.optional_record(row, "configuration"),
            "tags": raw_tags,
        }
        return LiveResource(
            address=Address(ResourceKind.PROVIDER, self.server.name, (), name),
            id=name,
            body=canonical_provider(body),
            managed=bool(owners),
            owner=owner,
            fingerprint=fp,
            version=version_of(row),
            applied_keys=applied_keys(raw_tags),
        )

    def _model_live(self, provider: LiveResource, api: Mapping[str, Any]) -> LiveResource:
        name = wire.text(api, "api")
        body = {
            "description": api.get("description"),
            "enabled": bool(api.get("enabled", True)),
            "configuration": wire.optional_record(api, "configuration"),
        }
        return LiveResource(
            address=Address(ResourceKind.MODEL, self.server.name, (provider.address.name,), name),
            id=name,
            body=canonical_model(body),
            managed=provider.managed,
            owner=provider.owner,
            version=version_of(api),
        )

    def _live_from(self, rows: Iterable[Any]) -> list[LiveResource]:
        return [item for row in rows for item in self.from_wire(row)]

    async def read(self, desired: Sequence[Resource]) -> list[LiveResource]:
        # Row by row, each shared with its declaration as it is made (see `decode_items`).
        rows = await self._listing.take(self._rows)
        live = share_declared((item for row in rows for item in self.from_wire(row)), desired)
        wanted = {r.address: r for r in desired}
        for current in live:
            want = wanted.get(current.address)
            if want is None:
                continue
            named = want.body.get("configuration") or {}
            hidden = sorted(k for k, v in current.body["configuration"].items() if v == MASK and k not in named)
            if hidden:
                self.diagnostics.append(
                    warning(
                        "conductor.unnamed-secret",
                        f"{current.address}: the server holds the password field(s) {', '.join(hidden)}, which the "
                        "desired state does not name; a save never sends a masked value back, so a server that "
                        "replaces the configuration whole drops them",
                        address=str(current.address),
                        hint="name them in the desired state as ${env:...} references to keep them",
                    )
                )
        unversioned = [r for r in live if not r.version]
        if unversioned:
            self.diagnostics.append(
                warning(
                    "conductor.no-version",
                    f"server {self.server.name!r} sends neither updateTime nor updatedOn "
                    f"for {len(unversioned)} resource(s) (e.g. {unversioned[0].address}): a change made by "
                    "someone else between plan and apply cannot be detected there",
                    hint="apply soon after planning, and avoid concurrent applies to this server",
                )
            )
        return live

    # -- writing -------------------------------------------------------------------------

    async def _versions(self) -> tuple[dict[Address, LiveResource], dict[str, dict[str, Any]]]:
        """The live providers and models, and the rows by name, from a list begun after this
        call, shared by the writes asking at the same time (see `fresh`): each bulk save looks
        before and after it writes, and a list per look would make saving N providers in
        batches cost about N / batch_size lists of N."""
        return await self._versions_now.get()

    async def _read_versions(self) -> tuple[dict[Address, LiveResource], dict[str, dict[str, Any]]]:
        rows = await self._list_all()
        live = {r.address: r for r in self._live_from(rows)}
        return live, {str(r.get("name")): r for r in rows if isinstance(r, dict)}

    def _stale(
        self, change: Change, live: Mapping[Address, LiveResource], replaced: frozenset[Address] = frozenset()
    ) -> Failed | None:
        if change.address.parent in replaced:
            return None  # goes with its provider, which is deleted first
        current = live.get(change.address)
        return stale(change, None if current is None else current.version)

    def bulk(self, change: Change) -> bool:
        # Providers are saved through the bulk endpoint, which can carry their models too.
        return change.address.kind is ResourceKind.PROVIDER and change.action is not Action.DELETE

    def rides_with(self, change: Change) -> Address | None:
        # The bulk item cannot carry a model's configuration: such a model is saved on its own.
        if change.address.kind is not ResourceKind.MODEL or change.action is Action.DELETE:
            return None
        if change.desired is not None and change.desired.body.get("configuration"):
            return None
        return change.address.parent

    async def check(self, changes: Sequence[Change]) -> Sequence[Outcome]:
        """One list before a phase writes: deletes and replacements (whose delete comes first)
        are checked here; every other save right before its own write (per batch, or per model)."""
        self._replacing |= {c.address for c in changes if c.action is Action.REPLACE}
        targets = [
            c
            for c in changes
            if c.action is Action.REPLACE or (c.action is Action.DELETE and c.reason is not Reason.PARENT_REPLACED)
        ]
        if not targets:
            return ()
        live, _ = await self._versions()
        return [problem for c in targets if (problem := self._stale(c, live)) is not None]

    async def delete(self, change: Change) -> Outcome:
        address = str(change.address)
        if change.address.kind is ResourceKind.MODEL:
            path = (
                f"/api/integrations/provider/{quote(change.address.scope[0])}/integration/{quote(change.address.name)}"
            )
        else:
            path = f"/api/integrations/provider/{quote(change.address.name)}"
        await self.client.request("DELETE", path, address=address, ok=(200, 204, 404))
        return Done(change, change.address.name)

    async def save_batch(self, changes: Sequence[Change]) -> Sequence[Outcome]:
        """Providers in one bulk save (`POST /api/integrations/`), with the models riding in
        their items; each checked against a fresh list right before the write (a replaced one
        was checked before its delete), and read back after it (see `_check_saved`)."""
        providers = [c for c in changes if c.address.kind is ResourceKind.PROVIDER]
        riders: dict[Address, list[Change]] = {c.address: [] for c in providers}
        outcomes: list[Outcome] = []
        for c in changes:
            if c.address.kind is ResourceKind.MODEL and c.address.parent in riders:
                riders[c.address.parent].append(c)
            elif c.address.kind is not ResourceKind.PROVIDER:
                outcomes.append(await self.save(c))
        try:
            live_now, rows_now = await self._versions()
        except PlatformError as exc:
            return outcomes + batch_failed(providers, riders, exc)
        fresh = self._fresh(providers, riders, live_now, outcomes)
        if not fresh:
            return outcomes
        items = []
        for c in fresh:
            assert c.desired is not None
            items.append(bulk_item(c.desired, riders[c.address], rows_now.get(c.address.name), self.server.owner))
        try:
            await self.client.request("POST", "/api/integrations/", json_body=items, address=str(fresh[0].address))
        except PlatformError as exc:
            return outcomes + batch_failed(fresh, riders, exc)
        saved: dict[Address, Outcome] = {}
        for c in fresh:
            try:
                await self._remove_stale_tags(c, rows_now.get(c.address.name))
                saved[c.address] = Done(c, c.address.name)
            except PlatformError as exc:
                saved[c.address] = failed(c, exc)
        await self._check_saved(fresh, saved)
        for c in fresh:
            outcomes.append(saved[c.address])
            outcomes.extend(Done(m, m.address.name, "saved with its provider") for m in riders[c.address])
        return outcomes

    def _fresh(
        self,
        providers: list[Change],
        riders: dict[Address, list[Change]],
        live: Mapping[Address, LiveResource],
        outcomes: list[Outcome],
    ) -> list[Change]:
        """The providers of a bulk save that nobody changed since the plan (a replaced one was
        checked before its delete); the others' conflicts, and their riders skipped, go to
        `outcomes`. The models riding along are checked too: a stale one stays out of the item."""
        replaced = frozenset(c.address for c in providers if c.action is Action.REPLACE)
        fresh = []
        for c in providers:
            problem = self._stale(c, live) if c.action is not Action.REPLACE else None
            if problem is not None:
                outcomes.append(problem)
                outcomes.extend(Skipped(m, f"depends on {c.address}, which did not succeed") for m in riders[c.address])
                continue
            riding = []
            for m in riders[c.address]:
                stale_model = self._stale(m, live, replaced)
                if stale_model is None:
                    riding.append(m)
                else:
                    outcomes.append(stale_model)
            riders[c.address] = riding
            fresh.append(c)
        return fresh

    async def _check_saved(self, batch: list[Change], outcomes: dict[Address, Outcome]) -> None:
        """Re-read the providers just saved, and fail those the server no longer holds as this
        apply wrote them: the bulk save has no compare-and-set, so another writer's save that
        landed between the version check and this re-read would otherwise be overwritten, or
        overwrite this one, in silence. A save landing after the re-read stays undetected (the
        README's concurrency section states that window)."""
        saved = [c for c in batch if isinstance(outcomes[c.address], Done)]
        if not saved:
            return
        try:
            live, _ = await self._versions()
        except PlatformError as exc:
            for c in saved:
                # The save stands (the server accepted it); only its check is missing, which
                # the outcome says instead of failing a write that succeeded.
                outcomes[c.address] = Done(
                    c, c.address.name, f"saved; reading it back failed ({exc.status or 'no answer'}), so a "
                    "concurrent writer's change is not ruled out: run plan again"
                )
            return
        for c in saved:
            if differs(c, live.get(c.address)):
                outcomes[c.address] = Failed(
                    c,
                    f"{c.address} was changed by another writer during this apply: the server no longer holds "
                    "what this apply saved (run plan again to see and settle the difference)",
                    409,
                    code=FailureCode.CONFLICT,
                )

    async def _remove_stale_tags(self, change: Change, row: Mapping[str, Any] | None) -> None:
        """Tag pairs on the server that the desired state no longer has (the bulk save adds)."""
        if row is None or change.desired is None or change.action is Action.REPLACE:
            return
        wanted = {(t["key"], t["value"]) for t in change.desired.body.get("tags", [])}
        wanted |= {(t["key"], t["value"]) for t in own_tags(change.desired, self.server.owner)}
        # Unmarked (read-only adoption): the reconciler's own keys stay as the server has them.
        keep_own = not change.desired.mark
        stale = [
            t
            for t in tag_pairs(row.get("tags"))
            if (t["key"], t["value"]) not in wanted and not (keep_own and t["key"] in OWN_TAG_KEYS)
        ]
        if stale:
            await self.client.request(
                "DELETE",
                f"/api/integrations/provider/{quote(change.address.name)}/tags",
                json_body=stale,
                address=str(change.address),
            )

    async def _save_model(self, change: Change) -> Outcome:
        assert change.desired is not None
        body = change.desired.body
        provider = change.address.scope[0]
        path = f"/api/integrations/provider/{quote(provider)}/integration/{quote(change.address.name)}"
        current: dict[str, Any] | None = None
        # A replaced model was checked before its delete (`check`), and one whose provider is
        # replaced is new: neither has anything to read.
        if change.address.parent not in self._replacing and change.action is not Action.REPLACE:
            # Read right before the write: refuse to overwrite a model changed since the plan.
            response = await self.client.request("GET", path, address=str(change.address), ok=(200, 404))
            if response.status_code == 200:
                found = decode(response, f"GET {path}")
                current = found if isinstance(found, dict) else None
            problem = stale(change, None if current is None else version_of(current))
            if problem is not None:
                return problem
        payload = {
            "description": body.get("description", ""),
            "enabled": body.get("enabled", True),
            "configuration": merged(body.get("configuration"), current.get("configuration") if current else None),
        }
        if current is not None:
            ignored = change.desired.lifecycle.ignore_changes
            keep_ignored_of_row(payload, body, current, ignored)
        await self.client.request("POST", path, json_body=payload, address=str(change.address))
        return Done(change, change.address.name)

    async def save(self, change: Change) -> Outcome:
        if self.bulk(change):
            # A provider is only ever written through the bulk save.
            return (await self.save_batch([change]))[0]
        return await self._save_model(change)


