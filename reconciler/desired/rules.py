"""Rules the schema cannot express, checked across all files of a desired state.

- Conductor per-type rules from the type catalog (`reconciler.kinds.catalog`): the type must exist,
  its required configuration keys (and those required by an AWS-family `connectionType`)
  must be set, the category must match the type; unknown keys are warnings, since the
  catalog may lag behind the server.
- Names are unique in their scope across every file: integrations and providers per server,
  models per provider, channels per server + agent + family, servers everywhere (a later
  file may not silently override an earlier one). Both places are reported.
- A resource names a declared server of the kind its section is for.
- Credentials are secret references, present unless the server is the sandbox; password-type
  fields never hold literals; names, types and tags never hold references.
- `lifecycle.ignore_changes` names fields the resource has; the reconciler's own tags are
  reserved.

`check` runs them all; they live by job in `rules_servers`, `rules_references`, `rules_kinds`
and `rules_conductor`, over the tables of `fields`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from reconciler.desired.document import Declarations, ResourceDecl
from reconciler.desired.fields import address_of
from reconciler.desired.rules_conductor import check_provider
from reconciler.desired.rules_kinds import (
    check_channel,
    check_integration,
    check_lifecycle,
    check_secret_named_literals,
)
from reconciler.desired.rules_references import (
    check_identity_references,
    check_models,
    check_server_reference,
    check_unique,
)
from reconciler.desired.rules_servers import check_servers
from reconciler.errors import Diagnostic


def check(decls: Declarations) -> list[Diagnostic]:
    """Every cross-file problem of the declarations (errors and warnings)."""
    out: list[Diagnostic] = []
    servers = check_servers(decls.servers, out)
    seen: dict[tuple[str, ...], ResourceDecl] = {}
    for decl in decls.resources:
        address = address_of(decl)
        checks: list[Callable[[list[Diagnostic]], None]] = [
            partial(check_identity_references, decl, address),
            partial(check_server_reference, decl, address, servers, decls.server_names),
            partial(check_unique, decl, address, seen),
            partial(check_lifecycle, decl, decl.node, (), address),
        ]
        if decl.section == "integrations":
            checks.append(partial(check_integration, decl, address))
        elif decl.section == "providers":
            checks.append(partial(check_provider, decl, address))
            checks.append(partial(check_models, decl, seen))
        else:
            checks.append(partial(check_channel, decl, address))
        checks.append(partial(check_secret_named_literals, decl, address))
        if decl.complete:
            for run in checks:
                run(out)
        else:
            _check_the_rest(checks, out)
    return out


# What the rules say about a field being absent: said of an entry whose field the schema
# refused (and which is left out of what the rules see), it would be false.
_ABSENCE_CODES = frozenset(
    {"channel.auth-incomplete", "channel.missing-write-only", "conductor.missing-key", "conductor.connection-type"}
)


def _check_the_rest(checks: list[Callable[[list[Diagnostic]], None]], out: list[Diagnostic]) -> None:
    """The rules over what is left of an entry the schema refused parts of: each rule that can
    judge the sound fields reports; a rule that needs a refused field has nothing to say (the
    schema's diagnostic already names that field), nor has one about absent fields."""
    for run in checks:
        found: list[Diagnostic] = [*out]
        try:
            run(found)
        except (KeyError, IndexError, TypeError, AttributeError, ValueError):
            continue
        out.extend(d for d in found[len(out) :] if d.code not in _ABSENCE_CODES)
