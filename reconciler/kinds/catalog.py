"""The Conductor type catalog shipped in `reconciler/data/conductor-types.yaml`, and the one
answer to "which configuration keys of a provider hold secrets".

The bundled catalog names the password-type keys of every type (`secret_keys`); a server's own
catalog (`GET /api/integrations/def`) may name more for a type, which the adapter learns at
`warm()` through `password_fields`. `secret_keys(type, learned)` is what the desired-state
builder, the rules, export and the adapter all ask.
"""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

CONDUCTOR_TYPES_RESOURCE = "data/conductor-types.yaml"


@dataclass(frozen=True)
class ConductorType:
    """One integration type: its category and configuration keys. `connection` maps each
    value of `connectionType` to the keys it requires (AWS-family types only)."""

    name: str
    # None: the vendor does not publish this type's category; none is sent unless the
    # desired state names one.
    category: str | None
    required: tuple[str, ...]
    optional: tuple[str, ...]
    connection: Mapping[str, tuple[str, ...]]

    @property
    def known_keys(self) -> frozenset[str]:
        keys = set(self.required) | set(self.optional)
        for extra in self.connection.values():
            keys.update(extra)
        return frozenset(keys)


@dataclass(frozen=True)
class ConductorCatalog:
    """`categories`: the server's category enum. `secret_keys`: the password-type keys, for
    every type. `types`: each type by name."""

    categories: tuple[str, ...]
    secret_keys: frozenset[str]
    types: Mapping[str, ConductorType]


@functools.cache
def conductor_catalog() -> ConductorCatalog:
    """The catalog shipped in the package, read once."""
    text = importlib.resources.files("reconciler").joinpath(CONDUCTOR_TYPES_RESOURCE).read_text("utf-8")
    # A trusted file of the package: the safe loader is enough (merge keys and anchors only).
    data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    types = {
        name: ConductorType(
            name=name,
            category=None if spec.get("category") is None else str(spec["category"]),
            required=tuple(spec.get("required", ())),
            optional=tuple(spec.get("optional", ())),
            connection={k: tuple(v or ()) for k, v in (spec.get("connection") or {}).items()},
        )
        for name, spec in data["types"].items()
    }
    return ConductorCatalog(tuple(data["categories"]), frozenset(data["secret_keys"]), types)


def secret_keys(type_name: str | None = None, learned: Mapping[str, frozenset[str]] | None = None) -> frozenset[str]:
    """The configuration keys that hold secrets (write-only, masked on read) for a provider
    type: the bundled catalog's, and those the server's own catalog names for the type."""
    keys = conductor_catalog().secret_keys
    if learned and type_name is not None and type_name in learned:
        return keys | learned[type_name]
    return keys


def password_fields(answer: Any) -> dict[str, frozenset[str]]:
    """The password-type fields of each type, from a server's catalog answer (the entries of
    `GET /api/integrations/def`, each a type with its `configuration` form fields): any field
    whose `fieldType` is PASSWORD is stored as a secret and comes back masked. Entries of
    another shape are skipped: the catalog only adds to what is bundled."""
    found: dict[str, frozenset[str]] = {}
    entries: Iterable[Any] = answer if isinstance(answer, list) else ()
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        kind = entry.get("type") or entry.get("name")
        fields = entry.get("configuration") or []
        passwords = {
            str(f.get("fieldName"))
            for f in fields
            if isinstance(f, dict) and str(f.get("fieldType", "")).upper() == "PASSWORD"
        }
        if isinstance(kind, str) and passwords:
            found[kind] = frozenset(passwords)
    return found
