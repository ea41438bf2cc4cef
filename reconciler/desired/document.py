"""One desired-state file on its way in: read, rendered, parsed, checked against the schema,
and cut into the declarations (servers, resources) that the cross-file rules and the builder
work on.

A declaration carries the parsed mapping it came from, so that every later problem can be
placed at a `file:line:column`. Only declarations that passed the schema are handed on: the
rules and the builder can rely on the shapes the schema promises.
"""

from __future__ import annotations

import codecs
import dataclasses
import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.desired import safeyaml, schema, sourcemap, template
from reconciler.errors import Diagnostic, DiagnosticsError, Location, error
from reconciler.model import Address, ResourceKind

# The fields that say which resource an entry is: without them sound, nothing can be checked.
IDENTITY = {
    "integrations": ("name", "server"),
    "providers": ("name", "server"),
    "channels": ("server", "agent", "family", "name"),
}
YAML_SUFFIXES = (".yaml", ".yml", ".yaml.j2", ".yml.j2")
SECTION_KIND = {
    "integrations": ResourceKind.INTEGRATION,
    "providers": ResourceKind.PROVIDER,
    "channels": ResourceKind.CHANNEL,
}


@dataclass
class Document:
    """A parsed file. `value` is its top-level mapping (empty for an empty file); `validation`
    says which parts passed the schema; `base_dir` anchors `${file:…}` references."""

    file: str
    base_dir: Path
    value: Any
    validation: schema.Validation = field(default_factory=schema.Validation)


@dataclass(frozen=True)
class ServerDecl:
    name: str
    node: safeyaml.YMap
    document: Document

    @property
    def location(self) -> Location:
        return safeyaml.key_location(self.document.file, self.document.value["servers"], self.name)


@dataclass(frozen=True)
class ResourceDecl:
    """One entry of `integrations`, `providers` or `channels` that passed the schema."""

    section: str
    index: int
    node: safeyaml.YMap
    document: Document
    # False for an entry the schema refused parts of: `node` holds the rest, on which the
    # cross-file rules still run (so that every problem shows at once), but nothing is built.
    complete: bool = True

    @property
    def location(self) -> Location:
        return safeyaml.container_location(self.document.file, self.node)

    @functools.cached_property
    def address(self) -> Address:
        node = self.node
        kind = SECTION_KIND[self.section]
        if kind is ResourceKind.CHANNEL:
            return Address(kind, node["server"], (node["agent"], node["family"]), node["name"])
        return Address(kind, node["server"], (), node["name"])

    @property
    def file(self) -> str:
        return self.document.file

    def at(self, *path: str | int) -> Location:
        """Where the value at `path` inside this declaration is written."""
        return safeyaml.locate(self.document.file, self.node, path)

    def key_at(self, key: str) -> Location:
        return safeyaml.key_location(self.document.file, self.node, key)


@dataclass
class Declarations:
    """`servers` and `resources` passed the schema; `server_names` holds every server name
    written, valid or not, so that a resource on a broken server is not also reported as
    naming an undeclared one."""

    servers: list[ServerDecl] = field(default_factory=list)
    resources: list[ResourceDecl] = field(default_factory=list)
    server_names: set[str] = field(default_factory=set)


