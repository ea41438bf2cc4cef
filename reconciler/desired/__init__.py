"""The desired state: YAML files (optionally Jinja2 templates) -> servers and resources.

Public API:

- `load(paths, variables=…, var_files=…, environ=None) -> DesiredState`: raises
  `DiagnosticsError` holding every problem found (errors and warnings, sorted) when there is
  at least one error; otherwise warnings are in `DesiredState.diagnostics`.
- `check(paths, …) -> (DesiredState | None, diagnostics)`: the same, never raising for bad
  input (for `reconciler validate`); the state is None when there is an error.
- `render(path, variables=…, var_files=…) -> str`: the text a `.j2` file renders to (positions
  in a template's diagnostics name the template's own lines; this shows what they rendered to).
- `FORMAT_DOC`: the reference of the file format (for the README and `--help`).

`paths` are files or directories; a directory stands for its `*.yaml`, `*.yml`, `*.yaml.j2`
and `*.yml.j2` files, sorted by name, not recursively. All files form one desired state.

Layers, each reporting every problem it finds with `file:line:column` and a hint:
templating (`.j2` files only) -> UTF-8 and size -> YAML syntax -> safe loading (tags,
duplicate keys, alias and depth bounds) -> JSON Schema -> cross-file rules (Conductor types,
unique names, server references, credentials) -> secret references.
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from reconciler.desired import build, document, rules, safeyaml, template
from reconciler.desired.schema import SCHEMA
from reconciler.desired.secrets import Resolver
from reconciler.errors import (
    Diagnostic,
    DiagnosticsError,
    Location,
    Severity,
    error,
    sort_diagnostics,
    warning,
)
from reconciler.model import Resource, ServerConfig, ServerKind

__all__ = [
    "FORMAT_DOC",
    "SCHEMA",
    "DesiredState",
    "check",
    "expand_paths",
    "load",
    "render",
]


@dataclass(frozen=True)
class DesiredState:
    """Everything the files declare, validated and resolved.

    `servers`: by name. `resources`: in file order; within a file integrations, then each
    provider followed by its models, then channels. `diagnostics`: the warnings (a state
    exists only when there was no error). `files`: the files read, as given or found.
    """

    servers: Mapping[str, ServerConfig]
    resources: tuple[Resource, ...]
    diagnostics: tuple[Diagnostic, ...] = ()
    files: tuple[str, ...] = ()


def load(
    paths: Sequence[str | Path],
    *,
    variables: Mapping[str, str] = MappingProxyType({}),
    var_files: Sequence[str | Path] = (),
    environ: Mapping[str, str] | None = None,
    limits: safeyaml.Limits = safeyaml.DEFAULT_LIMITS,
    servers: Collection[str] = (),
) -> DesiredState:
    """Read and validate the desired state. Raises DiagnosticsError on any error.

    `servers`: when given, only these servers' secret references (their credentials and their
    resources' values) are resolved; the others' are checked for syntax but not read, so a
    command scoped to one server does not need every other server's credentials."""
    state, diagnostics = check(
        paths, variables=variables, var_files=var_files, environ=environ, limits=limits, servers=servers
    )
    if state is None:
        raise DiagnosticsError(diagnostics)
    return state


def check(
    paths: Sequence[str | Path],
    *,
    variables: Mapping[str, str] = MappingProxyType({}),
    var_files: Sequence[str | Path] = (),
    environ: Mapping[str, str] | None = None,
    limits: safeyaml.Limits = safeyaml.DEFAULT_LIMITS,
    servers: Collection[str] = (),
) -> tuple[DesiredState | None, list[Diagnostic]]:
    """Read and validate the desired state; every diagnostic, sorted, and the state if valid
    (`servers`: see `load`)."""
    with _collector_paused():
        return _check(paths, variables, var_files, environ, limits, frozenset(servers))


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a desired state is read.

    Loading allocates hundreds of thousands of small containers that all stay alive until
    the end, so every automatic collection would rescan them for nothing: on a 10,000-resource
    file that doubled the load time. It is switched back on (if it was on) when the load ends.
    The load makes no reference cycles (a test holds it to that), so when the collector was
    off (the `reconciler` executable runs with it off) nothing is left for it to free.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _check(
    paths: Sequence[str | Path],
    variables: Mapping[str, str],
    var_files: Sequence[str | Path],
    environ: Mapping[str, str] | None,
    limits: safeyaml.Limits,
    servers: frozenset[str],
) -> tuple[DesiredState | None, list[Diagnostic]]:
    diagnostics: list[Diagnostic] = []
    files = expand_paths(paths, diagnostics)
    template_vars = _template_variables(variables, var_files, limits, diagnostics)
    if (variables or var_files) and files and not any(template.is_template(f) for f in files):
        diagnostics.append(
            warning(
                "template.unused-variables",
                "variables were given, but no template (`*.j2`) file was loaded; plain YAML files are not templated",
                hint="rename a file to `*.yaml.j2` to render it with the variables",
            )
        )
    documents = []
    for label in files:
        doc = document.read_document(
            Path(label),
            label,
            variables=template_vars,
            limits=limits,
            diagnostics=diagnostics,
        )
        if doc is not None:
            documents.append(doc)
            if not doc.value:
                diagnostics.append(
                    warning(
                        "file.empty",
                        "the file declares nothing (it is empty, or holds only comments)",
                        location=Location(label),
                        hint="an empty file is usually a mistake: check that it is the file you meant",
                    )
                )
    decls = document.declarations(documents)
    diagnostics.extend(rules.check(decls))
    resolver = Resolver(os.environ if environ is None else environ)
    built = build.build(decls, resolver, diagnostics, only=servers, consume=True)
    # Everything the state needs has been copied out of the parsed documents: they go now,
    # before the live state is read, rather than at exit. Emptied, not only dropped, since a
    # rule's diagnostic closure may still hold a declaration (the collector is paused).
    for doc in documents:
        safeyaml.release(doc.value)
    ordered = sort_diagnostics(diagnostics)
    if any(d.severity is Severity.ERROR for d in ordered):
        return None, ordered
    state = DesiredState(
        servers=MappingProxyType(built.servers),
        resources=tuple(built.resources),
        diagnostics=tuple(ordered),
        files=tuple(files),
    )
    return state, ordered


