"""Every file under `examples/` is a valid desired state (templates: for each var file)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reconciler.desired import check, load, render
from reconciler.model import ResourceKind, ServerKind

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
# The variables the production example reads; the quickstart needs none.
PROD_ENV = {
    "KUBIYA_TOKEN": "kby-test",
    "ORKES_KEY_ID": "key-id",
    "ORKES_KEY_SECRET": "key-secret",
    "OPENAI_API_KEY": "sk-test",
}


def _plain_examples() -> list[Path]:
    return sorted(p for p in EXAMPLES.rglob("*.yaml") if "vars" not in p.parts)


def _templates() -> list[tuple[Path, Path]]:
    return [
        (template, var_file)
        for template in sorted(EXAMPLES.rglob("*.j2"))
        for var_file in sorted((template.parent / "vars").glob("*.yaml"))
    ]


def test_examples_exist() -> None:
    assert EXAMPLES / "quickstart.yaml" in _plain_examples()
    assert {v.name for _, v in _templates()} >= {"staging.yaml", "prod.yaml"}


@pytest.mark.parametrize("path", _plain_examples(), ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_plain_example_is_valid_without_environment(path: Path) -> None:
    state, diagnostics = check([path], environ={})
    assert diagnostics == []
    assert state is not None
    assert state.resources


@pytest.mark.parametrize(
    ("template", "var_file"), _templates(), ids=lambda p: p.name if isinstance(p, Path) else str(p)
)
def test_template_example_is_valid_for_each_environment(template: Path, var_file: Path) -> None:
    state, diagnostics = check([template], var_files=[var_file], environ=PROD_ENV)
    assert diagnostics == []
    assert state is not None
    assert state.resources
    env = var_file.stem
    assert all(r.address.name.endswith(env) for r in state.resources if r.address.kind is not ResourceKind.MODEL)


def test_quickstart_runs_on_the_sandbox_with_no_credentials() -> None:
    state = load([EXAMPLES / "quickstart.yaml"], environ={})
    assert set(state.servers) == {"kubiya", "orkes", "console"}
    assert {s.kind for s in state.servers.values()} == set(ServerKind)
    for server in state.servers.values():
        assert server.is_sandbox
        assert dict(server.credentials) == {}
    kinds = [r.address.kind for r in state.resources]
    assert 2 <= kinds.count(ResourceKind.INTEGRATION) <= 3
    assert kinds.count(ResourceKind.PROVIDER) == 2
    assert kinds.count(ResourceKind.MODEL) >= 2
    channels = [r for r in state.resources if r.address.kind is ResourceKind.CHANNEL]
    assert {c.address.scope for c in channels} == {("agt_demo", "mcp_server"), ("agt_demo", "custom_api")}
    mcp = next(c for c in channels if c.address.scope[1] == "mcp_server")
    assert mcp.body["auth_type"] == "none"


def test_staging_needs_no_environment_and_prod_does() -> None:
    template = EXAMPLES / "multi-env" / "integrations.yaml.j2"
    staging = load([template], var_files=[template.parent / "vars" / "staging.yaml"], environ={})
    assert all(s.is_sandbox for s in staging.servers.values())
    _, diagnostics = check([template], var_files=[template.parent / "vars" / "prod.yaml"], environ={})
    assert {d.code for d in diagnostics} == {"reference.env-missing"}


def test_schema_modelines_point_at_the_schema() -> None:
    for path in _plain_examples():
        match = re.search(r"\$schema=(\S+)", path.read_text())
        assert match, f"{path} has no yaml-language-server modeline"
        assert (path.parent / match.group(1)).resolve() == ROOT / "schemas" / "desired-state.schema.json"


def test_rendered_template_keeps_env_references() -> None:
    template = EXAMPLES / "multi-env" / "integrations.yaml.j2"
    text = render(template, var_files=[template.parent / "vars" / "prod.yaml"])
    assert "token: ${env:KUBIYA_TOKEN}" in text
