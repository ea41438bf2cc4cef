"""Live state → desired-state YAML, so that a team can adopt a setup that already exists.

What the server adds is left out (Kubiya's filled-in config defaults, Conductor's empty
server-side keys such as `organizationId: ""`, audit fields, ids), so that the file reads as a
person would write it. Values the server never returns or masks (Conductor password fields,
console `auth_config`) become `${env:...}` references for the user to fill in; the names are
returned so the command can list them. Exported, then planned with those variables set, the
file shows no changes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from reconciler.desired.dumper import dump
from reconciler.kinds.catalog import secret_keys
from reconciler.kinds.conductor import MASK
from reconciler.kinds.console import AUTH_KEYS
from reconciler.kinds.console import BIMPEAI_REQUIRED_SECRET as BIMPEAI_SECRET
from reconciler.kinds.kubiya import FILE_DEFAULTS, TEST_DEFAULTS
from reconciler.model import LiveResource, Resource, ResourceKind, Sensitive, ServerConfig
from reconciler.secrecy import secret_named, sensitive_in

# Keys of an exported record that name or structure it; never secrets, whatever they are called.
_IDENTITY_KEYS = frozenset({"name", "server", "type", "family", "agent", "category", "tags", "apis"})


_ENV_REF = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")


def env_name(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", "_".join(parts)).strip("_").upper()


def _integration(item: LiveResource) -> dict[str, Any]:
    body = item.body
    out: dict[str, Any] = {"name": item.address.name, "server": item.address.server, "type": body.get("type")}
    if body.get("description"):
        out["description"] = body["description"]
    cfg = _integration_config(body.get("config") or {})
    if cfg:
        out["config"] = cfg
    if body.get("tags"):
        out["tags"] = list(body["tags"])
    if body.get("status") == "inactive":
        out["status"] = "inactive"
    return out


def _integration_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """An integration's `config` as a person writes it: the server's defaults left out."""
    cfg: dict[str, Any] = {}
    if config.get("env_vars"):
        cfg["env_vars"] = dict(config["env_vars"])
    if config.get("secrets"):
        cfg["secrets"] = list(config["secrets"])
    files = [_integration_file(f) for f in config.get("files") or []]
    if files:
        cfg["files"] = files
    if config.get("context_prompt") is not None:
        cfg["context_prompt"] = config["context_prompt"]
    test = config.get("connection_test")
    if test:
        t: dict[str, Any] = {"command": test.get("command")}
        if test.get("timeout") not in (None, TEST_DEFAULTS["timeout"]):
            t["timeout"] = test["timeout"]
        if test.get("enabled") is False:
            t["enabled"] = False
        cfg["connection_test"] = t
    return cfg


def _integration_file(f: Mapping[str, Any]) -> dict[str, Any]:
    entry = {"path": f.get("path")}
    if f.get("content") is not None:
        entry["content"] = f["content"]
    if f.get("secret_ref") is not None:
        entry["secret_ref"] = f["secret_ref"]
    if f.get("mode") not in (None, FILE_DEFAULTS["mode"]):
        entry["mode"] = f["mode"]
    if f.get("description") is not None:
        entry["description"] = f["description"]
    return entry


def _configuration(
    config: Mapping[str, Any], owner: Sequence[str], needed: list[str], secret: frozenset[str]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.items():
        if value == MASK or key in secret:
            name = env_name(*owner, key)
            needed.append(name)
            out[key] = f"${{env:{name}}}"
        elif value == "" or value is None:
            continue  # server-side default, not something a person set
        else:
            out[key] = value
    return out


def _provider(item: LiveResource, models: Iterable[LiveResource], needed: list[str]) -> dict[str, Any]:
    body = item.body
    owner = (item.address.server, item.address.name)
    out: dict[str, Any] = {
        "name": item.address.name,
        "server": item.address.server,
        "type": body.get("type"),
        "category": body.get("category"),
    }
    if body.get("description"):
        out["description"] = body["description"]
    if body.get("enabled") is False:
        out["enabled"] = False
    # The provider type's password-type keys, from the one catalog the adapter asks too.
    secret = secret_keys(body.get("type"))
    configuration = _configuration(body.get("configuration") or {}, owner, needed, secret)
    if configuration:
        out["configuration"] = configuration
    tags = body.get("tags") or []
    if tags:
        keys = [t["key"] for t in tags]
        out["tags"] = {t["key"]: t["value"] for t in tags} if len(set(keys)) == len(keys) else list(tags)
    apis = []
    for m in sorted(models, key=lambda m: m.address.name):
        api: dict[str, Any] = {"name": m.address.name}
        if m.body.get("description"):
            api["description"] = m.body["description"]
        if m.body.get("enabled") is False:
            api["enabled"] = False
        cfg = _configuration(m.body.get("configuration") or {}, (*owner, m.address.name), needed, secret)
        if cfg:
            api["configuration"] = cfg
        apis.append(api)
    if apis:
        out["apis"] = apis
    return out


def _channel(item: LiveResource, needed: list[str]) -> dict[str, Any]:
    agent, family = item.address.scope
    out: dict[str, Any] = {"server": item.address.server, "agent": agent, "family": family, "name": item.address.name}
    for key, value in item.body.items():
        if value is not None:
            out[key] = value
    if family == "bimpeai":
        secret = BIMPEAI_SECRET.get(str(item.body.get("type") or "").lower())
        if secret is not None:
            name = env_name(item.address.server, agent, item.address.name, secret)
            needed.append(name)
            out[secret] = f"${{env:{name}}}"
    auth_type = item.body.get("auth_type")
    if isinstance(auth_type, str) and auth_type in AUTH_KEYS:
        auth: dict[str, Any] = {}
        for key in AUTH_KEYS[auth_type]:
            name = env_name(item.address.server, agent, item.address.name, key)
            needed.append(name)
            auth[key] = f"${{env:{name}}}"
        out["auth_config"] = auth
    return out


def references_by_path(resources: Iterable[Resource]) -> dict[tuple[str, str], str]:
    """(address, dotted path) → the whole `${env:…}`/`${file:…}` reference declared there, so
    that a value the server changed since (a rotated password) is exported under the same
    variable name."""
    found: dict[tuple[str, str], str] = {}

    def walk(address: str, path: str, value: Any) -> None:
        if isinstance(value, Sensitive):
            if value.source and "," not in value.source:
                found[(address, path)] = "${" + value.source + "}"
        elif isinstance(value, Mapping):
            for k, v in value.items():
                walk(address, f"{path}.{k}" if path else str(k), v)

    for res in resources:
        walk(str(res.address), "", res.body)
    return found


def _reference_secret_named(
    record: dict[str, Any],
    address: str,
    owner: Sequence[str],
    declared: Mapping[tuple[str, str], str],
    needed: list[str],
) -> None:
    """Values under keys named like a secret (`DB_PASSWORD`, `API_TOKEN`) that only the server
    holds become references: the file is meant for git. The reference declared at the same
    place in the desired state is reused; otherwise one is named after the place."""

    def walk(node: dict[str, Any], path: str) -> None:
        for key, value in node.items():
            if not path and key in _IDENTITY_KEYS:
                continue
            dotted = f"{path}.{key}" if path else str(key)
            if isinstance(value, dict):
                walk(value, dotted)
            elif isinstance(value, str) and (address, dotted) in declared and value.startswith("${env:"):
                # A write-only value exported as a reference: the declared one, if any.
                node[key] = declared[(address, dotted)]
            elif isinstance(value, str) and secret_named(dotted) and not value.startswith("${"):
                ref = declared.get((address, dotted))
                if ref is None:
                    ref = f"${{env:{env_name(*owner, str(key))}}}"
                node[key] = ref

    walk(record, "")


def references_of(resources: Iterable[Resource]) -> dict[str, str]:
    """Secret value → the reference it was declared with, for values declared as one whole
    `${env:…}`/`${file:…}` reference."""
    found: dict[str, str] = {}
    for res in resources:
        for secret in sensitive_in(res.body):
            if secret.source and "," not in secret.source and secret.reveal():
                found.setdefault(secret.reveal(), "${" + secret.source + "}")
    return found


def _server_block(server: ServerConfig) -> dict[str, Any]:
    """The server's declaration, credentials as the references they were declared with (the
    sandbox's built-in credentials, declared as nothing, stay out)."""
    block: dict[str, Any] = {"kind": server.kind.value, "url": server.url}
    for key, value in sorted(server.credentials.items()):
        if value.source and "," not in value.source:
            block[key] = "${" + value.source + "}"
    return block


