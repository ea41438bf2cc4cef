"""`reconciler export --server NAME`: live state to desired-state YAML that plans clean."""

from __future__ import annotations

import json
import re

import yaml

from tests.cli.conftest import BASIC, World, servers_yaml

OPENAI_KEY = "sk-openai-Export-123456"
STATUS_TOKEN = "tok-status-Export-9999"

# BASIC plus a provider with a write-only key and a channel with a write-only token.
WITH_SECRETS = (
    BASIC.replace(
        "providers:\n",
        """providers:
  - name: openai-x
    server: orkes
    type: openai
    configuration: {api_key: "${env:OPENAI_KEY}"}
    tags: {team: marketing}
    apis:
      - {name: gpt-4o, description: GPT-4o}
""",
    )
    + """  - server: console
    agent: agt_demo
    family: custom_api
    name: status
    base_url: https://status.example.com
    auth_type: bearer
    auth_config: {token: "${env:STATUS_TOKEN}"}
"""
)

SECRETS_ENV = {"OPENAI_KEY": OPENAI_KEY, "STATUS_TOKEN": STATUS_TOKEN}


def asked_variables(stderr: str) -> list[str]:
    match = re.search(r"^Set these variables before planning: (.*)$", stderr, re.M)
    return match.group(1).split(", ") if match else []


def test_exported_kubiya_server_plans_clean(any_world: World) -> None:
    world = any_world
    assert world.run("apply", world.desired(), "--auto-approve").exit_code == 0
    world.create_unmanaged("hand-made")
    servers = world.write("servers.yaml", servers_yaml(world.url, creds=world.creds))
    out = world.tmp / "exported.yaml"
    result = world.run("export", servers, "--server", "kubiya", "--out", out)
    assert result.exit_code == 0, result.output
    assert f"Exported 3 resource(s) to {out}" in result.stderr
    assert asked_variables(result.stderr) == []
    doc = yaml.safe_load(out.read_text())
    assert sorted(i["name"] for i in doc["integrations"]) == ["cache", "hand-made", "pg-main"]
    pg = next(i for i in doc["integrations"] if i["name"] == "pg-main")
    assert pg["config"]["env_vars"] == {"PGHOST": "db.internal", "PGPORT": "5432"}
    assert "managed-by:reconciler" not in out.read_text()
    # The hand-made integration carries no marker: taking it over writes one, and nothing else.
    plan = world.run("plan", servers, out, "--server", "kubiya", "--detailed-exitcode", "--format", "json")
    assert plan.exit_code == 2, plan.output
    changes = [c for c in json.loads(plan.stdout)["changes"] if c["action"] != "no-op"]
    assert [(c["address"], c["reason"], c["fields"]) for c in changes] == [
        ("integration.kubiya.hand-made", "adopt", [])
    ]
    read_only = world.run("plan", servers, out, "--server", "kubiya", "--detailed-exitcode", "--no-adopt")
    assert read_only.exit_code == 0, read_only.output
    assert read_only.stdout.strip() == "No changes. The live state matches the desired state."


def test_export_to_stdout_is_the_same_yaml(world: World) -> None:
    assert world.run("apply", world.desired(), "--auto-approve").exit_code == 0
    servers = world.write("servers.yaml", servers_yaml(world.url, creds=False))
    out = world.tmp / "exported.yaml"
    assert world.run("export", servers, "--server", "kubiya", "--out", out).exit_code == 0
    printed = world.run("export", servers, "--server", "kubiya")
    assert printed.exit_code == 0
    assert printed.stdout == out.read_text()


def test_export_of_every_server_with_secrets_asked_for_plans_clean(world: World) -> None:
    assert (
        world.run("apply", world.desired(WITH_SECRETS), "--auto-approve", env=SECRETS_ENV).exit_code
        == 0
    )
    servers = world.write("servers.yaml", servers_yaml(world.url, creds=False))
    files = []
    needed: list[str] = []
    for server, extra in (("kubiya", ()), ("orkes", ()), ("console", ("--agent", "agt_demo"))):
        out = world.tmp / f"{server}.yaml"
        result = world.run("export", servers, "--server", server, "--out", out, *extra)
        assert result.exit_code == 0, result.output
        text = out.read_text()
        assert OPENAI_KEY not in text
        assert STATUS_TOKEN not in text
        assert "reconciler-fingerprint" not in text
        needed += asked_variables(result.stderr)
        for name in asked_variables(result.stderr):
            assert f"${{env:{name}}}" in text
        files.append(out)
    assert len(needed) == 2  # the provider's api_key and the channel's token
    missing = world.run("plan", servers, *files)
    assert missing.exit_code == 1
    assert all(f"the environment variable {name} is not set" in missing.stderr for name in needed)
    key_var = next(n for n in needed if "OPENAI" in n)
    token_var = next(n for n in needed if "STATUS" in n)
    env = {key_var: OPENAI_KEY, token_var: STATUS_TOKEN}
    plan = world.run("plan", servers, *files, "--detailed-exitcode", env=env)
    assert plan.exit_code == 0, plan.output
    assert "No changes. The live state matches the desired state." in plan.stdout


def test_export_needs_a_declared_server(world: World) -> None:
    servers = world.write("servers.yaml", servers_yaml(world.url, creds=False))
    result = world.run("export", servers, "--server", "elsewhere")
    assert result.exit_code == 1
    assert "unknown server(s): elsewhere" in result.stderr
    missing = world.run("export", servers)
    assert missing.exit_code == 1  # a usage error: 2 means only changes or drift
    assert "Missing option '--server'" in missing.stderr


ROTATED = "rotated-Hunter2-on-the-server"

