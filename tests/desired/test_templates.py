"""Templating: `.j2` files are rendered with variables in a sandbox before YAML parsing."""

from __future__ import annotations

import pytest

from reconciler.desired import check, load, render
from reconciler.errors import DiagnosticsError, Location, Severity
from tests.desired.conftest import WriteFile

TEMPLATE = """\
servers:
  kubiya: {kind: kubiya, url: "sandbox:"}
integrations:
{% for db in databases %}
  - name: {{ db }}-{{ env }}
    server: kubiya
    type: postgres
    description: {{ description | tojson }}
    config:
      env_vars: {TOKEN: "${env:DB_TOKEN}"}
{% endfor %}
"""


def test_variables_and_var_files_in_order(write: WriteFile) -> None:
    path = write("state.yaml.j2", TEMPLATE)
    base = write("vars/base.yaml", "env: dev\ndatabases: [orders]\ndescription: from base\n")
    override = write("vars/prod.yaml", "env: prod\ndatabases: [orders, users]\n")
    state = load(
        [path],
        var_files=[base, override],
        variables={"description": "from --var"},
        environ={"DB_TOKEN": "t"},
    )
    names = [r.address.name for r in state.resources]
    assert names == ["orders-prod", "users-prod"]  # the later var file wins
    assert {r.body["description"] for r in state.resources} == {"from --var"}  # --var wins


def test_env_references_pass_through_jinja_untouched(write: WriteFile) -> None:
    path = write("state.yaml.j2", TEMPLATE)
    text = render(path, variables={"env": "x", "description": "d"}, var_files=[write("v.yaml", "databases: [a]")])
    assert 'TOKEN: "${env:DB_TOKEN}"' in text
    assert "- name: a-x\n" in text  # lstrip/trim_blocks: no stray indentation from the loop


def test_undefined_variable_is_an_error_at_its_line(write: WriteFile) -> None:
    path = write("state.yaml.j2", TEMPLATE)
    state, diagnostics = check([path], variables={"env": "x"}, environ={})
    assert state is None
    [d] = diagnostics
    assert d.code == "template.undefined"
    assert "'databases' is undefined" in d.message
    assert d.location == Location(str(path), 4)


def test_undefined_attribute_inside_a_loop(write: WriteFile) -> None:
    path = write("t.yaml.j2", "a: 1\n{% for x in items %}\nb{{ loop.index }}: {{ x.missing }}\n{% endfor %}\n")
    _, diagnostics = check([path], var_files=[write("v.yaml", "items: [{other: 1}]")], environ={})
    assert [(d.code, d.location) for d in diagnostics] == [("template.undefined", Location(str(path), 3))]


@pytest.mark.parametrize(
    "expression",
    [
        "''.__class__",
        "''.__class__.__mro__[1].__subclasses__()",
        "cycler.__init__.__globals__",
        "self.__init__.__globals__",
    ],
)
def test_sandbox_blocks_attribute_tricks(write: WriteFile, expression: str) -> None:
    path = write("t.yaml.j2", f"a: {{{{ {expression} }}}}\n")
    state, diagnostics = check([path], environ={})
    assert state is None
    assert len(diagnostics) == 1
    assert diagnostics[0].severity is Severity.ERROR
    assert diagnostics[0].code == "template.unsafe"
    assert diagnostics[0].location == Location(str(path), 1)


def test_sandbox_forbids_mutating_variables(write: WriteFile) -> None:
    path = write("t.yaml.j2", "a: {{ items.append(1) }}\n")
    _, diagnostics = check([path], var_files=[write("v.yaml", "items: []")], environ={})
    assert [d.code for d in diagnostics] == ["template.unsafe"]


def test_templates_cannot_include_files(write: WriteFile) -> None:
    write("secret.yaml", "token: x\n")
    path = write("t.yaml.j2", "{% include 'secret.yaml' %}\n")
    _, diagnostics = check([path], environ={})
    assert [d.code for d in diagnostics] == ["template.include"]


def test_syntax_error_has_the_template_line(write: WriteFile) -> None:
    path = write("t.yaml.j2", "a: 1\nb: {{ oops(\n")
    _, diagnostics = check([path], environ={})
    assert [(d.code, d.location) for d in diagnostics] == [("template.syntax", Location(str(path), 2))]


