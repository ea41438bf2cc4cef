"""`reconciler validate`: offline checks, every problem at once with file:line:column."""

from __future__ import annotations

import json
import re

import pytest

from tests.cli.conftest import REPO, World

QUICKSTART = REPO / "examples" / "quickstart.yaml"

INVALID = """
integrations:
  - name: pg
    server: kubiya
    type: postgres
    config:
      env_vars: {PGPORT: 5432}
  - name: other
    server: nowhere
    type: redis
    config: {}
"""


def test_quickstart_is_valid(world: World) -> None:
    result = world.run("validate", QUICKSTART)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"Valid: 1 file, 10 resources, 3 server(s) checked ({QUICKSTART})"
    assert result.stderr == ""


def test_quickstart_as_json_has_no_diagnostics(world: World) -> None:
    result = world.run("validate", QUICKSTART, "--format", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["format"] == "reconciler-diagnostics"
    assert doc["diagnostics"] == []
    assert doc["summary"] == {"errors": 0, "warnings": 0}


def test_invalid_file_reports_every_error_with_its_position(world: World) -> None:
    path = world.desired(INVALID)
    lines = path.read_text().splitlines()
    port_line = next(i for i, line in enumerate(lines, 1) if "PGPORT" in line)
    server_line = next(i for i, line in enumerate(lines, 1) if "nowhere" in line)
    result = world.run("validate", path)
    assert result.exit_code == 1
    assert result.stdout == ""
    positions = re.findall(
        rf"^Error: {re.escape(str(path))}:(\d+):(\d+): (.*)$", result.stderr, re.M
    )
    assert [int(line) for line, _, _ in positions] == [port_line, server_line]
    col = int(positions[0][1])
    assert lines[port_line - 1][col - 1 :].startswith("5432")
    assert "PGPORT" in positions[0][2]
    assert "string" in positions[0][2]
    assert "nowhere" in positions[1][2]
    assert 'hint: quote the value so that it stays a string: PGPORT: "5432"' in result.stderr
    assert "2 error(s), 0 warning(s)" in result.stderr


def test_invalid_file_as_json_lists_the_diagnostics(world: World) -> None:
    path = world.desired(INVALID)
    result = world.run("validate", path, "--format", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["format"] == "reconciler-diagnostics"
    assert doc["summary"] == {"errors": 2, "warnings": 0}
    codes = [(d["code"], d["file"], d["severity"]) for d in doc["diagnostics"]]
    assert codes == [
        ("schema.type", str(path), "error"),
        ("reference.unknown-server", str(path), "error"),
    ]
    assert all(isinstance(d["line"], int) and d["line"] > 0 for d in doc["diagnostics"])
    assert doc["diagnostics"][1]["address"] == "integration.nowhere.other"


def test_duplicate_name_across_files_names_both_places(world: World) -> None:
    body = "integrations:\n  - {name: x, server: kubiya, type: redis, config: {}}\n"
    one = world.desired(body)
    two = world.write("two.yaml", body)
    result = world.run("validate", one, two)
    assert result.exit_code == 1
    assert re.search(
        rf"^Error: {re.escape(str(two))}:2:5: integration 'x' is declared twice "
        rf".*\(first at {re.escape(str(one))}:\d+:5\)",
        result.stderr,
        re.M,
    ), result.stderr


def test_missing_file_is_an_error_not_a_traceback(world: World) -> None:
    result = world.run("validate", world.tmp / "nope.yaml")
    assert result.exit_code == 1
    assert "nope.yaml" in result.stderr


def test_no_file_given(world: World) -> None:
    result = world.run("validate")
    assert result.exit_code == 1
    assert "no desired-state files given" in result.stderr


def test_validate_takes_no_color(world: World) -> None:
    bad = world.write("bad.yaml", "servers: {}\nintegrations: 3\n")
    coloured = world.run("validate", bad, env={"FORCE_COLOR": "1", "NO_COLOR": None})
    assert coloured.exit_code == 1
    assert "\x1b[" in coloured.stderr
    plain = world.run("validate", bad, "--no-color", env={"FORCE_COLOR": "1", "NO_COLOR": None})
    assert plain.exit_code == 1
    assert "\x1b[" not in plain.stderr
    assert "integrations" in plain.stderr


def _errors(result_stderr: str, path: object) -> list[tuple[int, str]]:
    return [
        (int(line), message)
        for line, message in re.findall(rf"^Error: {re.escape(str(path))}:(\d+):\d+: (.*)$", result_stderr, re.M)
    ]


def test_a_bad_url_does_not_hide_a_literal_token_on_the_same_channel(world: World) -> None:
    path = world.desired(
        "channels:\n"
        "  - {server: console, agent: agt_demo, family: mcp_server, name: docs,\n"
        "     server_url: not-a-url,\n"
        "     auth_type: bearer,\n"
        "     auth_config: {token: literal-token}}\n"
    )
    result = world.run("validate", path)
    assert result.exit_code == 1
    errors = _errors(result.stderr, path)
    assert [message.split(":")[0] for _, message in errors] == [
        "channel 'docs'",
        "`auth_config.token` of channel 'docs' is a password-type field written as a literal value [channel.console.agt_demo.mcp_server.docs]",
    ]
    assert "`server_url` must be an http:// or https:// URL" in errors[0][1]
    assert "literal-token" not in result.output


def test_a_type_error_does_not_hide_a_duplicate_model(world: World) -> None:
    path = world.desired(
        "providers:\n"
        "  - name: llm\n"
        "    server: orkes\n"
        "    type: ollama\n"
        "    configuration: {endpoint: 'http://localhost:11434'}\n"
        "    apis:\n"
        "      - {name: m1, enabled: 'yes'}\n"
        "      - {name: m1}\n"
    )
    lines = path.read_text().splitlines()
    first = next(i for i, line in enumerate(lines, 1) if "enabled: 'yes'" in line)
    result = world.run("validate", path)
    assert result.exit_code == 1
    assert _errors(result.stderr, path) == [
        (first, "model 'm1' of provider 'llm': `enabled` must be true or false, not a string"),
        (first + 1, f"model 'm1' is declared twice in provider 'llm' (first at {path}:{first}:9) [model.orkes.llm.m1]"),
    ]


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://127.0.0.1:99999", "its port is not a number from 1 to 65535"),
        ('"http://[::1"', "an IPv6 address in brackets is not closed (`http://[::1]:8080`)"),
        ("http://127.0.0.1:0", "its port is not a number from 1 to 65535"),
        ('"http://:8080"', "it names no host"),
        ("https://user:pw@api.example.com", "it holds a user name or password"),
    ],
)
def test_a_malformed_server_url_is_refused_at_its_position(world: World, url: str, problem: str) -> None:
    path = world.write("bad-url.yaml", f"servers:\n  k:\n    kind: kubiya\n    url: {url}\n    token: ${{env:K}}\n")
    result = world.run("validate", path)
    assert result.exit_code == 1, result.output
    assert f"Error: {path}:4:10: the `url` of server 'k' is not a usable address: {problem}" in result.stderr
    assert "Traceback" not in result.output


def test_a_bearer_channel_without_a_token_fails_validate(world: World) -> None:
    path = world.desired(
        "channels:\n"
        "  - {server: console, agent: agt_demo, family: custom_api, name: hook,\n"
        "     base_url: https://hook.example.com,\n"
        "     auth_type: bearer}\n"
    )
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "auth_type: bearer" in text)
    result = world.run("validate", path, "--format", "json")
    assert result.exit_code == 1, result.output
    found = [(d["code"], d["line"]) for d in json.loads(result.stdout)["diagnostics"]]
    assert found == [("channel.auth-incomplete", line)]
