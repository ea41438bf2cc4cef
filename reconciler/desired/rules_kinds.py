"""Per-kind rules of one resource declaration: `lifecycle.ignore_changes` names its kind's
fields, the reconciler's own tags are reserved, a channel's auth and write-only fields are
complete and references, and a literal under a secret-named key is warned about. The
Conductor provider's rules, which follow its type catalog, are in `rules_conductor`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.desired import secrets
from reconciler.desired.document import SECTION_KIND, ResourceDecl
from reconciler.desired.fields import (
    CHANNEL_FIELDS,
    INTEGRATION_CONFIG_FIELDS,
    INTEGRATION_FIELDS,
    MODEL_FIELDS,
    PROVIDER_FIELDS,
    REFERENCE_HINT,
    hint_close,
)
from reconciler.desired.schema import path_text
from reconciler.errors import Diagnostic, Location, error, warning
from reconciler.kinds.console import AUTH_CONFIG_SECRETS, AUTH_NEEDS, BIMPEAI_REQUIRED_SECRET, BIMPEAI_SECRETS
from reconciler.model import FINGERPRINT_TAG_KEY, MANAGED_TAG_KEY, Address
from reconciler.secrecy import may_name_a_secret, secret_named

_NOT_SECRET_KEYS = frozenset({"name", "server", "type", "family", "agent", "lifecycle", "apis", "tags"})


def check_secret_named_literals(decl: ResourceDecl, address: Address, out: list[Diagnostic]) -> None:
    """A literal under a key named like a secret (`env_vars.DB_PASSWORD: hunter2`): a warning,
    since the value would sit in git (it is never shown by plan, drift or export). Fields
    already reported as literal password-type fields are not reported twice."""
    reported: set[Any] | None = None
    for path, value in _string_leaves(decl.node, (), False, []):
        if not value or secrets.has_reference(value):
            continue
        dotted = path_text(path)
        if not secret_named(dotted):
            continue
        if reported is None:
            reported = {d.location for d in out if d.code == "secret.literal" and d.address == str(address)}
        where = decl.at(*path)
        if where in reported:
            continue
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


def _string_leaves(
    value: Any, path: tuple[str | int, ...], named: bool, out: list[tuple[tuple[str | int, ...], str]]
) -> list[tuple[tuple[str | int, ...], str]]:
    """The strings of a declaration with their paths, identity keys at the top left out, and
    only under a key that may name a secret (`named`: one on the path so far does): the rest
    can never be secret-named, and a large file has hundreds of thousands of them. A plain
    function appending to `out`, not a recursive closure (a cycle per resource, which only
    the garbage collector, off in the CLI, would free) nor a generator (a frame per level per
    leaf)."""
    if isinstance(value, str):
        if named:
            out.append((path, value))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if not path and key in _NOT_SECRET_KEYS:
                continue
            text = str(key)
            _string_leaves(item, (*path, text), named or may_name_a_secret(text), out)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _string_leaves(item, (*path, i), named, out)
    return out


def check_lifecycle(
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
            hint = hint_close(head, fields)
        elif kind == "integration" and head == "config" and rest:
            sub = rest.partition(".")[0]
            if sub not in INTEGRATION_CONFIG_FIELDS:
                problem = f"`config.{sub}` is not a field of an integration's config"
                hint = hint_close(sub, INTEGRATION_CONFIG_FIELDS)
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


def check_integration(decl: ResourceDecl, address: Address, out: list[Diagnostic]) -> None:
    for i, tag in enumerate(decl.node.get("tags") or ()):
        if tag.split(":", 1)[0] in (MANAGED_TAG_KEY, FINGERPRINT_TAG_KEY):
            out.append(reserved_tag(decl, ("tags", i), address))


def reserved_tag(
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


def check_channel(decl: ResourceDecl, address: Address, out: list[Diagnostic]) -> None:
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
