"""Property tests: whatever the input, `check()` answers with diagnostics and never raises;
and the fast schema check gives jsonschema's answer."""

from __future__ import annotations

import copy
import string
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.desired import check, safeyaml, schema
from reconciler.errors import Diagnostic, Severity

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = (ROOT / "examples" / "quickstart.yaml").read_text()

# How many examples each property gets comes from the profile chosen in tests/conftest.py.
FAST = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("props")


def _check_text(workdir: Path, data: str | bytes, name: str = "doc.yaml") -> list[Diagnostic]:
    path = workdir / name
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8", errors="surrogatepass")
    state, diagnostics = check([path], environ={"SET": "value"})
    assert all(isinstance(d, Diagnostic) for d in diagnostics)
    has_error = any(d.severity is Severity.ERROR for d in diagnostics)
    assert (state is None) == has_error
    for d in diagnostics:
        str(d)  # rendering never fails either
        if d.location is not None and d.location.line:
            assert d.location.line >= 1
    return diagnostics


YAML_ALPHABET = string.ascii_letters + string.digits + " :-[]{},'\"!&*#|>\n\t%@`?$.~<=_/\\"


@FAST
@given(st.text(alphabet=YAML_ALPHABET, max_size=300))
def test_random_yaml_like_text(workdir: Path, text: str) -> None:
    _check_text(workdir, text)


@FAST
@given(st.text(max_size=200))
def test_random_unicode_text(workdir: Path, text: str) -> None:
    _check_text(workdir, text)


@FAST
@given(st.binary(max_size=200))
def test_random_bytes(workdir: Path, data: bytes) -> None:
    _check_text(workdir, data)


@FAST
@given(st.text(alphabet=YAML_ALPHABET + "{}%#", max_size=200))
def test_random_templates(workdir: Path, text: str) -> None:
    _check_text(workdir, text, "doc.yaml.j2")


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(
        [
            "kubiya",
            "conductor",
            "console",
            "sandbox:",
            "${env:SET}",
            "${env:UNSET}",
            "${file:nope}",
            "mcp_server",
            "custom_api",
            "bimpeai",
            "openai",
            "ollama",
        ]
    ),
)
KEYS = st.sampled_from(
    [
        "servers",
        "integrations",
        "providers",
        "channels",
        "version",
        "name",
        "server",
        "type",
        "kind",
        "url",
        "token",
        "config",
        "env_vars",
        "configuration",
        "apis",
        "tags",
        "family",
        "agent",
        "lifecycle",
        "ignore_changes",
        "files",
        "path",
        "mode",
        "x-any",
    ]
) | st.text(min_size=1, max_size=8)
structures = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=5),
    max_leaves=30,
)


@FAST
@given(st.dictionaries(KEYS, structures, max_size=5))
def test_random_structures_dumped_to_yaml(workdir: Path, document: dict[str, Any]) -> None:
    _check_text(workdir, yaml.safe_dump(document, allow_unicode=True))


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out.extend(_paths(value, (*prefix, index)))
    return out


BASE = yaml.safe_load(QUICKSTART)
BASE_PATHS = [p for p in _paths(BASE) if p]


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    document: dict[str, Any] = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(BASE_PATHS))
        parent: Any = document
        try:
            for part in path[:-1]:
                parent = parent[part]
            last = path[-1]
            parent[last]
        except (KeyError, IndexError, TypeError):
            continue
        action = draw(st.sampled_from(["delete", "replace", "duplicate", "rename"]))
        if action == "delete":
            del parent[last]
        elif action == "replace":
            parent[last] = draw(structures)
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[last]))
        elif action == "rename" and isinstance(parent, dict):
            parent[draw(KEYS)] = parent.pop(last)
    return document


@FAST
@given(mutated())
def test_mutations_of_a_valid_document(workdir: Path, document: dict[str, Any]) -> None:
    _check_text(workdir, yaml.safe_dump(document, allow_unicode=True, sort_keys=False))


def _has_final_newline(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_final_newline(k) or _has_final_newline(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_final_newline(v) for v in value)
    return isinstance(value, str) and value.endswith("\n")


def _assert_same_answer(document: Any) -> None:
    """The fast check gives jsonschema's answer; the one known difference is on the safe side:
    a pattern's `$` does not match before a final newline (ECMA-262), so fastjsonschema may
    refuse such a string where jsonschema (which then decides) accepts it."""
    fast, thorough = schema.fast_is_valid(document), schema.jsonschema_is_valid(document)
    if fast != thorough:
        assert thorough
        assert not fast
        assert _has_final_newline(document)


@settings(deadline=None, database=None)
@given(mutated())
def test_fast_checker_agrees_with_jsonschema(document: dict[str, Any]) -> None:
    # Through our own loader, so that the values have exactly the types validation sees.
    parsed = safeyaml.parse(yaml.safe_dump(document, allow_unicode=True), "doc.yaml")
    if not parsed.ok:
        return
    _assert_same_answer(parsed.value)


@settings(deadline=None, database=None)
@given(st.dictionaries(KEYS, structures, max_size=5))
def test_fast_checker_agrees_on_random_structures(document: dict[str, Any]) -> None:
    _assert_same_answer(document)


def test_the_base_document_is_valid() -> None:
    assert schema.fast_is_valid(BASE) is True
    assert schema.jsonschema_is_valid(BASE)
