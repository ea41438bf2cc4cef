"""Secret references: resolution, errors at the reference, and values that never show."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.desired import check, load
from reconciler.desired.secrets import Resolver, has_reference, suggested_env_name
from reconciler.errors import Location
from reconciler.model import Sensitive
from tests.desired.conftest import WriteFile

SECRET = "s3cr3t-Value-9f8e7d"


def _resolve(text: str, environ: dict[str, str], base: Path = Path(".")) -> object:
    value, problems = Resolver(environ).resolve(text, base)
    assert problems == []
    return value


def test_env_reference_becomes_sensitive() -> None:
    value = _resolve("${env:TOKEN}", {"TOKEN": SECRET})
    assert isinstance(value, Sensitive)
    assert value.reveal() == SECRET
    assert value.source == "env:TOKEN"


def test_reference_inside_a_string_makes_the_whole_string_sensitive() -> None:
    value = _resolve("Bearer ${env:TOKEN} (${env:USER})", {"TOKEN": SECRET, "USER": "me"})
    assert isinstance(value, Sensitive)
    assert value.reveal() == f"Bearer {SECRET} (me)"
    assert value.source == "env:TOKEN,env:USER"


def test_strings_without_references_stay_strings() -> None:
    assert _resolve("plain ${HOME} and ${name:-default} $5", {}) == "plain ${HOME} and ${name:-default} $5"
    assert _resolve("$${env:NOT_RESOLVED}", {}) == "${env:NOT_RESOLVED}"
    assert not has_reference("$${env:X}")
    assert has_reference("a ${file:x} b")
    assert not has_reference("${HOME}")


def test_file_reference_is_relative_to_the_file_and_strips_one_newline(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "key.txt").write_text(SECRET + "\n\n")
    (tmp_path / "crlf.txt").write_bytes(b"abc\r\n")
    value = _resolve("${file:sub/key.txt}", {}, tmp_path)
    assert isinstance(value, Sensitive)
    assert value.reveal() == SECRET + "\n"
    crlf = _resolve("${file:crlf.txt}", {}, tmp_path)
    assert isinstance(crlf, Sensitive)
    assert crlf.reveal() == "abc"
    absolute = _resolve(f"${{file:{tmp_path / 'crlf.txt'}}}", {}, Path("/nonexistent"))
    assert isinstance(absolute, Sensitive)
    assert absolute.reveal() == "abc"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("${env:MISSING}", "reference.env-missing"),
        ("${env:1BAD}", "reference.bad-name"),
        ("${file:nope.txt}", "reference.file-missing"),
        ("${file:.}", "reference.file-unreadable"),
        ("${file:}", "reference.bad-path"),
        ("${vault:x}", "reference.unknown-scheme"),
        ("x ${env:UNCLOSED", "reference.unterminated"),
    ],
)
def test_problems(text: str, code: str, tmp_path: Path) -> None:
    _, problems = Resolver({}).resolve(text, tmp_path)
    assert [p.code for p in problems] == [code]


def test_binary_secret_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "bin").write_bytes(b"\xff\xfe")
    _, problems = Resolver({}).resolve("${file:bin}", tmp_path)
    assert [p.code for p in problems] == ["reference.file-encoding"]


def test_errors_point_at_the_reference(write: WriteFile) -> None:
    path = write(
        "state.yaml",
        """\
        servers:
          kubiya: {kind: kubiya, url: "https://k.example.com", token: "${env:KUBIYA_TOKEN}"}
        integrations:
          - name: x
            server: kubiya
            type: http
            config:
              env_vars:
                A: ${env:MISSING_ONE}
              secrets: [ok, "${file:missing.txt}"]
        """,
    )
    _, diagnostics = check([path], environ={})
    assert [(d.code, d.location) for d in diagnostics] == [
        ("reference.env-missing", Location(str(path), 2, 63)),
        ("reference.env-missing", Location(str(path), 9, 12)),
        ("reference.file-missing", Location(str(path), 10, 21)),
    ]
    assert diagnostics[1].address == "integration.kubiya.x"


def test_sensitive_values_never_show(write: WriteFile) -> None:
    path = write(
        "state.yaml",
        """\
        servers:
          kubiya: {kind: kubiya, url: "https://k.example.com", token: "${env:TOKEN}"}
          orkes: {kind: conductor, url: "sandbox:", key_id: "${env:TOKEN}", key_secret: "${file:s.txt}"}
        providers:
          - name: p
            server: orkes
            type: openai
            configuration: {api_key: "${env:TOKEN}", endpoint: "https://x", organizationId: "${env:TOKEN}"}
        integrations:
          - {name: i, server: kubiya, type: x, config: {env_vars: {A: "pre ${env:TOKEN} post"}}}
        """,
    )
    write("s.txt", SECRET)
    state = load([path], environ={"TOKEN": SECRET})
    assert SECRET not in repr(state)
    assert SECRET not in str(state)
    for resource in state.resources:
        assert SECRET not in repr(resource)
        assert SECRET not in str(resource.body)
    assert state.servers["kubiya"].credentials["token"].reveal() == SECRET
    # A run with problems: the values are still nowhere in the output.
    write("bad.yaml", "integrations: [{name: j, server: nowhere, type: x, description: '${env:TOKEN}'}]\n")
    _, diagnostics = check([path, path.parent / "bad.yaml"], environ={"TOKEN": SECRET})
    assert diagnostics
    assert all(SECRET not in str(d) and SECRET not in repr(d) for d in diagnostics)


def test_literal_secret_is_not_echoed(write: WriteFile) -> None:
    path = write(
        "state.yaml",
        f"""\
        servers:
          kubiya: {{kind: kubiya, url: "https://k.example.com", token: "{SECRET}"}}
        """,
    )
    _, diagnostics = check([path], environ={})
    assert [d.code for d in diagnostics] == ["server.literal-credential"]
    assert SECRET not in str(diagnostics[0])
    assert "${env:KUBIYA_TOKEN}" in (diagnostics[0].hint or "")


def test_suggested_env_name() -> None:
    assert suggested_env_name("openai-marketing", "api_key") == "OPENAI_MARKETING_API_KEY"
    assert suggested_env_name("9lives", "token") == "_9LIVES_TOKEN"


def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    # Opening a FIFO for reading blocks until a writer comes: none ever does here, so a read
    # that tried would hang the test instead of failing it.
    _, problems = Resolver({}).resolve("${file:pipe}", tmp_path)
    assert [(p.code, p.message) for p in problems] == [
        (
            "reference.file-unreadable",
            "the secret file 'pipe' is not a regular file (it is a named pipe); only regular files are read",
        )
    ]


def test_a_device_is_refused(tmp_path: Path) -> None:
    _, problems = Resolver({}).resolve("${file:/dev/zero}", tmp_path)
    assert [p.message for p in problems] == [
        "the secret file '/dev/zero' is not a regular file (it is a device); only regular files are read"
    ]
