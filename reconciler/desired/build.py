"""Declarations -> model values: `ServerConfig`s and `Resource`s in canonical shape.

Secret references are resolved here (into `Sensitive`), each problem placed at the string
that holds the reference. The kinds' fields, defaults and secret keys come from their specs
(`reconciler.kinds`). The bodies (see `reconciler.desired` for the full description):

- integration: `{type, description, config, tags, status}`; `config` holds only the keys written,
  but a file entry is completed with the server's defaults (`mode` "0644", others None) and a
  connection test with `enabled` True and `timeout` 5, as the server stores them;
- provider: `{type, category, description, enabled, configuration, tags}`, tags as a sorted
  list of `{key, value}`; password-type configuration keys are write-only;
- model: `{description, enabled, configuration}`;
- channel: the family's fields as written, with the API's defaults filled in.

Provider, model and channel bodies are built in canonical shape, so the adapters' `prepare`
returns them as they are; an integration's keeps only the config keys written (as declared),
and its adapter completes it with the spec's `canonical()`.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.desired import safeyaml
from reconciler.desired.document import Declarations, ResourceDecl, ServerDecl
from reconciler.desired.fields import CREDENTIAL_FIELDS, address_of, model_address
from reconciler.desired.secrets import Resolver
from reconciler.errors import Diagnostic, error
from reconciler.kinds import spec
from reconciler.kinds.catalog import conductor_catalog, secret_keys
from reconciler.kinds.kubiya import FILE_DEFAULTS, TEST_DEFAULTS
from reconciler.model import Address, Lifecycle, Resource, ResourceKind, Sensitive, ServerConfig, ServerKind

PROVIDER = spec(ResourceKind.PROVIDER)
MODEL = spec(ResourceKind.MODEL)


@dataclass
class Built:
    servers: dict[str, ServerConfig] = field(default_factory=dict)
    resources: list[Resource] = field(default_factory=list)


@dataclass
class _Values:
    """Copies parsed values into plain dicts and lists, resolving references on the way."""

    resolver: Resolver
    file: str
    base_dir: Path
    out: list[Diagnostic]
    address: Address | None = None

    def get(self, container: Mapping[str, Any] | list[Any], key: str | int) -> Any:
        return self.value(container[key], container, key)  # type: ignore[index]

    def value(self, value: Any, container: Any, key: str | int) -> Any:
        kind = type(value)
        if kind is str:
            if "${" not in value:
                return value
            resolved, problems = self.resolver.resolve(value, self.base_dir)
            if problems:
                if isinstance(key, int):
                    where = safeyaml.item_location(self.file, container, key)
                else:
                    where = safeyaml.value_location(self.file, container, key)
                for problem in problems:
                    self.out.append(
                        error(
                            problem.code,
                            problem.message,
                            location=where,
                            address=str(self.address) if self.address else None,
                            hint=problem.hint,
                        )
                    )
            return resolved
        if isinstance(value, dict):
            return {k: self.value(v, value, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v, value, i) for i, v in enumerate(value)]
        return value


def build(
    decls: Declarations,
    resolver: Resolver,
    out: list[Diagnostic],
    *,
    only: Collection[str] = (),
    consume: bool = False,
) -> Built:
    """Model values for every declaration; reference problems are appended to `out`.

    With `only`, the references of other servers (and of their resources) are not read: they
    become empty sensitive values, and only their syntax is checked. With `consume`, each
    resource entry is emptied once it is built (`safeyaml.release`): for a load that is done
    with the parsed documents afterwards."""
    built = Built()
    unread = resolver.unread()

    def for_server(name: Any) -> Resolver:
        return resolver if not only or name in only else unread

    for server in decls.servers:
        if server.name not in built.servers:
            built.servers[server.name] = _server(server, for_server(server.name), out)
    # An entry written once (not repeated by an alias) is emptied as soon as it is built: its
    # values have been copied, and the parsed document then shrinks while the model grows.
    written = Counter(id(d.node) for d in decls.resources)
    for decl in decls.resources:
        if not decl.complete:
            continue  # parts of it were refused: its other problems are reported, nothing built
        values = _Values(for_server(decl.node.get("server")), decl.file, decl.document.base_dir, out, address_of(decl))
        if decl.section == "integrations":
            built.resources.append(_integration(decl, values))
        elif decl.section == "providers":
            built.resources.append(_provider(decl, values))
            built.resources.extend(_models(decl, values))
        else:
            built.resources.append(_channel(decl, values))
        if consume and written[id(decl.node)] == 1:
            safeyaml.release(decl.node, deep=False)
    return built


def _server(decl: ServerDecl, resolver: Resolver, out: list[Diagnostic]) -> ServerConfig:
    node = decl.node
    values = _Values(resolver, decl.document.file, decl.document.base_dir, out)
    kind = ServerKind(node["kind"])
    credentials: dict[str, Sensitive] = {}
    for name in CREDENTIAL_FIELDS[kind]:
        if name in node:
            credentials[name] = _sensitive(values.get(node, name), f"server {decl.name}.{name}")
    fingerprint_key = None
    if "fingerprint_key" in node:
        fingerprint_key = _sensitive(values.get(node, "fingerprint_key"), "fingerprint_key")
    url = sandbox_url(node["url"], decl.document.base_dir)
    defaults = ServerConfig(decl.name, kind, url)
    return ServerConfig(
        name=decl.name,
        kind=kind,
        url=url,
        credentials=credentials,
        parallelism=int(node.get("parallelism", defaults.parallelism)),
        rate_limit=float(node.get("rate_limit", defaults.rate_limit)),
        timeout=float(node.get("timeout", defaults.timeout)),
        prune=bool(node.get("prune", defaults.prune)),
        batch_size=int(node.get("batch_size", defaults.batch_size)),
        fingerprint_key=fingerprint_key,
        location=decl.location,
        deadline=float(node.get("deadline", defaults.deadline)),
        max_response_mb=float(node.get("max_response_mb", defaults.max_response_mb)),
        url_location=safeyaml.locate(decl.document.file, node, ("url",)),
        owner=str(node.get("owner") or ""),
        channel_limit=int(node["channel_limit"]) if "channel_limit" in node else None,
        credential_locations={
            name: safeyaml.value_location(decl.document.file, node, name) for name in credentials
        },
    )


SANDBOX_DEFAULT_DB = ".reconciler/sandbox.db"


def sandbox_url(url: str, base_dir: Path) -> str:
    """A `sandbox:` url with its database path made absolute, relative to the directory of
    the desired-state file that declares it (as `${file:...}` references are): the same file
    plans against the same database from any working directory. `sandbox:` alone names
    `.reconciler/sandbox.db` beside the file; `sandbox::memory:` stays in memory."""
    if not url.startswith("sandbox:"):
        return url
    rest = url[len("sandbox:") :]
    if rest == ":memory:":
        return url
    if rest in ("", "//"):
        rest = SANDBOX_DEFAULT_DB
    path = Path(rest).expanduser()
    if not path.is_absolute():
        path = Path(base_dir) / path
    return "sandbox:" + os.path.normpath(path.absolute())


def _sensitive(value: Any, source: str) -> Sensitive:
    # A literal credential has already been reported by the rules; it is still wrapped so
    # that it is never shown.
    return value if isinstance(value, Sensitive) else Sensitive(str(value), source=source)


_NO_LIFECYCLE = Lifecycle()


def _lifecycle(node: Mapping[str, Any]) -> Lifecycle:
    spec = node.get("lifecycle")
    if not spec:
        return _NO_LIFECYCLE
    return Lifecycle(
        prevent_destroy=bool(spec.get("prevent_destroy", False)),
        ignore_changes=tuple(spec.get("ignore_changes") or ()),
        replace_on_type_change=bool(spec.get("replace_on_type_change", False)),
    )


def _integration(decl: ResourceDecl, values: _Values) -> Resource:
    node = decl.node
    config: dict[str, Any] = {}
    written = node.get("config") or {}
    for key in written:
        if key == "files":
            config["files"] = [
                {
                    "path": values.get(entry, "path"),
                    **{k: values.get(entry, k) if entry.get(k) is not None else d for k, d in FILE_DEFAULTS.items()},
                }
                for entry in written["files"]
            ]
        elif key == "connection_test":
            test = written["connection_test"]
            config["connection_test"] = (
                None
                if test is None
                else {
                    "enabled": test.get("enabled", TEST_DEFAULTS["enabled"]),
                    "command": values.get(test, "command"),
                    "timeout": test.get("timeout", TEST_DEFAULTS["timeout"]),
                }
            )
        else:
            config[key] = values.get(written, key)
    body = {
        "type": node["type"],
        "description": values.get(node, "description") if "description" in node else None,
        "config": config,
        "tags": sorted(node.get("tags") or ()),
        "status": node.get("status") or "active",
    }
    return Resource(
        address=address_of(decl),
        body=body,
        location=decl.location,
        lifecycle=_lifecycle(node),
        write_only=(),
    )


def _tags(tags: Any) -> list[dict[str, str]]:
    if isinstance(tags, dict):
        pairs = {(str(k), str(v)) for k, v in tags.items()}
    else:
        pairs = {(t["key"], t["value"]) for t in tags or ()}
    return [{"key": k, "value": v} for k, v in sorted(pairs)]


def _provider(decl: ResourceDecl, values: _Values) -> Resource:
    node = decl.node
    ctype = conductor_catalog().types.get(node["type"])
    configuration = values.get(node, "configuration") if "configuration" in node else {}
    category = node.get("category") or (ctype.category if ctype else None)
    body = {
        "type": node["type"],
        "description": (values.get(node, "description") if node.get("description") is not None else ""),
        "enabled": node.get("enabled", True),
        "configuration": configuration,
        "tags": _tags(node.get("tags")),
    }
    if category is not None:
        # A type whose category is not published gets none (the server's is then not
        # compared), unless the desired state names one.
        body["category"] = category
    write_only = tuple(f"configuration.{k}" for k in sorted(secret_keys(node["type"]) & set(configuration)))
    return Resource(
        address=address_of(decl),
        body=body,
        location=decl.location,
        lifecycle=_lifecycle(node),
        write_only=write_only,
        open_paths=PROVIDER.open_paths,
    )


def _models(decl: ResourceDecl, values: _Values) -> list[Resource]:
    models = []
    apis = decl.node.get("apis") or []
    for i, api in enumerate(apis):
        address = model_address(decl, api)
        values.address = address
        body = {
            "description": values.get(api, "description") if api.get("description") is not None else "",
            "enabled": api.get("enabled", True),
            "configuration": values.get(api, "configuration") if "configuration" in api else {},
        }
        models.append(
            Resource(
                address=address,
                body=body,
                location=safeyaml.item_location(decl.file, apis, i),
                lifecycle=_lifecycle(api),
                open_paths=MODEL.open_paths,
            )
        )
    return models


def _channel(decl: ResourceDecl, values: _Values) -> Resource:
    node = decl.node
    family = spec(ResourceKind.CHANNEL, node["family"])
    body: dict[str, Any] = {f: values.get(node, f) for f in family.fields if f in node}
    for key, default in family.defaults.items():
        body.setdefault(key, default)
    return Resource(
        address=address_of(decl),
        body=body,
        location=decl.location,
        lifecycle=_lifecycle(node),
        write_only=tuple(f for f in family.write_only if f in body),
        scope_location=safeyaml.value_location(decl.file, node, "agent"),
    )