def _hide_secrets(value: Any, secrets: Mapping[str, str], owner: list[str], needed: list[str]) -> Any:
    """Write declared secrets back as their references; a string merely holding one (a
    composite like `Bearer <token>`) becomes a reference to fill in."""
    if isinstance(value, str):
        if value in secrets:
            return secrets[value]
        if any(secret in value for secret in secrets):
            name = env_name(*owner)
            needed.append(name)
            return f"${{env:{name}}}"
        return value
    if isinstance(value, dict):
        return {k: _hide_secrets(v, secrets, [*owner, str(k)], needed) for k, v in value.items()}
    if isinstance(value, list):
        return [_hide_secrets(v, secrets, [*owner, str(i)], needed) for i, v in enumerate(value)]
    return value


def export(
    server: ServerConfig,
    live: Sequence[LiveResource],
    kinds: Iterable[ResourceKind] | None = None,
    secrets: Mapping[str, str] | None = None,
    declared: Mapping[tuple[str, str], str] | None = None,
    with_server: bool = False,
) -> tuple[str, list[str]]:
    """The YAML text of `live` (one server's resources) and the env variables it references.

    `secrets` (from `references_of`) maps secret values the desired state declared to their
    references: the server returns some of them verbatim (Kubiya env vars, file contents), and
    the export must write the reference, never the value."""
    wanted = set(kinds) if kinds else set(ResourceKind)
    if ResourceKind.PROVIDER in wanted:
        wanted.add(ResourceKind.MODEL)
    needed: list[str] = []
    doc: dict[str, Any] = {}
    items = sorted((i for i in live if not i.deleted and i.address.kind in wanted), key=lambda i: str(i.address))
    integrations = [_integration(i) for i in items if i.address.kind is ResourceKind.INTEGRATION]
    models: dict[str, list[LiveResource]] = {}
    for i in items:
        if i.address.kind is ResourceKind.MODEL:
            models.setdefault(i.address.scope[0], []).append(i)
    providers = [
        _provider(i, models.get(i.address.name, []), needed) for i in items if i.address.kind is ResourceKind.PROVIDER
    ]
    channels = [_channel(i, needed) for i in items if i.address.kind is ResourceKind.CHANNEL]
    by_address = {
        str(i.address): r
        for i, r in zip(
            [i for i in items if i.address.kind is ResourceKind.INTEGRATION]
            + [i for i in items if i.address.kind is ResourceKind.PROVIDER]
            + [i for i in items if i.address.kind is ResourceKind.CHANNEL],
            [*integrations, *providers, *channels],
            strict=True,
        )
    }
    for address, record in by_address.items():
        owner = [server.name, *[str(record.get(k)) for k in ("agent", "name") if record.get(k)]]
        _reference_secret_named(record, address, owner, declared or {}, needed)
    if with_server:
        doc["version"] = 1
        doc["servers"] = {server.name: _server_block(server)}
    if integrations:
        doc["integrations"] = integrations
    if providers:
        doc["providers"] = providers
    if channels:
        doc["channels"] = channels
    if secrets:
        doc = _hide_secrets(doc, secrets, [server.name], needed)
    # Every variable the file references, declared or made up here, must be set to plan it.
    needed = sorted(set(needed) | set(_ENV_REF.findall(dump(doc))))
    header = (
        f"# Exported from server {server.name!r} ({server.kind.value}) by `reconciler export`.\n"
        + (
            "# A complete desired state: set the ${env:...} variables, then plan it on its own.\n"
            if with_server
            else "# Plan it together with the file that declares the server; set the ${env:...} variables first.\n"
        )
    )
    body = dump(doc)
    return header + (body if doc else "{}\n"), sorted(set(needed))
