"""Templates on the command line: `--var`, `--var-file`, and a saved plan that keeps them."""

from __future__ import annotations

import json

from tests.cli.conftest import REPO, World

TEMPLATE = REPO / "examples" / "multi-env" / "integrations.yaml.j2"
STAGING = REPO / "examples" / "multi-env" / "vars" / "staging.yaml"


def staging(world: World) -> tuple[str, ...]:
    # The staging var file names the default sandbox; --var (last wins) points it at ours.
    return (
        str(TEMPLATE),
        "--var-file",
        str(STAGING),
        "--var",
        f"kubiya_url={world.url}",
        "--var",
        f"conductor_url={world.url}",
    )


def test_multi_env_template_plans_applies_and_converges(world: World) -> None:
    plan = world.run("plan", *staging(world), "--format", "json")
    assert plan.exit_code == 0, plan.output
    addresses = {c["address"] for c in json.loads(plan.stdout)["changes"]}
    assert addresses == {
        "integration.kubiya.orders-staging",
        "integration.kubiya.users-staging",
        "provider.orkes.llm-staging",
        'model.orkes.llm-staging."llama3.1"',
        "model.orkes.llm-staging.mistral",
    }
    applied = world.run("apply", *staging(world), "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert world.integration("orders-staging")["config"]["env_vars"]["PGHOST"] == (
        "orders.staging.internal"
    )
    assert world.run("plan", *staging(world), "--detailed-exitcode").exit_code == 0


def test_saved_plan_keeps_variable_names_and_digests_not_values(world: World) -> None:
    plan_file = world.tmp / "plan.json"
    assert world.run("plan", *staging(world), "--out", plan_file).exit_code == 0
    text = plan_file.read_text()
    assert world.url not in text
    assert sorted(json.loads(text)["sources"]["variables"]) == ["conductor_url", "kubiya_url"]
    applied = world.run("apply", plan_file, *staging(world)[3:])  # the same --var values again
    assert applied.exit_code == 0, applied.output
    assert "Apply complete: 5 added, 0 changed, 0 replaced, 0 destroyed." in applied.stdout
    assert sorted(world.integration_names()) == ["orders-staging", "users-staging"]


def test_saved_plan_refuses_other_variable_values(world: World) -> None:
    plan_file = world.tmp / "plan.json"
    assert world.run("plan", *staging(world), "--out", plan_file).exit_code == 0
    other = world.run("apply", plan_file, "--var", f"kubiya_url={world.url}", "--var", "conductor_url=sandbox:")
    assert other.exit_code == 1
    assert "the --var values differ from those the plan was made with (other values for conductor_url)" in (
        other.stderr
    )
    assert world.integration_names() == {}


def test_saved_plan_refuses_missing_variables(world: World) -> None:
    plan_file = world.tmp / "plan.json"
    assert world.run("plan", *staging(world), "--out", plan_file).exit_code == 0
    missing = world.run("apply", plan_file)
    assert missing.exit_code == 1
    assert "(missing conductor_url, kubiya_url)" in missing.stderr


def test_undefined_variable_is_an_error_at_its_line(world: World) -> None:
    path = world.write(
        "t.yaml.j2",
        'servers:\n  kubiya: {kind: kubiya, url: "sandbox:"}\n'
        'integrations:\n  - {name: "a-{{ env }}", server: kubiya, type: redis, config: {}}\n',
    )
    result = world.run("validate", path)
    assert result.exit_code == 1
    assert f"Error: {path}:4: template error: 'env' is undefined" in result.stderr
    assert "hint: give it a value with `--var NAME=VALUE`" in result.stderr


def test_undefined_variable_through_tojson_is_named(world: World) -> None:
    result = world.run("validate", TEMPLATE, "--var", "env=x")
    assert result.exit_code == 1
    assert f"Error: {TEMPLATE}:13: template error: 'kubiya_url' is undefined" in result.stderr


def test_malformed_var(world: World) -> None:
    result = world.run("plan", TEMPLATE, "--var", "novalue")
    assert result.exit_code == 1
    assert "--var 'novalue' is not of the form key=value" in result.stderr


# A loop that writes 3 x 6 lines from 6 and a comment of two lines that renders to nothing:
# the broken lines of `pg` are far from their rendered line numbers.
LOOPED = """servers:
  kubiya: {kind: kubiya, url: "sandbox:"}
integrations:
{% for name in names %}
  - name: {{ name }}
    server: kubiya
    type: redis
    config:
      env_vars:
{% for key in ['A', 'B', 'C'] %}
        {{ key }}: "x"
{% endfor %}
{% endfor %}
{# the main database,
   kept apart #}
  - name: pg
    server: kubiya
    type: postgres
    config:
      env_vars:
        PGPORT: {{ port }}
      extra_list: []
"""


def test_template_diagnostics_name_the_template_line_and_column(world: World) -> None:
    path = world.write("looped.yaml.j2", LOOPED)
    names = world.write("names.yaml", "names: [a, b, c]\n")
    result = world.run("validate", path, "--var", "port=5432", "--var-file", names)
    assert result.exit_code == 1
    lines = LOOPED.splitlines()
    port_line = lines.index("        PGPORT: {{ port }}") + 1
    assert (port_line, result.stderr.count("Error: ")) == (21, 2)
    assert (
        f"Error: {path}:{port_line}:17: integration 'pg': `config.env_vars.PGPORT` must be a string, not an integer\n"
        f"  {port_line} |         PGPORT: {{{{ port }}}}\n"
        f"     |                 ^\n"
        '  hint: quote the value so that it stays a string: PGPORT: "{{ port }}"\n'
    ) in result.stderr
    assert f"Error: {path}:{port_line + 1}:7: unknown field `extra_list`" in result.stderr
    assert f"  {port_line + 1} |       extra_list: []\n" in result.stderr
