"""jsonschema's errors about a desired-state document, explained as diagnostics.

Each error becomes a Diagnostic at the `file:line:column` of the offending value, with a
message that names the resource (`integration 'pg': ...`) and a hint (`did you mean ...?`,
`quote the value`, `indent it under config:`); messages never echo a string value, since it
could be a secret written in the wrong place. Each error also marks what it makes unusable
(`Validation.bad`, `Validation.refused`), so that later checks skip it.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.desired import safeyaml
from reconciler.desired.schema import SCHEMA, SECTIONS, Validation, path_text
from reconciler.errors import Location, error

_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "empty",
}


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if value is None:
        return "empty"
    return "a string"


_YAML11_BOOLS = frozenset({"yes", "no", "on", "off", "y", "n"})
def _subject(document: Any, path: Sequence[str | int]) -> tuple[str | None, list[str | int]]:
    """Name the resource an error is in (`provider 'x'`) and the path left inside it."""
    parts = list(path)
    if len(parts) >= 2 and parts[0] == "servers" and isinstance(parts[1], str):
        return f"server {parts[1]!r}", parts[2:]
    if len(parts) >= 2 and parts[0] in SECTIONS and isinstance(parts[1], int):
        item = _at(document, parts[:2])
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str):
            return None, parts
        if parts[0] == "providers" and len(parts) >= 4 and parts[2] == "apis":
            api = _at(document, parts[:4])
            api_name = api.get("name") if isinstance(api, dict) else None
            if isinstance(api_name, str):
                return f"model {api_name!r} of provider {name!r}", parts[4:]
        return f"{SECTIONS[str(parts[0])]} {name!r}", parts[2:]
    return None, parts


def _at(document: Any, path: Sequence[str | int]) -> Any:
    node = document
    for part in path:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _field_phrase(document: Any, path: Sequence[str | int]) -> str:
    """`integration 'pg': `config.env_vars.PGPORT`` or `` `integrations[0]` ``."""
    subject, rest = _subject(document, path)
    if subject is None:
        return f"`{path_text(rest)}`" if rest else "the document"
    return f"{subject}: `{path_text(rest)}`" if rest else subject


def _close(word: str, choices: Iterable[str]) -> list[str]:
    return difflib.get_close_matches(word, list(choices), n=3, cutoff=0.6)


def _field_one_level_down(schema: Mapping[str, Any], key: str) -> str | None:
    """The property of `schema` whose own mapping has a field `key` (e.g. `config` for
    `secrets` in an integration), if exactly one has."""
    root = SCHEMA

    def resolved(sub: Any) -> Any:
        ref = sub.get("$ref") if isinstance(sub, Mapping) else None
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return root.get("$defs", {}).get(ref[len("#/$defs/") :], {})
        return sub

    found = [
        name
        for name, sub in (schema.get("properties") or {}).items()
        if isinstance(resolved(sub), Mapping) and key in (resolved(sub).get("properties") or {})
    ]
    return found[0] if len(found) == 1 else None


def _did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    options = sorted(choices)
    matches = _close(word, options)
    if matches:
        return "did you mean " + " or ".join(f"`{m}`" for m in matches) + "?"
    if options:
        return "expected one of: " + ", ".join(f"`{o}`" for o in options)
    return None


def _bad_prefix(path: Sequence[str | int], validator: str) -> tuple[str | int, ...] | None:
    if validator == "additionalProperties" and len(path) == 0:
        return None  # an unknown top-level key spoils nothing else
    if len(path) >= 2 and path[0] in SECTIONS:
        return (path[0], path[1])
    if len(path) >= 2 and path[0] == "servers":
        return ("servers", path[1])
    return tuple(path[:1])


def explain(err: Any, document: Any, file: str, out: Validation) -> None:
    """Turn one jsonschema error into diagnostics, and mark what it makes unusable."""
    path = list(err.absolute_path)
    validator = str(err.validator)
    schema = err.schema if isinstance(err.schema, dict) else {}
    in_names = "propertyNames" in err.absolute_schema_path
    _mark_bad(err, document, path, validator, schema, in_names, out)
    found = _Found(err, document, file, out, path, schema, safeyaml.locate(file, document, path))
    if in_names:
        _bad_name(found)
    else:
        _EXPLAIN.get(validator, _invalid)(found)


def _mark_bad(
    err: Any,
    document: Any,
    path: list[str | int],
    validator: str,
    schema: dict[str, Any],
    in_names: bool,
    out: Validation,
) -> None:
    """Record the value the error spoils (`out.bad`) and, inside a resource entry, the paths
    the schema refused (`out.refused`)."""
    prefix = _bad_prefix(path, validator)
    if in_names and path and path[0] == "servers":
        prefix = ("servers", str(err.instance))
    if prefix is None:
        return
    out.bad.add(prefix)
    if len(prefix) != 2 or prefix[0] not in SECTIONS:
        return
    refused = out.refused.setdefault(prefix, [])
    if validator == "additionalProperties":
        container = _at(document, path)
        known = set(schema.get("properties", {}))
        patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
        refused.extend(
            (*path[2:], key) for key in container if key not in known and not any(p.search(key) for p in patterns)
        )
    elif validator != "required":
        refused.append(tuple(path[2:]))


@dataclass(frozen=True)
class _Found:
    """One jsonschema error being explained: the error, the document, and where it points."""

    err: Any
    document: Any
    file: str
    out: Validation
    path: list[str | int]
    schema: dict[str, Any]
    where: Location

    @property
    def phrase(self) -> str:
        return _field_phrase(self.document, self.path)

    def add(self, code: str, message: str, loc: Location | None = None, hint: str | None = None) -> None:
        location = self.where if loc is None else loc
        self.out.diagnostics.append(error(code, message, location=location, hint=hint or self.schema.get("x-hint")))


def _bad_name(found: _Found) -> None:
    container = _at(found.document, found.path)
    key = str(found.err.instance)
    subject, rest = _subject(found.document, found.path)
    text = f"the key `{key}` in `{path_text(rest)}`" if rest else f"the key `{key}`"
    if subject:
        text = f"{subject}: {text}"
    message = found.schema.get("x-message") or "is not an allowed name"
    found.add("schema.bad-name", f"{text} {message}", safeyaml.key_location(found.file, container, key))


def _unknown_fields(found: _Found) -> None:
    path, schema = found.path, found.schema
    container = _at(found.document, path)
    allowed = set(schema.get("properties", {}))
    patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
    for key in container if isinstance(container, dict) else ():
        if key in allowed or any(p.search(key) for p in patterns):
            continue
        owner = f"in {found.phrase}" if path else "at the top level"
        hint = _did_you_mean(key, allowed)
        elsewhere = _other_family(schema, key)
        if elsewhere:
            hint = f"`{key}` is a field of {elsewhere} channels"
        below = _field_one_level_down(schema, key)
        if below:
            # Written one level too far out: the field exists inside a sibling mapping.
            hint = f"`{key}` belongs under `{below}:`; indent it under `{below}:`"
        found.add(
            "schema.unknown-field",
            f"unknown field `{key}` {owner}",
            safeyaml.key_location(found.file, container, key),
            hint,
        )


def _required(found: _Found) -> None:
    instance = found.err.instance if isinstance(found.err.instance, dict) else {}
    for key in [k for k in found.err.validator_value if k not in instance]:
        found.add("schema.required", f"{found.phrase} is missing the required field `{key}`")


def _wrong_type(found: _Found) -> None:
    err, path = found.err, found.path
    value = err.validator_value
    expected: list[str] = [str(t) for t in (value if isinstance(value, list) else [value])]
    wanted = " or ".join(_TYPE_NAMES.get(t, t) for t in expected if t != "null") or "empty"
    hint = found.schema.get("x-hint")
    if hint is None and "string" in expected and not isinstance(err.instance, (str, dict, list)):
        hint = _quote_hint(found.document, path)
    if "boolean" in expected and isinstance(err.instance, str) and err.instance.lower() in _YAML11_BOOLS:
        hint = "write true or false: in YAML 1.2, yes/no/on/off are strings"
    if hint is None and "array" in expected and isinstance(err.instance, dict) and len(path) == 1:
        hint = f"`{path[0]}` is a list: start each item with `- ` (e.g. `  - name: ...`)"
    found.add("schema.type", f"{found.phrase} must be {wanted}, not {_describe(err.instance)}", hint=hint)


def _quote_hint(document: Any, path: Sequence[str | int]) -> str:
    """Quote the value, showing how when its source text is known (`mode: "0600"`)."""
    raw = _raw_of(document, path)
    hint = "quote the value so that it stays a string"
    if raw is not None and path:
        last = path[-1]
        shown = f'{last}: "{raw}"' if isinstance(last, str) else f'- "{raw}"'
        hint = f"{hint}: {shown}"
    return hint


def _not_in_enum(found: _Found) -> None:
    options = [str(o) for o in found.err.validator_value]
    instance = found.err.instance
    hint = _did_you_mean(instance, options) if isinstance(instance, str) else None
    found.add(
        "schema.enum",
        f"{found.phrase} must be one of: {', '.join(options)}",
        hint=hint if hint and hint.startswith("did") else None,
    )


def _not_const(found: _Found) -> None:
    found.add("schema.const", f"{found.phrase} must be {json.dumps(found.err.validator_value)}")


def _no_match(found: _Found) -> None:
    message = found.schema.get("x-message") or f"must match the pattern {found.err.validator_value}"
    found.add("schema.pattern", f"{found.phrase} {message}")


def _length(found: _Found) -> None:
    limit = int(found.err.validator_value)
    if found.err.validator == "minLength" and limit == 1:
        found.add("schema.length", f"{found.phrase} must not be empty")
    else:
        word = "at least" if found.err.validator == "minLength" else "at most"
        found.add("schema.length", f"{found.phrase} must be {word} {limit} characters long")


_RANGE_WORDS = {
    "minimum": "at least",
    "maximum": "at most",
    "exclusiveMinimum": "greater than",
    "exclusiveMaximum": "less than",
}


def _out_of_range(found: _Found) -> None:
    words = _RANGE_WORDS[str(found.err.validator)]
    found.add("schema.range", f"{found.phrase} must be {words} {found.err.validator_value}")


def _repeated(found: _Found) -> None:
    items = found.err.instance if isinstance(found.err.instance, list) else []
    seen: set[Any] = set()
    index = 0
    for index, item in enumerate(items):  # noqa: B007 - the index of the first repeat is wanted
        frozen = _freeze(item)
        if frozen in seen:
            break
        seen.add(frozen)
    loc = safeyaml.locate(found.file, found.document, [*found.path, index])
    found.add("schema.unique", f"{found.phrase} lists the same value twice", loc, "remove the repeated item")


def _invalid(found: _Found) -> None:
    found.add("schema.invalid", f"{found.phrase} is not valid here ({found.err.validator})")


_EXPLAIN: dict[str, Callable[[_Found], None]] = {
    "additionalProperties": _unknown_fields,
    "required": _required,
    "type": _wrong_type,
    "enum": _not_in_enum,
    "const": _not_const,
    "pattern": _no_match,
    "minLength": _length,
    "maxLength": _length,
    **{name: _out_of_range for name in _RANGE_WORDS},
    "uniqueItems": _repeated,
}


def _freeze(v: Any) -> Any:
    """A hashable stand-in with JSON equality (1 == 1.0, but True is not 1), to find the first
    repeated item of a list as jsonschema's `uniqueItems` sees it."""
    if isinstance(v, dict):
        return ("o", frozenset((k, _freeze(x)) for k, x in v.items()))
    if isinstance(v, list):
        return ("a", tuple(_freeze(x) for x in v))
    if type(v) is bool:
        return ("b", v)
    if type(v) is int or type(v) is float:
        return ("n", v)
    return ("s" if type(v) is str else "z", v)


def _raw_of(document: Any, path: Sequence[str | int]) -> str | None:
    if not path:
        return None
    return safeyaml.raw_text(_at(document, path[:-1]), path[-1])


_FAMILY_DEFS = {"customApiChannel": "custom_api", "mcpServerChannel": "mcp_server", "bimpeaiChannel": "bimpeai"}


def _other_family(schema: dict[str, Any], key: str) -> str | None:
    """For an unknown channel field: the families that do have it, e.g. `custom_api`."""
    defs = SCHEMA["$defs"]
    if not any(defs[name] == schema for name in _FAMILY_DEFS):
        return None
    owners = [
        family
        for name, family in _FAMILY_DEFS.items()
        if defs[name] != schema and key in defs[name].get("properties", {})
    ]
    return " and ".join(owners) or None
