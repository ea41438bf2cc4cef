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
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any

from reconciler import kinds
from reconciler.desired import safeyaml, secrets
from reconciler.desired.document import SECTION_KIND, Declarations, ResourceDecl, ServerDecl
from reconciler.desired.schema import path_text
from reconciler.errors import Diagnostic, Location, error, warning
from reconciler.kinds.catalog import conductor_catalog, secret_keys
from reconciler.kinds.console import (
    AUTH_CONFIG_SECRETS,
    AUTH_NEEDS,
    BIMPEAI_REQUIRED_SECRET,
    BIMPEAI_SECRETS,
    CHANNELS,
)
from reconciler.model import (
    CHANNEL_FAMILIES,
    FINGERPRINT_TAG_KEY,
    MANAGED_TAG_KEY,
    Address,
    ResourceKind,
    ServerKind,
    secret_named,
)

# --- what each kind holds -----------------------------------------------------------------

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


def _hint_close(word: str, choices: Iterable[str], *, list_all: bool = True) -> str | None:
    options = sorted(choices)
    matches = difflib.get_close_matches(word, options, n=3, cutoff=0.6)
    if matches:
        return "did you mean " + " or ".join(f"`{m}`" for m in matches) + "?"
    if list_all and options:
        return "known: " + ", ".join(options)
    return None


# --- the checks ---------------------------------------------------------------------------


def check(decls: Declarations) -> list[Diagnostic]:
    """Every cross-file problem of the declarations (errors and warnings)."""
    out: list[Diagnostic] = []
    servers = _check_servers(decls.servers, out)
    seen: dict[tuple[str, ...], ResourceDecl] = {}
    for decl in decls.resources:
        address = address_of(decl)
        checks: list[Callable[[list[Diagnostic]], None]] = [
            partial(_check_identity_references, decl, address),
            partial(_check_server_reference, decl, address, servers, decls.server_names),
            partial(_check_unique, decl, address, seen),
            partial(_check_lifecycle, decl, decl.node, (), address),
        ]
        if decl.section == "integrations":
            checks.append(partial(_check_integration, decl, address))
        elif decl.section == "providers":
            checks.append(partial(_check_provider, decl, address))
            checks.append(partial(_check_models, decl, seen))
        else:
            checks.append(partial(_check_channel, decl, address))
        checks.append(partial(_check_secret_named_literals, decl, address))
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


# Declaration keys that are identity or structure, never secrets, whatever their names say.
_NOT_SECRET_KEYS = frozenset({"name", "server", "type", "family", "agent", "lifecycle", "apis", "tags"})


def _check_secret_named_literals(decl: ResourceDecl, address: Address, out: list[Diagnostic]) -> None:
    """A literal under a key named like a secret (`env_vars.DB_PASSWORD: hunter2`): a warning,
    since the value would sit in git (it is never shown by plan, drift or export). Fields
    already reported as literal password-type fields are not reported twice."""
    reported = {d.location for d in out if d.code == "secret.literal" and d.address == str(address)}

    def walk(value: Any, path: tuple[str | int, ...]) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                if not path and key in _NOT_SECRET_KEYS:
                    continue
                walk(item, (*path, str(key)))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, (*path, i))
        elif isinstance(value, str) and value and not secrets.has_reference(value):
            dotted = path_text(path)
            if secret_named(dotted):
                where = decl.at(*path)
                if where in reported:
                    return
                env = secrets.suggested_env_name(str(decl.node.get("name", "")), str(path[-1]))
                out.append(
                    warning(
                        "secret.literal-named",
                        f"`{dotted}` of {SECTION_KIND[decl.section].value} {decl.node.get('name')!r} is named like a "
                        "secret but written as a literal value",
                        location=where,
                        address=str(address),
                        hint=f"write it as a reference, e.g. ${{env:{env}}}, and set that variable where "
                        "plan and apply run",
                    )
                )

    walk(decl.node, ())


