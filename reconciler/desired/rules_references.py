"""Cross-file rules of resource declarations: names unique in their scope across every file, a
declared server of the section's kind, and no secret reference where a value identifies
something (names, types, agents, tags), since those are printed in every plan."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.desired import secrets
from reconciler.desired.document import SECTION_KIND, ResourceDecl, ServerDecl
from reconciler.desired.fields import SECTION_SERVER_KIND, SERVER_KIND_SECTION, hint_close, model_address
from reconciler.desired.rules_kinds import check_lifecycle
from reconciler.desired.schema import path_text
from reconciler.errors import Diagnostic, error
from reconciler.model import Address, ServerKind


def check_identity_references(decl: ResourceDecl, address: Address, out: list[Diagnostic]) -> None:
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


def check_server_reference(
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
        close = hint_close(name, servers, list_all=False)
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


def check_unique(
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


def check_models(decl: ResourceDecl, seen: dict[tuple[str, ...], ResourceDecl], out: list[Diagnostic]) -> None:
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
        check_lifecycle(decl, api, ("apis", i), address, out, kind="model")
