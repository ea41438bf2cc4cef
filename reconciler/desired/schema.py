"""JSON Schema validation of a parsed desired-state document: the only module that imports
`jsonschema` and `fastjsonschema`.

The schema (`schemas/desired-state.schema.json`, draft 2020-12) is read once, at import; the
validators are built on first need. jsonschema is thorough but slow (about 170 µs per
resource), so a document is first checked by fastjsonschema (about 11 µs per resource). It
answers only "valid or not": when it says valid, the document is; otherwise jsonschema runs,
decides, and its errors become diagnostics in `reconciler.desired.explain`, so every message
comes from one place. A property test holds the fast check to jsonschema's answer.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import json
import marshal
import os
import re
import sys
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.errors import Diagnostic

SCHEMA_RESOURCE = "schemas/desired-state.schema.json"
SECTIONS = {"integrations": "integration", "providers": "provider", "channels": "channel"}


_SCHEMA_TEXT = importlib.resources.files("reconciler").joinpath(SCHEMA_RESOURCE).read_text("utf-8")
SCHEMA: dict[str, Any] = json.loads(_SCHEMA_TEXT)


@functools.cache
def _validator() -> Any:
    """jsonschema's validator, built on first need: a valid document never needs it (the
    compiled fast check answers first), and importing jsonschema costs a tenth of a second.
    That the schema itself is valid 2020-12 is checked by the test suite."""
    from jsonschema import Draft202012Validator  # type: ignore[import-untyped, unused-ignore]

    return Draft202012Validator(SCHEMA)


# --- the fast check -----------------------------------------------------------------------


CACHE_ENV = "RECONCILER_CACHE_DIR"


def cache_dir() -> Path:
    """Where the compiled fast check is kept between runs: `$RECONCILER_CACHE_DIR`, else the
    user's cache directory (`$XDG_CACHE_HOME/reconciler`, `~/.cache/reconciler`)."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "reconciler"


@functools.cache
def _fast_check() -> Callable[[Any], Any]:
    """fastjsonschema's validator of the same schema.

    Generating and compiling its code costs about 100 ms, a third of a small plan's cold
    start, so the compiled code is kept in the cache directory (as Python keeps `.pyc` files),
    keyed by the schema, the fastjsonschema release and the Python version. A cache that
    cannot be read or written only costs that time again."""
    import fastjsonschema

    key = f"{fastjsonschema.VERSION}\0{sys.version}\0{_REWRITE}\0{_SCHEMA_TEXT}"
    path = cache_dir() / f"schema-check-{hashlib.sha256(key.encode()).hexdigest()[:24]}.marshal"
    entry, code = _cached_code(path)
    if code is None:
        # `use_default=False`: fastjsonschema would otherwise write the schema's defaults into
        # the document it checks.
        source = _hoist_local_functions(fastjsonschema.compile_to_code(SCHEMA, use_default=False))
        # The root schema's function comes first in the generated code.
        found = re.search(r"^def (\w+)\(", source, re.M)
        assert found is not None, "fastjsonschema generated no function"
        entry, code = found.group(1), compile(source, "<desired-state schema check>", "exec")
        _store(path, marshal.dumps((entry, code)))
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # code generated from our own schema (or our cache of it)
    check: Callable[[Any], Any] = namespace[entry]
    return check


# Bumped whenever `_hoist_local_functions` changes what it makes (part of the cache key).
_REWRITE = 2
# A nested `def` with its body on the same line (`def fn(var): return ...`).
_LOCAL_FUNCTION = re.compile(r"^[ \t]+(def (\w+)\([^\n]*\):[ \t]*\S[^\n]*)$", re.M)


def _hoist_local_functions(source: str) -> str:
    """The generated code with its nested one-line helpers moved to the module.

    For `uniqueItems` fastjsonschema defines, inside the check, a recursive one-line `fn`
    that makes items hashable. Defined there it is a new closure on every call, referring to
    itself through a cell: a reference cycle per checked resource, which only the cyclic
    garbage collector frees (off in the CLI, so 50,000 resources left 50,000 cycles to
    collect). Every such definition is the same text; one at the module level, found there
    by the same name, behaves the same without the cycle. A name defined twice differently
    is left where it is."""
    found: dict[str, set[str]] = {}
    for match in _LOCAL_FUNCTION.finditer(source):
        found.setdefault(match.group(2), set()).add(match.group(1))
    hoisted = {name: texts.pop() for name, texts in found.items() if len(texts) == 1}
    if not hoisted:
        return source

    def drop(match: re.Match[str]) -> str:
        # `pass` keeps the block it stood in non-empty.
        return match.group(0).replace(match.group(1), "pass") if match.group(2) in hoisted else match.group(0)

    return _LOCAL_FUNCTION.sub(drop, source) + "\n\n" + "\n\n".join(hoisted.values()) + "\n"


def _cached_code(path: Path) -> tuple[str, Any]:
    try:
        entry, code = marshal.loads(path.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return "", None
    if not isinstance(entry, str) or not isinstance(code, types.CodeType):
        return "", None
    return entry, code


def _store(path: Path, data: bytes) -> None:
    """Write the cache file whole (a reader never sees half of it), or not at all."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    except OSError:
        return


def fast_is_valid(document: Any) -> bool:
    """fastjsonschema's answer. It may refuse what jsonschema accepts (its `$` in a pattern
    does not match before a final newline, as in ECMA-262), never the other way round: a
    refusal only means that jsonschema runs and decides."""
    import fastjsonschema

    try:
        _fast_check()(document)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def jsonschema_is_valid(document: Any) -> bool:
    """jsonschema's own answer, for tests that hold the fast check to it."""
    return bool(_validator().is_valid(document))


# --- validation -------------------------------------------------------------------------


@dataclass
class Validation:
    """Schema problems of one document. `bad` holds path prefixes (`()`, `("providers",)`,
    `("providers", 3)`, `("servers", "k")`) whose values must not be used further."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    bad: set[tuple[str | int, ...]] = field(default_factory=set)
    # For a bad resource entry (`("channels", 0)`): the paths inside it that the schema
    # refused (a wrongly typed value, an unknown key); `()` when the entry as a whole was.
    refused: dict[tuple[str | int, ...], list[tuple[str | int, ...]]] = field(default_factory=dict)

    def usable(self, *prefix: str | int) -> bool:
        """Whether the value at `prefix` (and everything above it) passed validation."""
        return not any(prefix[:n] in self.bad for n in range(len(prefix) + 1))

    def refused_in(self, section: str, index: int) -> list[tuple[str | int, ...]] | None:
        """The refused paths inside bad entry `section[index]`, when only parts of it were refused
        and the rest of the document is sound (its other rules can still be checked); else None."""
        if (section, index) not in self.bad or not self.usable(section):
            return None
        paths = self.refused.get((section, index), [()])
        return None if () in paths else paths


def validate(document: Any, file: str) -> Validation:
    """Check one parsed document against the schema."""
    result = Validation()
    if fast_is_valid(document):
        return result
    # Imported here: only a refused document needs it (and it needs this module's names).
    from reconciler.desired.explain import explain

    for err in _validator().iter_errors(document):
        explain(err, document, file, result)
    return result


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+\Z")


def path_text(path: Iterable[str | int]) -> str:
    """`integrations[0].config.env_vars.PGPORT`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            text += f".{part}" if text else part
        else:
            text += f"[{json.dumps(part)}]"
    return text
