"""What the declarations of each section hold, as the cross-file rules and the builder see them.

The section of each server kind, each server kind's credential fields, the field tables of the
kinds (as the specs in `reconciler.kinds` give them), a declaration's address, and the two
hints the rules word alike (a reference to write instead of a literal, a close name).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler import kinds
from reconciler.desired.document import ResourceDecl
from reconciler.kinds.console import CHANNELS
from reconciler.model import CHANNEL_FAMILIES, Address, ResourceKind, ServerKind

SECTION_SERVER_KIND = {
    "integrations": ServerKind.KUBIYA,
    "providers": ServerKind.CONDUCTOR,
    "channels": ServerKind.CONSOLE,
}
SERVER_KIND_SECTION = {kind: section for section, kind in SECTION_SERVER_KIND.items()}

CREDENTIAL_FIELDS: dict[ServerKind, tuple[str, ...]] = {
    ServerKind.KUBIYA: ("token",),
    ServerKind.CONDUCTOR: ("key_id", "key_secret"),
    ServerKind.CONSOLE: ("api_key",),
}
ALL_CREDENTIAL_FIELDS = ("token", "key_id", "key_secret", "api_key")

# The kinds' tables, as the specs (`reconciler.kinds`) give them.
CHANNEL_FIELDS: dict[str, tuple[str, ...]] = {f: s.fields for f, s in CHANNELS.items()}
CHANNEL_WRITE_ONLY: dict[str, tuple[str, ...]] = {f: s.write_only for f, s in CHANNELS.items()}
CHANNEL_DEFAULTS: dict[str, dict[str, str]] = {f: dict(s.defaults) for f, s in CHANNELS.items()}

INTEGRATION_FIELDS = kinds.spec(ResourceKind.INTEGRATION).ignorable
INTEGRATION_CONFIG_FIELDS = kinds.spec(ResourceKind.INTEGRATION).sub_fields["config"]
PROVIDER_FIELDS = kinds.spec(ResourceKind.PROVIDER).ignorable
MODEL_FIELDS = kinds.spec(ResourceKind.MODEL).ignorable

assert set(CHANNEL_FIELDS) == set(CHANNEL_FAMILIES)

REFERENCE_HINT = "write it as a reference: {field}: ${{env:{env}}} (or ${{file:PATH}})"


def address_of(decl: ResourceDecl) -> Address:
    return decl.address


def model_address(decl: ResourceDecl, api: Mapping[str, Any]) -> Address:
    return Address(ResourceKind.MODEL, decl.node["server"], (decl.node["name"],), api["name"])


def hint_close(word: str, choices: Iterable[str], *, list_all: bool = True) -> str | None:
    options = sorted(choices)
    matches = difflib.get_close_matches(word, options, n=3, cutoff=0.6)
    if matches:
        return "did you mean " + " or ".join(f"`{m}`" for m in matches) + "?"
    if list_all and options:
        return "known: " + ", ".join(options)
    return None
