"""Hostile input: exit 1 with a clear message, never a traceback, never a write.

Oversized, deeply nested, alias-bombed or badly encoded files, template tricks, odd but valid
names, and servers answering something that is not JSON.
"""

from __future__ import annotations

import json
import re

import pytest
from click.testing import Result

from tests.cli.conftest import Hook, World, servers_yaml

KUBIYA_ONLY = "integrations:\n  - {name: x, server: kubiya, type: redis, config: {}}\n"


def refused(result: Result, *needles: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in result.stderr, result.stderr


def billion_laughs() -> str:
    lines = ['x-a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    previous = "a"
    for name in "bcdefghi":
        lines.append(f"x-{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]")
        previous = name
    lines.append(
        "integrations:\n  - {name: x, server: kubiya, type: redis, config: {}, description: *i}"
    )
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("command", ["validate", "plan", "apply"])
def test_yaml_bomb(world: World, command: str) -> None:
    path = world.desired(billion_laughs())
    refused(
        world.run(command, path, "--auto-approve")
        if command == "apply"
        else world.run(command, path),
        "aliases expand to more than 100000 values",
        "billion laughs",
    )
    assert world.integrations() == []


def test_twenty_mebibyte_file(world: World) -> None:
    row = (
        '  - {name: n%06d, server: kubiya, type: redis, config: {}, description: "'
        + "x" * 200
        + '"}\n'
    )
    body = "integrations:\n" + "".join(row % i for i in range(90_000))
    path = world.desired(body)
    assert path.stat().st_size > 20 * 2**20
    refused(world.run("plan", path), f"Error: {path}: the file is larger than 10 MiB")
    assert world.integrations() == []


def test_ten_thousand_deep_nesting(world: World) -> None:
    path = world.desired("x-deep: " + "[" * 10_000 + "]" * 10_000 + "\n" + KUBIYA_ONLY)
    refused(world.run("validate", path), "values are nested deeper than 64 levels")
    mapping = world.desired("x-deep: " + "{a: " * 10_000 + "1" + "}" * 10_000 + "\n" + KUBIYA_ONLY)
    refused(world.run("plan", mapping), "values are nested deeper than 64 levels")


def test_invalid_utf8(world: World) -> None:
    text = (
        servers_yaml(world.url, creds=False).encode()
        + b'integrations:\n  - {name: "caf\xe9\xff"}\n'
    )
    path = world.write("latin1.yaml", text)
    refused(world.run("plan", path), "the file is not valid UTF-8 (byte 0xe9 at offset")
    assert f"{path}:" in world.run("validate", path).stderr


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("{{ ''.__class__.__mro__ }}", "access to attribute '__class__' of 'str' object is unsafe"),
        ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "is unsafe"),
        ("{{ cycler.__init__.__globals__.os.popen('id').read() }}", "is unsafe"),
        ("{{ self._TemplateReference__context }}", ""),
        ("{{ lipsum.__globals__['os'].system('touch pwned') }}", ""),
    ],
)
def test_template_injection(world: World, expression: str, message: str) -> None:
    body = (
        f'integrations:\n  - {{name: "{expression}", server: kubiya, type: redis, config: {{}}}}\n'
    )
    path = world.write("evil.yaml.j2", servers_yaml(world.url, creds=False) + body)
    result = world.run("plan", path)
    refused(result, f"{path}:")
    assert message in result.stderr
    assert not (world.tmp / "pwned").exists()
    assert world.integrations() == []


def test_template_cannot_read_files(world: World) -> None:
    path = world.write(
        "evil.yaml.j2", servers_yaml(world.url, creds=False) + "{% include '/etc/passwd' %}\n"
    )
    refused(world.run("plan", path), "a template cannot include, import or extend other files")


def test_template_syntax_in_a_plain_yaml_file_is_just_text(world: World) -> None:
    body = (
        "integrations:\n"
        '  - {name: x, server: kubiya, type: redis, config: {}, description: "{{ 7*7 }}"}\n'
    )
    path = world.desired(body)
    result = world.run("apply", path, "--auto-approve")
    assert result.exit_code == 0
    assert world.integration("x")["description"] == "{{ 7*7 }}"


