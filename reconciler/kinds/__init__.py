"""One spec per resource kind: what a body holds, its defaults, what the server reads back,
what is write-only or secret, where the server adds keys, what forces a replacement, and the
pure `canonical()` giving the body in the exact shape the adapter's read produces.

Below `desired` and `platforms` (it imports only `reconciler.model` and `reconciler.errors`):
the desired-state builder, the rules, export, the views and the adapters all ask it, so adding
a field is one edit here. Modules: `kubiya` (integrations), `conductor` (providers, models),
`console` (channels, one spec per family), `catalog` (the Conductor type catalog).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from reconciler.kinds import console, kubiya
from reconciler.kinds.conductor import MODEL, PROVIDER
from reconciler.kinds.spec import KindSpec, keep_ignored
from reconciler.model import Address, Resource, ResourceKind

__all__ = ["KindSpec", "canonical_resource", "keep_ignored", "record_defaults", "spec", "spec_of"]

_SPECS: Mapping[ResourceKind, KindSpec] = {
    ResourceKind.INTEGRATION: kubiya.INTEGRATION,
    ResourceKind.PROVIDER: PROVIDER,
    ResourceKind.MODEL: MODEL,
}


def spec(kind: ResourceKind, family: str | None = None) -> KindSpec:
    """The spec of a kind; a channel's is its family's (`family` required for channels)."""
    if kind is ResourceKind.CHANNEL:
        if family is None:
            raise ValueError("a channel's spec is its family's: name the family")
        return console.CHANNELS[family]
    return _SPECS[kind]


def spec_of(address: Address) -> KindSpec:
    """The spec of the resource an address names."""
    return spec(address.kind, address.scope[1] if address.kind is ResourceKind.CHANNEL else None)


def canonical_resource(resource: Resource) -> Resource:
    """The resource with its body in canonical shape and its spec's open paths; the same
    object when it already is (bodies the desired-state builder made)."""
    kind = spec_of(resource.address)
    body = kind.canonical(resource.body)
    open_paths = resource.open_paths or kind.open_paths
    if body == resource.body and open_paths == resource.open_paths:
        return resource
    return replace(resource, body=body, open_paths=open_paths)


_TRAILING_INDEX = re.compile(r"\[\d+\]$")


def record_defaults(kind: str, path: str) -> Mapping[str, Any]:
    """The defaults the server fills into the records at `path` (`config.files`) or into one
    of them (`config.files[2]`), for a kind named by its value; empty where there are none.
    The views leave a field holding its default out of a shown record."""
    try:
        found = _SPECS[ResourceKind(kind)]
    except (ValueError, KeyError):
        return {}
    return found.record_defaults.get(_TRAILING_INDEX.sub("", path), {})