def test_runtime_error_in_an_expression(write: WriteFile) -> None:
    path = write("t.yaml.j2", "a: 1\n\nb: {{ 1 // 0 }}\n")
    _, diagnostics = check([path], environ={})
    [d] = diagnostics
    assert d.code == "template.error"
    assert "ZeroDivisionError" in d.message
    assert d.location == Location(str(path), 3)


def test_plain_yaml_is_never_templated(write: WriteFile) -> None:
    path = write(
        "state.yaml",
        """\
        servers:
          kubiya: {kind: kubiya, url: "sandbox:"}
        integrations:
          - {name: literal, server: kubiya, type: x, description: "{{ env }}"}
        """,
    )
    state, diagnostics = check([path], variables={"env": "prod"}, environ={})
    assert state is not None
    assert state.resources[0].body["description"] == "{{ env }}"
    assert [d.code for d in diagnostics] == ["template.unused-variables"]
    assert diagnostics[0].severity is Severity.WARNING
    assert state.diagnostics == tuple(diagnostics)


def test_var_file_problems(write: WriteFile) -> None:
    path = write("t.yaml.j2", "a: {{ x }}\n")
    not_mapping = write("list.yaml", "- a\n- b\n")
    broken = write("broken.yaml", "x: [1, 2\n")
    _, diagnostics = check([path], var_files=[not_mapping, broken, "missing-vars.yaml"], environ={})
    found = {(d.code, d.location.file if d.location else None) for d in diagnostics}
    assert ("template.var-file", str(not_mapping)) in found
    assert ("yaml.syntax", str(broken)) in found
    assert ("file.not-found", "missing-vars.yaml") in found
    # The template still runs, with what could be read: x is undefined.
    assert ("template.undefined", str(path)) in found


def test_rendered_output_is_bounded(write: WriteFile) -> None:
    from reconciler.desired.safeyaml import Limits

    path = write("t.yaml.j2", "{% for i in range(100000) %}k{{ i }}: {{ i }}\n{% endfor %}\n")
    _, diagnostics = check([path], environ={}, limits=Limits(max_bytes=10_000))
    assert [d.code for d in diagnostics] == ["template.too-large"]


def test_render_returns_plain_files_unchanged(write: WriteFile) -> None:
    path = write("plain.yaml", "a: {{ not rendered }}\n")
    assert render(path) == "a: {{ not rendered }}\n"
    with pytest.raises(DiagnosticsError):
        render(write("bad.yaml.j2", "{{ nope }}"))


def test_nested_loops_end_with_an_error_not_a_hang(write: WriteFile) -> None:
    path = write(
        "slow.yaml.j2",
        "servers: {}\n{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}\n",
    )
    _, diagnostics = check([path])
    (problem,) = diagnostics
    assert problem.code == "template.too-slow"
    assert "more than 1,000,000 items" in problem.message


@pytest.mark.parametrize(
    ("expression", "code", "message"),
    [
        ("9**99999999", "template.too-large", "9 ** 99999999 would be a number of more than 16,384 bits"),
        ("lipsum(3000000)", "template.too-large", "lipsum() is limited to 100 paragraphs"),
        ("'a' * (10**9)", "template.too-large", "a repetition (`*`) would build a value of 1,000,000,000"),
        ("(10**9) * 'a'", "template.too-large", "a repetition (`*`) would build a value of 1,000,000,000"),
        ("range(10**12) | list", "template.too-slow", "more than 1,000,000 items"),
        ("range(10**100) | list", "template.too-slow", "more than 1,000,000 items"),
        ("'%999999999d' % 1", "template.too-large", "a `%` format width would build a value of 999,999,999"),
        ("'%*d' % (999999999, 1)", "template.too-large", "a `%` format width would build a value of 999,999,999"),
        ("'%999999999d' | format(1)", "template.too-large", "a `%` format width"),
        ("'{:999999999}'.format(1)", "template.too-large", "a format width would build a value of 999,999,999"),
        ("'{:{w}}'.format(1, w=999999999)", "template.too-large", "a format width"),
        ("'x' | center(999999999)", "template.too-large", "the center filter's width"),
        ("'x'.ljust(999999999)", "template.too-large", "a str.ljust width"),
        ("'x' | indent(999999999)", "template.too-large", "the indent filter's width"),
        ("('x' * 1000).replace('', 'y' * 100000)", "template.too-large", "a replace would build a value of 100,101,000"),
        ("('y' * 100000).join(range(100000))", "template.too-large", "a join would build a value"),
        ("[1] | batch(999999999, 0) | list", "template.too-large", "the batch filter's size"),
    ],
)
def test_template_bombs_are_refused_before_they_run(write: WriteFile, expression: str, code: str, message: str) -> None:
    # Each of these, unguarded, computes for tens of seconds or exhausts memory in one step of
    # C code that no deadline can interrupt; refused, it fails at once with the template line.
    path = write("bomb.yaml.j2", "servers: {}\nx: {{ " + expression + " }}\n")
    _, diagnostics = check([path], environ={})
    (problem,) = diagnostics
    assert (problem.code, problem.location) == (code, Location(str(path), 2))
    assert message in problem.message


