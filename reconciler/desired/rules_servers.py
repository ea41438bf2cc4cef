"""The rules of server declarations: one declaration per name, a usable url, credentials that
suit the server's kind and are references (present unless the url is `sandbox:`)."""

from __future__ import annotations

from reconciler.desired import safeyaml, secrets
from reconciler.desired.document import ServerDecl
from reconciler.desired.fields import ALL_CREDENTIAL_FIELDS, CREDENTIAL_FIELDS, REFERENCE_HINT
from reconciler.errors import Diagnostic, error
from reconciler.model import ServerKind


def check_servers(decls: list[ServerDecl], out: list[Diagnostic]) -> dict[str, ServerDecl]:
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