ODD_NAMES = """
integrations:
  - {name: "team/db", server: kubiya, type: redis, config: {}}
  - {name: "..", server: kubiya, type: redis, config: {}}
  - {name: "../etc/passwd", server: kubiya, type: redis, config: {}}
  - {name: "café ☕ 数据", server: kubiya, type: redis, config: {}}
  - {name: "with spaces inside", server: kubiya, type: redis, config: {}}
  - {name: "a?b#c%20d&e=f", server: kubiya, type: redis, config: {}}
providers:
  - name: "café ☕ llm"
    server: orkes
    type: ollama
    configuration: {endpoint: "http://localhost:11434"}
    apis:
      - {name: "llama3.1:8b"}
      - {name: "mixtral 8x7b ☕"}
      - {name: "a?b#c"}
channels:
  - {server: console, agent: agt_demo, family: mcp_server, name: "Docs search/v2 ☕",
     server_url: "https://mcp.example.com/x"}
  - {server: console, agent: agt_demo, family: custom_api, name: "..",
     base_url: "https://x.example.com"}
"""


def test_odd_but_valid_names_apply_and_plan_clean(world: World) -> None:
    path = world.desired(ODD_NAMES)
    assert world.run("validate", path).exit_code == 0
    result = world.run("apply", path, "--auto-approve")
    assert result.exit_code == 0, result.output
    assert "Apply complete: 12 added, 0 changed, 0 replaced, 0 destroyed." in result.stdout
    assert 'integration.kubiya."café ☕ 数据"' in result.stdout
    assert set(world.integration_names()) == {
        "team/db",
        "..",
        "../etc/passwd",
        "café ☕ 数据",
        "with spaces inside",
        "a?b#c%20d&e=f",
    }
    again = world.run("plan", path, "--detailed-exitcode")
    assert again.exit_code == 0, again.output
    assert world.run("drift", path).exit_code == 0
    targeted = world.run(
        "plan",
        path,
        "--target",
        'integration.kubiya."team/db"',
        "--replace",
        'integration.kubiya."team/db"',
        "--format",
        "json",
    )
    assert targeted.exit_code == 0
    assert [(c["address"], c["action"]) for c in json.loads(targeted.stdout)["changes"]] == [
        ('integration.kubiya."team/db"', "replace")
    ]


def test_odd_names_are_pruned_one_by_one(world: World) -> None:
    assert world.run("apply", world.desired(ODD_NAMES), "--auto-approve").exit_code == 0
    keep = world.desired(
        "integrations:\n  - {name: keep, server: kubiya, type: redis, config: {}}\n"
    )
    result = world.run("apply", keep, "--prune", "--auto-approve", "--server", "kubiya")
    assert result.exit_code == 0, result.output
    assert "Apply complete: 1 added, 0 changed, 0 replaced, 6 destroyed." in result.stdout
    assert set(world.integration_names()) == {"keep"}


def test_a_model_named_dot_dot_is_refused_up_front(world: World) -> None:
    # `..` in a URL path is resolved away by HTTP clients: `/provider/llm/integration/..`
    # would address the provider itself. Refused with its location; the server is never asked.
    provider = """providers:
  - name: llm
    server: orkes
    type: ollama
    configuration: {endpoint: "http://localhost:11434"}
    apis:
      - {name: keep}
"""
    dotted = world.desired(provider + '      - {name: ".."}\n')
    refused = world.run("validate", dotted)
    assert refused.exit_code == 1
    assert re.search(r"desired\.yaml:\d+:\d+: model name '\.\.'", refused.stderr), refused.stderr
    assert world.run("apply", dotted, "--auto-approve").exit_code == 1
    assert world.conductor("GET", "/integrations/", params={"activeOnly": "false"}).json() == []


def test_a_provider_named_dot_dot_is_refused_up_front(world: World) -> None:
    provider = """providers:
  - name: ".."
    server: orkes
    type: ollama
    configuration: {endpoint: "http://localhost:11434"}
"""
    path = world.desired(provider)
    refused = world.run("validate", path)
    assert refused.exit_code == 1
    assert re.search(r"desired\.yaml:\d+:\d+: provider name '\.\.'", refused.stderr), refused.stderr
    assert world.run("apply", path, "--auto-approve").exit_code == 1
    assert world.conductor("GET", "/integrations/", params={"activeOnly": "false"}).json() == []


