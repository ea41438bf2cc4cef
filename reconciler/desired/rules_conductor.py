"""The rules of a Conductor provider and its models: names usable in the url path, reserved tags,
password-type keys as references, and the type catalog's rules (the type exists, its category,
its required keys and those its `connectionType` needs; unknown keys are warnings, since the
catalog may lag behind the server)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.desired import safeyaml, secrets
from reconciler.desired.document import ResourceDecl
from reconciler.desired.fields import REFERENCE_HINT, hint_close, model_address
from reconciler.desired.rules_kinds import reserved_tag
from reconciler.errors import Diagnostic, Location, error, warning
from reconciler.kinds.catalog import ConductorType, conductor_catalog, secret_keys
from reconciler.model import FINGERPRINT_TAG_KEY, MANAGED_TAG_KEY, Address


def _conductor_name(name: Any, what: str, where: Location, address: Address, out: list[Diagnostic]) -> None:
    """Conductor addresses providers and models by name in the url path: a `/`, or a name that
    is a dot segment (`.`, `..`), can never be addressed there (and `..` would address the
    parent: deleting a model named `..` would delete its provider)."""
    if not isinstance(name, str):
        return
    if "/" in name or name in (".", ".."):
        out.append(
            error(
                "name.path",
                f"{what} name {name!r} cannot be used with Conductor: it is part of the url path",
                location=where,
                address=str(address),
                hint="use a name without `/` that is not `.` or `..`",
            )
        )
    elif what == "model" and name == "all":
        # `GET /api/integrations/provider/{name}/integration/all` is the server's list of a
        # provider's model names: a model named `all` could be written but never read back.
        out.append(
            error(
                "name.reserved",
                "model name 'all' cannot be used with Conductor: "
                "`.../integration/all` is the server's list of model names",
                location=where,
                address=str(address),
                hint="choose another name for this model",
            )
        )


def check_provider(decl: ResourceDecl, address: Address, out: list[Diagnostic]) -> None:
    """Every rule of one provider declaration, in the order they are reported."""
    node = decl.node
    _check_names(decl, address, out)
    _check_tags(decl, address, out)
    config: Mapping[str, Any] = node.get("configuration") or {}
    _check_secret_keys(decl, address, config, out)
    catalog = conductor_catalog()
    ctype = catalog.types.get(node["type"])
    if ctype is None:
        out.append(
            error(
                "conductor.unknown-type",
                f"provider {node['name']!r} has the unknown integration type {node['type']!r}",
                location=decl.at("type"),
                address=str(address),
                hint=hint_close(node["type"], catalog.types),
            )
        )
        return
    _check_category(decl, address, ctype, out)
    _check_required_keys(decl, address, ctype, config, out)
    needed_by_connection = _check_connection(decl, address, ctype, config, out)
    _check_unknown_keys(decl, address, ctype, config, needed_by_connection, out)


def _check_names(decl: ResourceDecl, address: Address, out: list[Diagnostic]) -> None:
    node = decl.node
    _conductor_name(node.get("name"), "provider", safeyaml.value_location(decl.file, node, "name"), address, out)
    for api in node.get("apis") or ():
        if isinstance(api, Mapping):
            where = safeyaml.value_location(decl.file, api, "name")
            _conductor_name(api.get("name"), "model", where, model_address(decl, api), out)


def _check_tags(decl: ResourceDecl, address: Address, out: list[Diagnostic]) -> None:
    tags = decl.node.get("tags")
    if isinstance(tags, dict):
        for key in tags:
            if key in (MANAGED_TAG_KEY, FINGERPRINT_TAG_KEY):
                where = safeyaml.key_location(decl.file, tags, key)
                out.append(reserved_tag(decl, ("tags", key), address, where))
    elif isinstance(tags, list):
        for i, tag in enumerate(tags):
            if tag["key"] in (MANAGED_TAG_KEY, FINGERPRINT_TAG_KEY):
                out.append(reserved_tag(decl, ("tags", i), address))


def _check_secret_keys(
    decl: ResourceDecl, address: Address, config: Mapping[str, Any], out: list[Diagnostic]
) -> None:
    """The type's password-type keys hold references, never literals."""
    node = decl.node
    for key in sorted(secret_keys(node.get("type")) & set(config)):
        value = config[key]
        if not (isinstance(value, str) and secrets.has_reference(value)):
            env = secrets.suggested_env_name(node["name"], key)
            out.append(
                error(
                    "secret.literal",
                    f"`configuration.{key}` of provider {node['name']!r} is a password-type "
                    "field written as a literal value",
                    location=decl.at("configuration", key),
                    address=str(address),
                    hint=REFERENCE_HINT.format(field=key, env=env),
                )
            )


