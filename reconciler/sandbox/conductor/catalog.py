"""The Conductor emulator's catalog of integration types, built from `conductor-types.yaml`.

The data file (shipped at `reconciler/data/conductor-types.yaml`) lists, per type, its category
and its required, optional and connection-dependent configuration keys, plus the keys the
server keeps as secrets. From it this module derives:
- the answer of `GET /api/integrations/def` (`definitions`): one entry per type with its form
  fields (only keys whose name the spec's `fieldName` enum holds: `form_fields`); a secret key
  is `fieldType: PASSWORD`, every other key `TEXT`; keys only needed for one `connectionType`
  (the AWS family) are `optional`;
- which configuration keys are masked on read (`is_secret`);
- the keys the server fills in on read when they are not stored (`READ_DEFAULTS`).

Sandbox choice, the reference being silent on the exact set: the read defaults are
`openai.organizationId = ""`, `anthropic.version = "2023-06-01"` and `kafka.groupId = ""`, all
keys the catalog lists as optional, so a client that compares only the keys it manages is
unaffected. They also appear as `defaultValue` in the catalog.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import yaml

MASK = "********"
"""What every secret configuration value reads back as."""

# `api_key` and `password` are secrets whatever the data file says: the reference names them.
ALWAYS_SECRET = frozenset({"api_key", "password"})

READ_DEFAULTS: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        "openai": MappingProxyType({"organizationId": ""}),
        "anthropic": MappingProxyType({"version": "2023-06-01"}),
        "kafka": MappingProxyType({"groupId": ""}),
    }
)


@dataclass(frozen=True)
class IntegrationType:
    """One integration type: its category and configuration keys.

    `connection` maps a value of `connectionType` to the extra keys that value requires;
    it is empty for types without connection variants.
    """

    name: str
    # None where the vendor does not publish the type's category (aws, gcp).
    category: str | None
    required: tuple[str, ...]
    optional: tuple[str, ...]
    connection: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class Catalog:
    """Every known type, the category names, and the secret (password-type) keys."""

    categories: tuple[str, ...]
    secret_keys: frozenset[str]
    types: Mapping[str, IntegrationType]
    form_fields: frozenset[str] = frozenset()

    def is_secret(self, key: str) -> bool:
        return key in self.secret_keys

    def definitions(self) -> list[dict[str, Any]]:
        return [self._definition(t) for t in self.types.values()]

    def _definition(self, itype: IntegrationType) -> dict[str, Any]:
        defaults = READ_DEFAULTS.get(itype.name, {})
        fields: list[dict[str, Any]] = []
        seen: set[str] = set()

        def add(key: str, optional: bool) -> None:
            if key in seen or (self.form_fields and key not in self.form_fields):
                return
            seen.add(key)
            field: dict[str, Any] = {
                "fieldName": key,
                "fieldType": "PASSWORD" if self.is_secret(key) else "TEXT",
                "label": _label(key),
                "optional": optional,
            }
            if key in defaults:
                field["defaultValue"] = defaults[key]
            fields.append(field)

        for key in itype.required:
            add(key, optional=False)
        for key in itype.optional:
            add(key, optional=True)
        for keys in itype.connection.values():
            for key in keys:
                add(key, optional=True)
        out: dict[str, Any] = {
            "name": _label(itype.name),
            "type": itype.name,
            "description": f"{_label(itype.name)} integration",
            "enabled": True,
            "configuration": fields,
        }
        if itype.category is not None:
            out["category"] = itype.category
        return out


def _label(key: str) -> str:
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", key).replace("_", " ").split()
    return " ".join(w[:1].upper() + w[1:] for w in words)


def parse_catalog(data: Any) -> Catalog:
    """Build the catalog from the parsed YAML document (see the data file for its shape)."""
    categories = tuple(str(c) for c in data["categories"])
    secret_keys = frozenset(str(k) for k in data.get("secret_keys") or ()) | ALWAYS_SECRET
    types: dict[str, IntegrationType] = {}
    for name, spec in data["types"].items():
        category = None if spec.get("category") is None else str(spec["category"])
        if category is not None and category not in categories:
            raise ValueError(f"type {name}: unknown category {category}")
        connection = {
            str(value): tuple(str(k) for k in keys or ()) for value, keys in (spec.get("connection") or {}).items()
        }
        types[str(name)] = IntegrationType(
            name=str(name),
            category=category,
            required=tuple(str(k) for k in spec.get("required") or ()),
            optional=tuple(str(k) for k in spec.get("optional") or ()),
            connection=MappingProxyType(connection),
        )
    form_fields = frozenset(str(k) for k in data.get("form_fields") or ())
    return Catalog(categories, secret_keys, MappingProxyType(types), form_fields)


@functools.cache
def catalog() -> Catalog:
    """The catalog of the data file shipped with the package (read once)."""
    resource = importlib.resources.files("reconciler").joinpath("data", "conductor-types.yaml")
    return parse_catalog(yaml.safe_load(resource.read_text(encoding="utf-8")))