def test_a_conductor_name_with_a_slash_is_refused_up_front(world: World) -> None:
    body = """providers:
  - name: "team/llm"
    server: orkes
    type: ollama
    configuration: {endpoint: "http://localhost:11434"}
"""
    path = world.desired(body)
    result = world.run("validate", path)
    assert result.exit_code == 1
    assert re.search(rf"Error: {re.escape(str(path))}:\d+:\d+: provider name 'team/llm'", result.stderr), result.stderr


# -- servers answering nonsense -----------------------------------------------------------------

# One resource per server, so that every server is read.
ONE_OF_EACH = """
integrations:
  - {name: x, server: kubiya, type: redis, config: {}}
providers:
  - {name: p, server: orkes, type: ollama, configuration: {endpoint: "http://localhost:11434"}}
channels:
  - {server: console, agent: agt_demo, family: mcp_server, name: c,
     server_url: "https://mcp.example.com"}
"""

NONSENSE = [
    pytest.param(
        200, b"<html><body>Sign in</body></html>", "text/html", "not valid JSON", id="html"
    ),
    pytest.param(
        200,
        b'[{"id": "1", "name": "x", "integ',
        "application/json",
        "not valid JSON",
        id="truncated",
    ),
    pytest.param(200, b"", "application/json", "not valid JSON", id="empty"),
    pytest.param(200, b'{"detail": "not what you expected"}', "application/json", "", id="object"),
    pytest.param(502, b"<html>Bad gateway</html>", "text/html", "502", id="502-html"),
    pytest.param(401, b"<html>login</html>", "text/html", "answered 401", id="401-html"),
]


@pytest.mark.parametrize("server", ["kubiya", "orkes", "console"])
@pytest.mark.parametrize(("status", "body", "content_type", "message"), NONSENSE)
def test_server_answering_nonsense(
    world: World, hook: Hook, server: str, status: int, body: bytes, content_type: str, message: str
) -> None:
    hook.answer(status, body, content_type)
    path = world.desired(ONE_OF_EACH, urls={server: hook.url})
    commands = (
        [("plan",), ("apply", "--auto-approve"), ("drift",)] if status == 200 else [("plan",)]
    )
    for command in commands:
        result = world.run(command[0], path, *command[1:])
        refused(result, "Error: cannot read the live state: ", f"server {server!r}", message)
    # Nothing was written anywhere: not to the other servers, and nothing but the token
    # exchange (a POST) to this one.
    assert world.integrations() == []
    assert {(r.method, r.path) for r in hook.received if r.method != "GET"} <= {
        ("POST", "/api/token")
    }


@pytest.mark.parametrize(
    ("server", "body"),
    [
        ("kubiya", b"[1, 2, 3]"),
        ("kubiya", b'[{"name": "x"}]'),
        ("orkes", b"[1, 2, 3]"),
        ("orkes", b'[{"name": 5}]'),
        ("orkes", b'[{"name": "p", "type": "ollama", "apis": [1]}]'),
        ("console", b'{"data": [1, 2]}'),
        ("console", b'{"data": [{"name": "x"}]}'),
        ("console", b'{"data": [{"id": "1", "config": "x"}]}'),
    ],
    ids=[
        "kubiya-numbers",
        "kubiya-no-id",
        "orkes-numbers",
        "orkes-int-name",
        "orkes-int-api",
        "console-numbers",
        "console-no-id",
        "console-config-string",
    ],
)
def test_list_rows_of_the_wrong_shape(world: World, hook: Hook, server: str, body: bytes) -> None:
    hook.answer(200, b'{"token": "t"}', path="/api/token")
    hook.answer(200, body)
    path = world.desired(ONE_OF_EACH, urls={server: hook.url})
    refused(world.run("plan", path), "Error: cannot read the live state: ", f"server {server!r}")