def _check_category(decl: ResourceDecl, address: Address, ctype: ConductorType, out: list[Diagnostic]) -> None:
    node = decl.node
    category = node.get("category")
    if category is not None and ctype.category is not None and category != ctype.category:
        out.append(
            error(
                "conductor.category",
                f"provider {node['name']!r}: type {ctype.name!r} is in category {ctype.category}, not {category}",
                location=decl.at("category"),
                address=str(address),
                hint=f"omit `category` (it follows from the type) or set it to {ctype.category}",
            )
        )


def _check_required_keys(
    decl: ResourceDecl, address: Address, ctype: ConductorType, config: Mapping[str, Any], out: list[Diagnostic]
) -> None:
    node = decl.node
    where_config = decl.key_at("configuration") if "configuration" in node else decl.location
    for key in ctype.required:
        if key not in config:
            out.append(
                error(
                    "conductor.missing-key",
                    f"provider {node['name']!r} of type {ctype.name!r} needs the configuration key `{key}`",
                    location=where_config,
                    address=str(address),
                    hint="required keys of this type: " + ", ".join(ctype.required),
                )
            )


def _check_connection(
    decl: ResourceDecl, address: Address, ctype: ConductorType, config: Mapping[str, Any], out: list[Diagnostic]
) -> set[str]:
    """A known `connectionType` and the keys it needs; returns those keys (none when the type
    has no connection types or none is given)."""
    connection = config.get("connectionType")
    if not ctype.connection or not isinstance(connection, str):
        return set()
    name = decl.node["name"]
    if connection not in ctype.connection:
        out.append(
            error(
                "conductor.connection-type",
                f"provider {name!r}: `connectionType` must be one of " + ", ".join(ctype.connection),
                location=decl.at("configuration", "connectionType"),
                address=str(address),
                hint=hint_close(connection, ctype.connection, list_all=False),
            )
        )
        return set()
    for key in ctype.connection[connection]:
        if key not in config:
            out.append(
                error(
                    "conductor.missing-key",
                    f"provider {name!r}: connectionType {connection} needs the configuration key `{key}`",
                    location=decl.at("configuration", "connectionType"),
                    address=str(address),
                    hint=f"{connection} takes " + ", ".join(ctype.connection[connection]),
                )
            )
    return set(ctype.connection[connection])


def _check_unknown_keys(
    decl: ResourceDecl,
    address: Address,
    ctype: ConductorType,
    config: Mapping[str, Any],
    needed_by_connection: set[str],
    out: list[Diagnostic],
) -> None:
    """Keys neither the type nor the chosen connection type knows: warnings, since the catalog
    may lag behind the server. A key of another connection type is named as such."""
    node = decl.node
    other_connection_keys = {k for keys in ctype.connection.values() for k in keys}
    base_keys = set(ctype.required) | set(ctype.optional)
    for key in config:
        if key in base_keys or key in needed_by_connection:
            continue
        if key in other_connection_keys and "connectionType" in config:
            message = f"provider {node['name']!r}: `{key}` is not used with connectionType {config['connectionType']}"
            hint = None
        elif key in other_connection_keys:
            continue
        else:
            message = f"provider {node['name']!r}: `{key}` is not a known configuration key of type {ctype.name!r}"
            hint = hint_close(key, ctype.known_keys)
        out.append(
            warning(
                "conductor.unknown-key",
                message,
                location=safeyaml.key_location(decl.file, config, key),
                address=str(address),
                hint=hint,
            )
        )