def _check_servers(decls: list[ServerDecl], out: list[Diagnostic]) -> dict[str, ServerDecl]:
    first: dict[str, ServerDecl] = {}
    for decl in decls:
        file = decl.document.file
        node = decl.node
        if decl.name in first:
            out.append(
                error(
                    "unique.server",
                    f"server {decl.name!r} is declared twice (first at {first[decl.name].location}); "
                    "a later file may not override an earlier one",
                    location=decl.location,
                    hint="rename one of them, or keep one declaration",
                )
            )
            continue
        first[decl.name] = decl
        kind = ServerKind(node["kind"])
        url = node["url"]
        if "${" in url:
            out.append(
                error(
                    "reference.not-allowed",
                    f"the `url` of server {decl.name!r} cannot hold a secret reference",
                    location=safeyaml.value_location(file, node, "url"),
                    hint="use a template variable for URLs that differ between environments",
                )
            )
        elif not url.startswith("sandbox:"):
            problem = url_problem(url)
            if problem is not None:
                out.append(
                    error(
                        "server.bad-url",
                        f"the `url` of server {decl.name!r} is not a usable address: {problem}",
                        location=safeyaml.value_location(file, node, "url"),
                        hint="write the API's base address, e.g. https://api.example.com or http://127.0.0.1:8080",
                    )
                )
        allowed = CREDENTIAL_FIELDS[kind]
        for name in ALL_CREDENTIAL_FIELDS:
            if name in node and name not in allowed:
                out.append(
                    error(
                        "server.wrong-credential",
                        f"`{name}` is not a credential of a {kind.value} server",
                        location=safeyaml.key_location(file, node, name),
                        hint=f"a {kind.value} server takes " + " and ".join(f"`{a}`" for a in allowed),
                    )
                )
        for name in (*allowed, "fingerprint_key"):
            value = node.get(name)
            if isinstance(value, str) and not secrets.has_reference(value):
                env = secrets.suggested_env_name(decl.name, name)
                out.append(
                    error(
                        "server.literal-credential",
                        f"the `{name}` of server {decl.name!r} is written as a literal value",
                        location=safeyaml.value_location(file, node, name),
                        hint="credentials never go in the file; " + REFERENCE_HINT.format(field=name, env=env),
                    )
                )
        present = [name for name in allowed if name in node]
        sandbox = url.startswith("sandbox:")
        if present and len(present) < len(allowed):
            missing = [name for name in allowed if name not in node]
            out.append(
                error(
                    "server.missing-credential",
                    f"server {decl.name!r} sets `{present[0]}` but not `{missing[0]}`",
                    location=decl.location,
                    hint=" and ".join(f"`{a}`" for a in allowed) + " go together",
                )
            )
        elif not present and not sandbox:
            env = secrets.suggested_env_name(decl.name, allowed[0])
            out.append(
                error(
                    "server.missing-credential",
                    f"server {decl.name!r} has no credentials (" + " and ".join(f"`{a}`" for a in allowed) + ")",
                    location=decl.location,
                    hint=f"add {allowed[0]}: ${{env:{env}}}; only a `sandbox:` url may go without",
                )
            )
    return first