PAYMENTS = """channels:
  - server: console
    agent: agt_demo
    family: bimpeai
    name: stripe
    type: stripe
    secret_key: ${env:STRIPE_SECRET}
"""


def test_secret_named_values_only_the_server_holds_become_references(world: World) -> None:
    body = """integrations:
  - name: app
    server: kubiya
    type: postgres
    config: {env_vars: {DB_PASSWORD: "${env:APP_DB_PASSWORD}", PGHOST: db.internal}}
"""
    path = world.desired(body)
    assert world.run("apply", path, "--auto-approve", env={"APP_DB_PASSWORD": "first"}).exit_code == 0
    row = world.integration("app")
    row["config"]["env_vars"]["DB_PASSWORD"] = ROTATED
    assert world.kubiya("PUT", f"/{row['id']}", json_body={"config": row["config"]}).status_code == 200
    hand = world.create_unmanaged("hand-made")
    world.kubiya("PUT", f"/{hand['id']}", json_body={"config": {"env_vars": {"API_TOKEN": "by-hand-T0ken"}}})

    result = world.run("export", path, "--server", "kubiya", env={"APP_DB_PASSWORD": "first"})
    assert result.exit_code == 0, result.output
    doc = yaml.safe_load(result.stdout)
    env = {i["name"]: i.get("config", {}).get("env_vars", {}) for i in doc["integrations"]}
    assert env["app"] == {"DB_PASSWORD": "${env:APP_DB_PASSWORD}", "PGHOST": "db.internal"}
    assert env["hand-made"] == {"API_TOKEN": "${env:KUBIYA_HAND_MADE_API_TOKEN}"}
    assert ROTATED not in result.output
    assert "by-hand-T0ken" not in result.output


def test_a_bimpeai_channel_exports_its_write_only_key_and_keeps_its_declared_name(world: World) -> None:
    path = world.desired(PAYMENTS)
    env = {"STRIPE_SECRET": "sk_test_stripe_secret"}
    assert world.run("apply", path, "--auto-approve", env=env).exit_code == 0
    result = world.run("export", path, "--server", "console", env=env)
    assert result.exit_code == 0, result.output
    (channel,) = [c for c in yaml.safe_load(result.stdout)["channels"] if c["family"] == "bimpeai"]
    assert (channel["name"], channel["secret_key"]) == ("stripe", "${env:STRIPE_SECRET}")


def test_validate_refuses_a_bimpeai_channel_without_its_write_only_key(world: World) -> None:
    result = world.run("validate", world.desired(PAYMENTS.replace("    secret_key: ${env:STRIPE_SECRET}\n", "")))
    assert result.exit_code == 1
    assert "bimpeai channel 'stripe' of type 'stripe' lacks `secret_key`" in result.stderr


def test_console_export_without_agents_is_refused_with_a_hint(world: World) -> None:
    servers = world.write("servers.yaml", servers_yaml(world.url, creds=False))
    result = world.run("export", servers, "--server", "console")
    assert result.exit_code == 1
    assert "cannot list agents" in result.stderr
    assert "--agent AGENT_ID" in result.stderr


def test_export_with_servers_is_a_complete_file_that_plans_clean(world: World) -> None:
    path = world.desired()
    assert world.run("apply", path, "--auto-approve").exit_code == 0
    out = world.tmp / "kubiya.yaml"
    assert world.run("export", path, "--server", "kubiya", "--with-servers", "--out", out).exit_code == 0
    doc = yaml.safe_load(out.read_text())
    assert (doc["version"], list(doc["servers"])) == (1, ["kubiya"])
    result = world.run("plan", out, "--detailed-exitcode")
    assert result.exit_code == 0, result.output


def test_an_exported_bimpeai_channel_survives_a_requested_replacement(world: World) -> None:
    env = {"STRIPE_SECRET": "sk_test_stripe_secret"}
    assert world.run("apply", world.desired(PAYMENTS), "--auto-approve", env=env).exit_code == 0
    servers = world.write("servers.yaml", servers_yaml(world.url, creds=world.creds))
    exported = world.tmp / "console.yaml"
    assert world.run("export", servers, "--server", "console", "--agent", "agt_demo", "--out", exported).exit_code == 0
    # Exported without a declaration, the channel takes the console's name for it.
    address = "channel.console.agt_demo.bimpeai.Stripe"
    env["CONSOLE_AGT_DEMO_STRIPE_SECRET_KEY"] = "sk_test_stripe_secret"
    replaced = world.run("apply", servers, exported, "--replace", address, "--auto-approve", env=env)
    assert replaced.exit_code == 0, replaced.output
    assert "Apply complete: 0 added, 0 changed, 1 replaced, 0 destroyed." in replaced.stdout
    connected = [c for c in world.console("GET", "/bimpeai").json()["data"] if c.get("id")]
    assert [c["type"] for c in connected if c["type"] == "stripe"] == ["stripe"]


def test_a_replacement_whose_create_would_be_refused_is_refused_before_the_delete(world: World) -> None:
    env = {"STRIPE_SECRET": "sk_test_stripe_secret"}
    assert world.run("apply", world.desired(PAYMENTS, name="pay.yaml"), "--auto-approve", env=env).exit_code == 0
    before = [c["id"] for c in world.console("GET", "/bimpeai").json()["data"] if c.get("id")]
    lacking = world.desired(PAYMENTS.replace("    secret_key: ${env:STRIPE_SECRET}\n", ""), name="pay.yaml")
    refused = world.run("apply", lacking, "--replace", "channel.console.agt_demo.bimpeai.stripe", "--auto-approve")
    assert refused.exit_code == 1
    assert "lacks `secret_key`" in refused.stderr
    assert [c["id"] for c in world.console("GET", "/bimpeai").json()["data"] if c.get("id")] == before
