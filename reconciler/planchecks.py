"""Checks over the changes a plan computed, before it is returned: the refusals (`prevent_destroy`
on a replacement, more deletes than `max_deletes`) and the warnings about what the plan cannot
protect (provider keys without a record, console channels a scope cannot claim, an agent taken
past its channel limit). Each takes plain values and returns or appends diagnostics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from reconciler.errors import Diagnostic, error, warning
from reconciler.model import Address, LiveResource, Resource, ResourceKind
from reconciler.plan import Action, Change

# Addresses named in a refusal message before "and N more".
_MAX_NAMED = 20


def guard_destroy(change: Change, res: Resource, problems: list[Diagnostic]) -> Change:
    """`change` (a replacement), with a refusal appended when the resource forbids its destroy."""
    if res.lifecycle.prevent_destroy:
        problems.append(
            error(
                "plan.prevent-destroy",
                f"{res.address} would be replaced (deleted, then created), but lifecycle.prevent_destroy is set",
                location=res.location,
                address=str(res.address),
                hint="undo the change that forces the replacement, or remove prevent_destroy",
            )
        )
    return change


def max_deletes(changes: Sequence[Change], limit: int | None) -> list[Diagnostic]:
    """A refusal when the plan deletes or replaces more than `limit` resources."""
    destructive = [str(c.address) for c in changes if c.action in (Action.DELETE, Action.REPLACE)]
    deletes = len(destructive)
    if limit is None or deletes <= limit:
        return []
    # The addresses are named, so that a refused plan says what it refused (a pipeline
    # shows only this message).
    named = ", ".join(destructive[:_MAX_NAMED])
    if deletes > _MAX_NAMED:
        named += f" and {deletes - _MAX_NAMED} more"
    return [
        error(
            "plan.max-deletes",
            f"the plan deletes or replaces {deletes} resources, more than --max-deletes {limit}: {named}",
            hint="review the plan; raise --max-deletes if the deletes are intended",
        )
    ]


def keys_unrecorded(unrecorded: Mapping[str, list[Address]]) -> list[Diagnostic]:
    """A warning per server whose managed providers hold no record of their declared keys yet."""
    out = []
    for server, addresses in sorted(unrecorded.items()):
        shown = ", ".join(str(a) for a in addresses[:3])
        if len(addresses) > 3:
            shown += f" and {len(addresses) - 3} more"
        out.append(
            warning(
                "plan.keys-unrecorded",
                f"{len(addresses)} provider(s) on server {server!r} hold no record of their declared "
                f"configuration keys yet ({shown}): a key removed from the desired state before that "
                "record exists stays on the server",
                hint="the record (key names only) is written with the next update of each provider",
            )
        )
    return out


def channel_scope(declared: Sequence[Address], owners: Mapping[str, str]) -> list[Diagnostic]:
    """Console channels carry no marker, so a scope cannot claim them: the plan says how an
    `owner:` applies there, where a user might expect the marker's protection."""
    scoped = {a.server for a in declared if a.kind is ResourceKind.CHANNEL and owners.get(a.server)}
    return [
        warning(
            "plan.channel-scope",
            f"server {server!r} is declared with owner: {owners[server]}, but console channels carry "
            "no ownership marker: a channel there is this scope's only because this desired state declares "
            "it, and a channel it does not declare is never deleted, whichever scope declares it",
            hint="two scopes must not declare a channel of the same name on one agent and family",
        )
        for server in sorted(scoped)
    ]


def channel_limits(
    changes: Sequence[Change], live: Sequence[LiveResource], limits: Mapping[str, int]
) -> list[Diagnostic]:
    """A warning for each agent that this plan would take past its server's channel limit: the
    console refuses every create past it (409), so the apply would fail part-way."""
    if not limits:
        return []
    count: dict[tuple[str, str], int] = {}
    for item in live:
        if item.address.kind is ResourceKind.CHANNEL and item.address.server in limits and not item.deleted:
            key = (item.address.server, item.address.scope[0])
            count[key] = count.get(key, 0) + 1
    creates: dict[tuple[str, str], int] = {}
    for change in changes:
        address = change.address
        if address.kind is not ResourceKind.CHANNEL or address.server not in limits:
            continue
        key = (address.server, address.scope[0])
        step = {Action.CREATE: 1, Action.DELETE: -1}.get(change.action, 0)
        count[key] = count.get(key, 0) + step
        creates[key] = creates.get(key, 0) + (change.action is Action.CREATE)
    out = []
    for (server, agent), total in sorted(count.items()):
        limit = limits[server]
        if total > limit and creates.get((server, agent)):
            out.append(
                warning(
                    "plan.channel-limit",
                    f"agent {agent!r} on server {server!r} would hold {total} channels after this apply, "
                    f"more than its limit of {limit}: the console refuses each create past the limit "
                    "(409 integration_limit_reached), so the apply would fail part-way",
                    hint=f"remove {total - limit} channel(s) from the agent (or declare fewer), or raise the "
                    f"limit of the team's console plan and `channel_limit:` of server {server!r}",
                )
            )
    return out