def url_problem(url: str) -> str | None:
    """What makes an http(s) url unusable as a server's base address, or None."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        text = str(exc)
        if "Port" in text:
            return "its port is not a number from 1 to 65535"
        if "IPv6" in text:
            return "an IPv6 address in brackets is not closed (`http://[::1]:8080`)"
        return text
    if not parts.hostname:
        return "it names no host"
    if any(c.isspace() for c in parts.netloc):
        return "the host holds a space"
    if port == 0:
        return "its port is not a number from 1 to 65535"
    if parts.username is not None or parts.password is not None:
        return "it holds a user name or password (it is shown in every plan; use the server's credentials)"
    if parts.query or parts.fragment:
        return "a base address takes no `?query` or `#fragment`"
    return None


def _check_identity_references(decl: ResourceDecl, address: Address, out: list[Diagnostic]) -> None:
    """Names, types, agents and tags identify things; a secret inside one would be printed in
    every plan, so references are refused there."""
    node = decl.node

    def check(path: tuple[str | int, ...], text: Any) -> None:
        if isinstance(text, str) and "${" in text and secrets.has_reference(text):
            out.append(
                error(
                    "reference.not-allowed",
                    f"`{path_text(path)}` cannot hold a secret reference",
                    location=decl.at(*path),
                    address=str(address),
                    hint="references belong in values such as credentials and configuration",
                )
            )

    for key in ("name", "server", "type", "agent"):
        check((key,), node.get(key))
    tags = node.get("tags")
    if isinstance(tags, list):
        for i, tag in enumerate(tags):
            if isinstance(tag, str):
                check(("tags", i), tag)
            else:
                check(("tags", i, "key"), tag["key"])
                check(("tags", i, "value"), tag["value"])
    elif isinstance(tags, dict):
        for key, value in tags.items():
            check(("tags", key), f"{key} {value}")
    for i, api in enumerate(node.get("apis") or ()):
        check(("apis", i, "name"), api["name"])


def _check_server_reference(
    decl: ResourceDecl,
    address: Address,
    servers: Mapping[str, ServerDecl],
    written: set[str],
    out: list[Diagnostic],
) -> None:
    name = decl.node["server"]
    wanted = SECTION_SERVER_KIND[decl.section]
    what = SECTION_KIND[decl.section].value
    server = servers.get(name)
    if server is None:
        if name in written:
            return  # declared, but broken: that is reported where it is declared
        same_kind = [n for n, s in servers.items() if s.node["kind"] == wanted.value]
        close = _hint_close(name, servers, list_all=False)
        hint = close or (
            "declared " + wanted.value + " servers: " + ", ".join(same_kind)
            if same_kind
            else f"declare it under `servers:` with `kind: {wanted.value}`"
        )
        out.append(
            error(
                "reference.unknown-server",
                f"{what} {decl.node['name']!r} names server {name!r}, which is not declared",
                location=decl.at("server"),
                address=str(address),
                hint=hint,
            )
        )
        return
    kind = ServerKind(server.node["kind"])
    if kind is not wanted:
        out.append(
            error(
                "reference.server-kind",
                f"{what} {decl.node['name']!r} is on server {name!r}, a {kind.value} server; "
                f"{decl.section} go on {wanted.value} servers",
                location=decl.at("server"),
                address=str(address),
                hint=f"use a {wanted.value} server, or move the entry to "
                f"`{SERVER_KIND_SECTION[kind]}:` if it is meant for {name!r}",
            )
        )


def _check_unique(
    decl: ResourceDecl,
    address: Address,
    seen: dict[tuple[str, ...], ResourceDecl],
    out: list[Diagnostic],
) -> None:
    node = decl.node
    what = SECTION_KIND[decl.section].value
    key: tuple[str, ...]
    if decl.section == "channels":
        key = ("channel", node["server"], node["agent"], node["family"], node["name"])
        scope = f"for agent {node['agent']!r} ({node['family']}) on server {node['server']!r}"
    else:
        key = (what, node["server"], node["name"])
        scope = f"on server {node['server']!r}"
    if key in seen:
        out.append(
            error(
                f"unique.{what}",
                f"{what} {node['name']!r} is declared twice {scope} (first at {seen[key].location})",
                location=decl.location,
                address=str(address),
                hint="names are unique in their scope: rename or remove one of them",
            )
        )
    else:
        seen[key] = decl


def _check_models(decl: ResourceDecl, seen: dict[tuple[str, ...], ResourceDecl], out: list[Diagnostic]) -> None:
    node = decl.node
    if seen.get(("provider", node["server"], node["name"])) is not decl:
        return  # a repeated provider: reported once, at the provider
    first: dict[str, int] = {}
    for i, api in enumerate(node.get("apis") or ()):
        address = model_address(decl, api)
        if api["name"] in first:
            out.append(
                error(
                    "unique.model",
                    f"model {api['name']!r} is declared twice in provider {node['name']!r} "
                    f"(first at {decl.at('apis', first[api['name']])})",
                    location=decl.at("apis", i),
                    address=str(address),
                    hint="rename or remove one of them",
                )
            )
        else:
            first[api["name"]] = i
        _check_lifecycle(decl, api, ("apis", i), address, out, kind="model")


def _check_lifecycle(
    decl: ResourceDecl,
    node: Mapping[str, Any],
    path: tuple[str | int, ...],
    address: Address,
    out: list[Diagnostic],
    *,
    kind: str | None = None,
) -> None:
    lifecycle = node.get("lifecycle")
    if not isinstance(lifecycle, dict):
        return
    kind = kind or SECTION_KIND[decl.section].value
    if kind == "integration":
        fields: tuple[str, ...] = INTEGRATION_FIELDS
    elif kind == "provider":
        fields = PROVIDER_FIELDS
    elif kind == "model":
        fields = MODEL_FIELDS
    else:
        fields = CHANNEL_FIELDS[node["family"]]
    for i, entry in enumerate(lifecycle.get("ignore_changes") or ()):
        head, _, rest = entry.partition(".")
        problem = None
        if head not in fields:
            problem = f"`{head}` is not a field of {'an' if kind[0] in 'aeiou' else 'a'} {kind}"
            hint = _hint_close(head, fields)
        elif kind == "integration" and head == "config" and rest:
            sub = rest.partition(".")[0]
            if sub not in INTEGRATION_CONFIG_FIELDS:
                problem = f"`config.{sub}` is not a field of an integration's config"
                hint = _hint_close(sub, INTEGRATION_CONFIG_FIELDS)
        if problem:
            out.append(
                error(
                    "lifecycle.unknown-field",
                    f"ignore_changes: {problem}",
                    location=decl.at(*path, "lifecycle", "ignore_changes", i),
                    address=str(address),
                    hint=hint,
                )
            )


def _check_integration(decl: ResourceDecl, address: Address, out: list[Diagnostic]) -> None:
    for i, tag in enumerate(decl.node.get("tags") or ()):
        if tag.split(":", 1)[0] in (MANAGED_TAG_KEY, FINGERPRINT_TAG_KEY):
            out.append(_reserved_tag(decl, ("tags", i), address))


def _reserved_tag(
    decl: ResourceDecl,
    path: tuple[str | int, ...],
    address: Address,
    where: Location | None = None,
) -> Diagnostic:
    return error(
        "tags.reserved",
        f"the tag keys `{MANAGED_TAG_KEY}` and `{FINGERPRINT_TAG_KEY}` are reserved for the reconciler",
        location=where or decl.at(*path),
        address=str(address),
        hint="the reconciler adds its own marker tag; remove this one",
    )


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


def _check_provider(decl: ResourceDecl, address: Address, out: list[Diagnostic]) -> None:
    node = decl.node
    catalog = conductor_catalog()
    _conductor_name(node.get("name"), "provider", safeyaml.value_location(decl.file, node, "name"), address, out)
    for api in node.get("apis") or ():
        if isinstance(api, Mapping):
            where = safeyaml.value_location(decl.file, api, "name")
            _conductor_name(api.get("name"), "model", where, model_address(decl, api), out)
    tags = node.get("tags")
    if isinstance(tags, dict):
        for key in tags:
            if key in (MANAGED_TAG_KEY, FINGERPRINT_TAG_KEY):
                where = safeyaml.key_location(decl.file, tags, key)
                out.append(_reserved_tag(decl, ("tags", key), address, where))
    elif isinstance(tags, list):
        for i, tag in enumerate(tags):
            if tag["key"] in (MANAGED_TAG_KEY, FINGERPRINT_TAG_KEY):
                out.append(_reserved_tag(decl, ("tags", i), address))

    config: Mapping[str, Any] = node.get("configuration") or {}
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

    ctype = catalog.types.get(node["type"])
    if ctype is None:
        out.append(
            error(
                "conductor.unknown-type",
                f"provider {node['name']!r} has the unknown integration type {node['type']!r}",
                location=decl.at("type"),
                address=str(address),
                hint=_hint_close(node["type"], catalog.types),
            )
        )
        return
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
    needed_by_connection: set[str] = set()
    if ctype.connection:
        connection = config.get("connectionType")
        if isinstance(connection, str) and connection not in ctype.connection:
            out.append(
                error(
                    "conductor.connection-type",
                    f"provider {node['name']!r}: `connectionType` must be one of " + ", ".join(ctype.connection),
                    location=decl.at("configuration", "connectionType"),
                    address=str(address),
                    hint=_hint_close(connection, ctype.connection, list_all=False),
                )
            )
        elif isinstance(connection, str):
            needed_by_connection = set(ctype.connection[connection])
            for key in ctype.connection[connection]:
                if key not in config:
                    out.append(
                        error(
                            "conductor.missing-key",
                            f"provider {node['name']!r}: connectionType {connection} needs the "
                            f"configuration key `{key}`",
                            location=decl.at("configuration", "connectionType"),
                            address=str(address),
                            hint=f"{connection} takes " + ", ".join(ctype.connection[connection]),
                        )
                    )
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
            hint = _hint_close(key, ctype.known_keys)
        out.append(
            warning(
                "conductor.unknown-key",
                message,
                location=safeyaml.key_location(decl.file, config, key),
                address=str(address),
                hint=hint,
            )
        )


def _check_channel(decl: ResourceDecl, address: Address, out: list[Diagnostic]) -> None:
    node = decl.node
    family = node["family"]
    paths: list[tuple[str, ...]] = []
    auth = node.get("auth_config")
    auth_type = node.get("auth_type")
    present = auth if isinstance(auth, dict) else {}
    missing = [k for k in AUTH_NEEDS.get(str(auth_type), ()) if k not in present]
    if missing:
        fields = ", ".join(f"`auth_config.{k}`" for k in missing)
        out.append(
            error(
                "channel.auth-incomplete",
                f"channel {node['name']!r} has auth_type {auth_type} but no {fields}",
                location=decl.at("auth_type"),
                address=str(address),
                hint="add " + ", ".join(f"auth_config.{k}" for k in missing) + " (a ${env:...} reference for secrets)"
                if auth_type != "bearer"
                else "add `auth_config: {token: ${env:...}}`, or set auth_type: none",
            )
        )
    if isinstance(auth, dict):
        paths.extend(("auth_config", key) for key in AUTH_CONFIG_SECRETS if key in auth)
    if family == "bimpeai":
        paths.extend((key,) for key in BIMPEAI_SECRETS if key in node)
        kind = str(node.get("type") or node["name"])
        required = BIMPEAI_REQUIRED_SECRET.get(kind.lower())
        if required is not None and required not in node:
            env = secrets.suggested_env_name(node["name"], required)
            out.append(
                error(
                    "channel.missing-write-only",
                    f"bimpeai channel {node['name']!r} of type {kind!r} lacks `{required}`, which the "
                    "console needs to create it (and cannot return: it is write-only)",
                    location=decl.key_at("name"),
                    address=str(address),
                    hint=f"add `{required}: ${{env:{env}}}`; without it a replacement would delete the "
                    "channel and fail to create it again",
                )
            )
    for path in paths:
        value: Any = node
        for part in path:
            value = value[part]
        if not (isinstance(value, str) and secrets.has_reference(value)):
            env = secrets.suggested_env_name(node["name"], path[-1])
            out.append(
                error(
                    "secret.literal",
                    f"`{'.'.join(path)}` of channel {node['name']!r} is a password-type field "
                    "written as a literal value",
                    location=decl.at(*path),
                    address=str(address),
                    hint=REFERENCE_HINT.format(field=path[-1], env=env),
                )
            )