def render(
    path: str | Path,
    *,
    variables: Mapping[str, str] = MappingProxyType({}),
    var_files: Sequence[str | Path] = (),
    limits: safeyaml.Limits = safeyaml.DEFAULT_LIMITS,
) -> str:
    """The rendered text of one `.j2` file (a plain file comes back as it is)."""
    diagnostics: list[Diagnostic] = []
    label = str(path)
    template_vars = _template_variables(variables, var_files, limits, diagnostics)
    data = document.read_bytes(Path(label), label, limits, diagnostics)
    if diagnostics or data is None:
        raise DiagnosticsError(diagnostics)
    text = safeyaml.decode(data, label)
    if not template.is_template(label):
        return text
    return template.render(text, file=label, variables=template_vars, max_bytes=limits.max_bytes)


def expand_paths(paths: Sequence[str | Path], diagnostics: list[Diagnostic]) -> list[str]:
    """The files that `paths` stand for, each once, in the order given (directories sorted)."""
    files: list[str] = []
    seen: set[Path] = set()
    if not paths:
        diagnostics.append(error("file.none", "no desired-state file was given", hint="name a file or directory"))
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(document.YAML_SUFFIXES))
            if not found:
                diagnostics.append(
                    error(
                        "file.none",
                        "the directory holds no *.yaml, *.yml or *.yaml.j2 file",
                        location=Location(str(given)),
                    )
                )
            candidates = [str(p) for p in found]
        else:
            candidates = [str(given)]
        for candidate in candidates:
            try:
                key = Path(candidate).resolve()
            except (OSError, ValueError, RuntimeError):
                key = Path(candidate)  # unreadable: reading it will report why
            if key not in seen:
                seen.add(key)
                files.append(candidate)
    return files


def _template_variables(
    variables: Mapping[str, str],
    var_files: Sequence[str | Path],
    limits: safeyaml.Limits,
    diagnostics: list[Diagnostic],
) -> dict[str, Any]:
    """Var files in order, then `variables` (`--var k=v`) on top."""
    merged: dict[str, Any] = {}
    for var_file in var_files:
        label = str(var_file)
        data = document.read_bytes(Path(label), label, limits, diagnostics)
        if data is None:
            continue
        try:
            value = safeyaml.load_data(safeyaml.decode(data, label), label)
        except DiagnosticsError as exc:
            diagnostics.extend(exc.diagnostics)
            continue
        if value is None:
            continue
        if not isinstance(value, dict):
            diagnostics.append(
                error(
                    "template.var-file",
                    "a var file must be a mapping of variable names to values",
                    location=safeyaml.container_location(label, value),
                    hint="write `name: value` lines",
                )
            )
            continue
        merged.update(value)
    merged.update(variables)
    return merged


