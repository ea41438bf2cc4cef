"""The public API: paths and directories, load vs check, warnings, limits."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from reconciler.desired import FORMAT_DOC, DesiredState, check, expand_paths, load
from reconciler.desired.safeyaml import Limits
from reconciler.errors import Diagnostic, DiagnosticsError, Location, Severity
from tests.desired.conftest import WriteFile

KUBIYA = 'servers:\n  kubiya: {kind: kubiya, url: "sandbox:"}\n'


def test_a_directory_means_its_yaml_files_sorted_not_recursive(write: WriteFile, tmp_path: Path) -> None:
    write("b.yml", "integrations: [{name: b, server: kubiya, type: x}]\n")
    write("a.yaml", KUBIYA)
    write("c.yaml.j2", "integrations: [{name: c{{ n | default(1) }}, server: kubiya, type: x}]\n")
    write("notes.txt", "not: [yaml")
    write("sub/d.yaml", "not: [yaml")
    state = load([tmp_path], environ={})
    assert [Path(f).name for f in state.files] == ["a.yaml", "b.yml", "c.yaml.j2"]
    assert [r.address.name for r in state.resources] == ["b", "c1"]


def test_a_file_given_twice_is_read_once(write: WriteFile, tmp_path: Path) -> None:
    path = write("a.yaml", KUBIYA)
    files = expand_paths([tmp_path, path, str(path)], [])
    assert files == [str(path)]


def test_missing_and_empty_inputs(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    _, diagnostics = check([tmp_path / "empty", tmp_path / "nope.yaml"], environ={})
    assert [(d.code, d.location) for d in diagnostics] == [
        ("file.none", Location(str(tmp_path / "empty"))),
        ("file.not-found", Location(str(tmp_path / "nope.yaml"))),
    ]
    _, diagnostics = check([], environ={})
    assert [d.code for d in diagnostics] == ["file.none"]


def test_load_raises_every_problem_sorted_with_the_warnings(write: WriteFile) -> None:
    second = write(
        "b.yaml",
        """\
        providers:
          - {name: p, server: orkes, type: ollama, configuration: {endpoint: x, extra: y}}
          - {name: q, server: nowhere, type: ollama}
        """,
    )
    first = write("a.yaml", 'servers:\n  orkes: {kind: conductor, url: "sandbox:"}\nversion: 3\n')
    with pytest.raises(DiagnosticsError) as raised:
        load([second, first], environ={})
    found = [(Path(d.location.file).name, d.location.line, d.severity) for d in raised.value.diagnostics if d.location]
    assert found == [
        ("a.yaml", 3, Severity.ERROR),
        ("b.yaml", 2, Severity.WARNING),
        ("b.yaml", 3, Severity.ERROR),
        ("b.yaml", 3, Severity.ERROR),
    ]
    assert str(raised.value.args[0]) == "3 error(s) found"


def test_check_returns_warnings_with_a_state(write: WriteFile) -> None:
    path = write(
        "a.yaml",
        """\
        servers:
          orkes: {kind: conductor, url: "sandbox:"}
        providers:
          - {name: p, server: orkes, type: ollama, configuration: {endpoint: x, extra: y}}
        """,
    )
    state, diagnostics = check([path], environ={})
    assert isinstance(state, DesiredState)
    assert [d.code for d in diagnostics] == ["conductor.unknown-key"]
    assert state.diagnostics == tuple(diagnostics)
    assert all(isinstance(d, Diagnostic) for d in diagnostics)
    assert load([path], environ={}).diagnostics == state.diagnostics


def test_an_empty_file_declares_nothing(write: WriteFile) -> None:
    state = load([write("empty.yaml", "# nothing yet\n")], environ={})
    assert dict(state.servers) == {}
    assert state.resources == ()


def test_an_empty_file_is_valid_with_a_warning_naming_it(write: WriteFile) -> None:
    path = write("empty.yaml", "# nothing yet\n")
    state, diagnostics = check([path], environ={})
    assert state is not None
    assert [(d.severity, d.code, d.location) for d in diagnostics] == [
        (Severity.WARNING, "file.empty", Location(str(path)))
    ]


def test_a_file_with_declarations_has_no_empty_warning(write: WriteFile) -> None:
    _, diagnostics = check([write("a.yaml", KUBIYA)], environ={})
    assert "file.empty" not in [d.code for d in diagnostics]


def test_servers_mapping_is_read_only(write: WriteFile) -> None:
    state = load([write("a.yaml", KUBIYA)], environ={})
    with pytest.raises(TypeError):
        state.servers["x"] = state.servers["kubiya"]  # type: ignore[index]


def test_file_size_is_bounded(write: WriteFile) -> None:
    big = write("big.yaml", b"a: " + b"x" * (10 * 1024 * 1024) + b"\n")
    _, diagnostics = check([big], environ={})
    assert [d.code for d in diagnostics] == ["file.too-large"]
    small = write("small.yaml", KUBIYA)
    _, diagnostics = check([small], environ={}, limits=Limits(max_bytes=10))
    assert [d.code for d in diagnostics] == ["file.too-large"]


def test_a_broken_file_does_not_hide_problems_in_the_others(write: WriteFile) -> None:
    broken = write("a.yaml", "servers: [\n")
    other = write(
        "b.yaml",
        "servers: {kubiya: {kind: kubiya, url: 'sandbox:'}}\n"
        "integrations: [{name: x, server: kubiya, type: x, tags: x}]\n",
    )
    _, diagnostics = check([broken, other], environ={})
    assert [d.code for d in diagnostics] == ["yaml.syntax", "schema.type"]


def test_a_resource_on_a_broken_server_is_not_also_undeclared(write: WriteFile) -> None:
    path = write(
        "a.yaml",
        """\
        servers:
          kubiya: {kind: kubiya, url: "ftp://nope"}
        integrations:
          - {name: x, server: kubiya, type: x}
        """,
    )
    _, diagnostics = check([path], environ={})
    assert [d.code for d in diagnostics] == ["schema.pattern"]


def test_format_doc_covers_every_section() -> None:
    for word in ("servers:", "integrations:", "providers:", "channels:", "${env:", "${file:", ".j2", "lifecycle"):
        assert word in FORMAT_DOC


def test_impossible_paths_are_diagnostics_not_exceptions(write: WriteFile) -> None:
    _, diagnostics = check(["bad\x00name.yaml"], environ={})
    assert [d.code for d in diagnostics] == ["file.unreadable"]
    # A double-quoted YAML string may hold a NUL as the escape `\0`.
    line = 'integrations: [{name: i, server: kubiya, type: x, description: "${file:x\\0y}"}]\n'
    path = write("a.yaml", KUBIYA + line)
    _, diagnostics = check([path], environ={})
    assert [d.code for d in diagnostics] == ["reference.file-unreadable"]


def test_a_load_leaves_no_reference_cycle_behind() -> None:
    # The executable runs with the cyclic collector off: a cycle per resource would stay
    # until exit. Loaded once first, so one-time caches (the schema check) are built.
    quickstart = Path(__file__).resolve().parents[2] / "examples" / "quickstart.yaml"
    load([quickstart], environ={})
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    try:
        state = load([quickstart], environ={})
        assert gc.collect() == 0
    finally:
        if was:
            gc.enable()
    assert len(state.resources) > 5