def read_document(
    path: Path,
    label: str,
    *,
    variables: Mapping[str, Any],
    limits: safeyaml.Limits,
    diagnostics: list[Diagnostic],
) -> Document | None:
    """Read, render (for `*.j2`), parse and validate one file. None when it cannot be used;
    every problem found is appended to `diagnostics`."""
    data = read_bytes(path, label, limits, diagnostics)
    if data is None:
        return None
    source_map: sourcemap.SourceMap | None = None
    source: str | bytes
    try:
        text = safeyaml.decode(data, label)
        if template.is_template(path.name):
            rendered = template.render_mapped(text, file=label, variables=variables, max_bytes=limits.max_bytes)
            source, source_map = rendered.text, rendered.source_map
        else:
            # A plain file is parsed from its bytes, now known to be UTF-8: the parser reads
            # them in place, where a text would be copied once more (10 MB for a 10 MB file).
            source = data[len(codecs.BOM_UTF8) :] if data.startswith(codecs.BOM_UTF8) else data
        del data, text
    except DiagnosticsError as exc:
        diagnostics.extend(exc.diagnostics)
        return None
    parsed = safeyaml.parse(source, label, limits)
    del source
    if source_map is None:
        diagnostics.extend(parsed.diagnostics)
    else:
        # Every position from here on names the template's own line and column.
        if parsed.ok:
            safeyaml.relocate(parsed.value, source_map)
        diagnostics.extend(_relocated(d, label, source_map) for d in parsed.diagnostics)
    if not parsed.ok:
        return None
    value = parsed.value
    if value is None:
        value = safeyaml.new_map()
    document = Document(label, path.parent, value)
    document.validation = schema.validate(value, label)
    diagnostics.extend(document.validation.diagnostics)
    return document


def _relocated(diagnostic: Diagnostic, file: str, source_map: sourcemap.SourceMap) -> Diagnostic:
    """`diagnostic` placed at the template line and column that rendered where it points."""
    where = diagnostic.location
    if where is None or where.file != file or not where.line:
        return diagnostic
    line, column = source_map.position(where.line - 1, max(where.column - 1, 0))
    return dataclasses.replace(diagnostic, location=Location(file, line + 1, column + 1 if where.column else 0))


def read_bytes(path: Path, label: str, limits: safeyaml.Limits, diagnostics: list[Diagnostic]) -> bytes | None:
    """The file's bytes, refusing files over the size limit without reading them whole."""
    try:
        with path.open("rb") as handle:
            data = handle.read(limits.max_bytes + 1)
    except FileNotFoundError:
        diagnostics.append(error("file.not-found", "the file does not exist", location=Location(label)))
        return None
    except IsADirectoryError:
        diagnostics.append(error("file.unreadable", "this is a directory", location=Location(label)))
        return None
    except (OSError, ValueError) as exc:
        # ValueError: a path no file can have (an embedded NUL byte).
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        diagnostics.append(error("file.unreadable", f"the file cannot be read ({reason})", location=Location(label)))
        return None
    if len(data) > limits.max_bytes:
        diagnostics.append(
            error(
                "file.too-large",
                f"the file is larger than {limits.max_bytes // (1024 * 1024)} MiB",
                location=Location(label),
                hint="split the desired state into several files in one directory",
            )
        )
        return None
    return data


def declarations(documents: list[Document]) -> Declarations:
    """The usable servers and resources of all documents, in file order."""
    out = Declarations()
    for document in documents:
        value = document.value
        if not isinstance(value, dict) or not document.validation.usable():
            continue
        servers = value.get("servers")
        if isinstance(servers, dict):
            out.server_names.update(servers)
        if isinstance(servers, dict) and document.validation.usable("servers"):
            for name, node in servers.items():
                if document.validation.usable("servers", name):
                    out.servers.append(ServerDecl(name, node, document))
        for section in schema.SECTIONS:
            items = value.get(section)
            if isinstance(items, list) and document.validation.usable(section):
                out.resources.extend(_section(document, section, items))
    return out


def _section(document: Document, section: str, items: list[Any]) -> Iterator[ResourceDecl]:
    """The usable entries of one resource list; an entry the schema refused in part is kept,
    without the refused values and marked incomplete, while its identity is intact."""
    for index, node in enumerate(items):
        if document.validation.usable(section, index):
            yield ResourceDecl(section, index, node, document)
            continue
        refused = document.validation.refused_in(section, index)
        if refused is None or not isinstance(node, dict):
            continue
        rest = safeyaml.pruned(node, refused)
        if all(isinstance(rest.get(key), str) for key in IDENTITY[section]):
            yield ResourceDecl(section, index, rest, document, complete=False)