FORMAT_DOC = r"""
Desired-state files
===================

A desired state is one or more YAML files (a directory loads all its `*.yaml`, `*.yml` and
`*.yaml.j2` files, sorted, as one). Add this first line for editor completion and checks:

    # yaml-language-server: $schema=../schemas/desired-state.schema.json

    version: 1                      # optional; only 1 exists
    servers:
      kubiya:                       # server name: letters, digits, - and _
        kind: kubiya                # kubiya | conductor | console
        url: "sandbox:"             # https://… or sandbox:[PATH] (quote a bare sandbox:)
        token: ${env:KUBIYA_TOKEN}  # kubiya: token; conductor: key_id + key_secret;
                                    # console: api_key. Omit only with a sandbox: url.
        parallelism: <parallelism>   # optional: requests in flight (1-64)
        rate_limit: <rate_limit>     # optional: requests/s, 0 = no limit
        timeout: <timeout>           # optional: seconds per request
        prune: <prune>               # optional: delete managed resources no longer declared
        owner: team-data             # optional: ownership scope written into the marker
        batch_size: <batch_size>     # optional, conductor: providers per bulk save
        channel_limit: 25            # optional, console: channels an agent may hold (plan warns past it)
        fingerprint_key: ${env:RECONCILER_FP_KEY}   # optional: key of write-only fingerprints
    integrations:                   # Kubiya custom integrations (on kubiya servers)
      - name: postgres-main         # unique per server
        server: kubiya
        type: postgres              # integration_type, free text
        description: Main database
        config:                     # only the keys written here are managed
          env_vars: {PGHOST: db.internal, PGPORT: "5432"}   # values are strings: quote numbers
          secrets: [PG_PASSWORD]                             # names of vault secrets
          files: [{path: /etc/pg.conf, content: "…", mode: "0600"}]
          context_prompt: "…"
          connection_test: {command: pg_isready, timeout: 5, enabled: true}
        tags: [team-data]
        status: active              # optional: active (default) or inactive
        lifecycle: {prevent_destroy: true, ignore_changes: [description]}
    providers:                      # Orkes Conductor integration providers (conductor servers)
      - name: openai-marketing      # unique per server
        server: orkes
        type: openai                # see reconciler/data/conductor-types.yaml
        category: AI_MODEL          # optional; must match the type's category
        description: "…"            # default ""
        enabled: true               # default true
        configuration: {api_key: "${env:OPENAI_API_KEY}"}  # api_key, password: references only
        tags: {team: marketing}     # a mapping, or a list of {key, value}
        apis:                       # models / indexes, each unique within the provider
          - name: gpt-4o
            description: "…"
            enabled: true
            configuration: {}
            lifecycle: {…}          # models have their own lifecycle
    channels:                       # agents-console channels (console servers)
      - server: console
        agent: agt_demo
        family: mcp_server          # custom_api | mcp_server | bimpeai
        name: docs-search           # unique per server + agent + family
        server_url: https://mcp.example.com
        transport: streamable_http  # default; or http_sse
        auth_type: bearer           # none (default) | bearer | basic | api_key | custom
        auth_config: {token: "${env:DOCS_MCP_TOKEN}"}
    # custom_api fields: base_url, auth_type, auth_config, description, test_endpoint
    # bimpeai fields: type (bumpa | paystack | stripe | google_calendar | google_sheets),
    #                 token, public_key, secret_key, currency

Values. Scalars follow YAML 1.2: only `true`/`false` are booleans (`yes`, `on` stay strings),
`0600` is the number 600 (quote modes and ports where a string is wanted), dates stay strings.
Values are never coerced: a number where a string is expected is an error with a hint. Only
the standard tags are accepted; anchors, aliases and merge keys (`<<: *defaults`) work, and
top-level keys starting with `x-` are ignored, a place to keep anchors.

Secret references. `${env:NAME}` and `${file:PATH}` (relative to the file that holds it;
one trailing newline stripped) may appear in any string value and are resolved when the
files are loaded; a string holding one becomes a sensitive value as a whole
("Bearer ${env:T}" included), never shown in plans or logs. `$${env:X}` writes a literal
`${env:X}`. Credentials (`token`, `key_id`, `key_secret`, `api_key`, `fingerprint_key`) and
password-type fields (Conductor `api_key`/`password`, channel `auth_config.token`/`api_key`/
`password`, bimpeai `token`/`secret_key`) must be references. Names, servers, types, agents,
tags and URLs cannot hold references.

Templates. Files ending in `.j2` are rendered with Jinja2 before parsing, with the
variables of `--var-file FILE` (YAML mappings, in order) and `--var NAME=VALUE` (last wins).
Plain `.yaml` files are never rendered. The sandbox forbids attribute tricks and file access,
an undefined variable is an error at its line, and `${env:…}` passes through untouched (a
`${file:…}` reference, even one from a var file, is relative to the template).
Diagnostics point at the template's own line and column: a value an expression wrote is
placed at its `{{ … }}`, and a hint quotes the expression (`PGPORT: "{{ port }}"`).

Rules checked across all files: unique names per scope (both places are reported); every
resource names a declared server of the right kind; Conductor types exist, their required
configuration keys (and those of the AWS `connectionType`) are set, `category` matches;
unknown configuration keys are warnings; `lifecycle.ignore_changes` names real fields; the
tag keys `managed-by`, `reconciler-fingerprint` and `reconciler-keys` are reserved.

Limits. A file (or rendered template) is at most 10 MiB, values nest at most 64 deep, and
aliases may not expand past 100,000 values: larger documents are refused, not attempted.
"""


def _with_defaults(doc: str) -> str:
    """Fill the documented server defaults in from `ServerConfig`, so that they cannot drift."""
    defaults = ServerConfig("", ServerKind.KUBIYA, "sandbox:")
    lines = []
    for line in doc.splitlines():
        for name in ("parallelism", "rate_limit", "timeout", "prune", "batch_size"):
            if f"<{name}>" in line:
                value = getattr(defaults, name)
                text = str(value).lower() if isinstance(value, bool) else f"{value:g}"
                head, _, comment = line.partition("#")
                line = head.replace(f"<{name}>", text).rstrip().ljust(36) + "#" + comment
        lines.append(line)
    return "\n".join(lines) + "\n"


FORMAT_DOC = _with_defaults(FORMAT_DOC)