def test_repeated_squaring_in_a_loop_is_refused(write: WriteFile) -> None:
    path = write(
        "square.yaml.j2",
        "{% set ns = namespace(x=3) %}{% for i in range(40) %}{% set ns.x = ns.x * ns.x %}{% endfor %}servers: {}\n",
    )
    _, diagnostics = check([path], environ={})
    assert [d.code for d in diagnostics] == ["template.too-large"]
    assert "a multiplication would make a number of more than 16,384 bits" in diagnostics[0].message


def test_ordinary_arithmetic_and_formatting_still_work(write: WriteFile) -> None:
    path = write(
        "ok.yaml.j2",
        "a: '{{ 2**10 }} {{ 'ab' * 3 }} {{ [1, 2] * 2 }} {{ '%5d' % 3 }} {{ '{:>4}'.format(1) }} {{ 7 % 3 }}'\n"
        "b: {{ lipsum(1, html=False) | length > 0 }}\n",
    )
    assert render(path).splitlines() == ["a: '1024 ababab [1, 2, 1, 2]     3    1 1'", "b: True"]


def test_constant_expressions_are_not_evaluated_while_compiling(write: WriteFile) -> None:
    # Jinja folds constant expressions when it compiles a template; a filter call on constants
    # would run there, before any budget applies. Folding is off: the budget catches it.
    path = write("fold.yaml.j2", "servers: {}\nx: {{ 'x' | center(10**9) }}\n")
    _, diagnostics = check([path], environ={})
    assert [(d.code, d.location) for d in diagnostics] == [("template.too-large", Location(str(path), 2))]


def test_deeply_nested_expression_is_an_error_not_a_traceback(write: WriteFile) -> None:
    path = write("deep.yaml.j2", "x: {{ " + "(" * 50_000 + "1" + ")" * 50_000 + " }}\n")
    _, diagnostics = check([path], environ={})
    assert [d.code for d in diagnostics] == ["template.too-complex"]


def test_a_yaml_error_after_a_loop_and_a_comment_is_at_its_template_line(write: WriteFile) -> None:
    text = (
        "integrations:\n"
        "{% for n in ['a', 'b', 'c'] %}\n"
        "  - {name: {{ n }}, server: kubiya, type: redis, config: {}}\n"
        "{% endfor %}\n"
        "{# two lines\n   of comment #}\n"
        "  - name: pg\n"
        "    server: kubiya\n"
        "     type: postgres\n"
    )
    path = write("t.yaml.j2", text)
    _, diagnostics = check([path], environ={})
    [d] = diagnostics
    assert d.code == "yaml.syntax"
    assert d.location == Location(str(path), 9, 10)  # rendered, it is line 6


def test_a_value_an_expression_wrote_is_placed_at_the_expression(write: WriteFile) -> None:
    text = (
        'servers:\n  kubiya: {kind: kubiya, url: "sandbox:"}\n'
        "integrations:\n"
        "{% for n in ['a', 'b'] %}\n"
        "  - {name: {{ n }}, server: kubiya, type: redis, config: {env_vars: {N: {{ loop.index }}}}}\n"
        "{% endfor %}\n"
    )
    path = write("t.yaml.j2", text)
    _, diagnostics = check([path], environ={})
    column = text.splitlines()[4].index("{{ loop.index }}") + 1
    assert [(d.code, d.location) for d in diagnostics] == [("schema.type", Location(str(path), 5, column))] * 2
    assert diagnostics[0].hint == 'quote the value so that it stays a string: N: "{{ loop.index }}"'
