"""The canonical shapes of `Resource.body`: the platform adapters compare against them, so
they are pinned here exactly, kind by kind."""

from __future__ import annotations

from reconciler.desired import load
from reconciler.errors import Location
from reconciler.model import (
    Address,
    Lifecycle,
    Resource,
    ResourceKind,
    Sensitive,
    ServerConfig,
    ServerKind,
)
from tests.desired.conftest import WriteFile

SERVERS = """\
servers:
  kubiya: {kind: kubiya, url: "sandbox:"}
  orkes: {kind: conductor, url: "sandbox:"}
  console: {kind: console, url: "sandbox:"}
"""


def _load(write: WriteFile, body: str, environ: dict[str, str] | None = None) -> dict[str, Resource]:
    path = write("state.yaml", SERVERS + body)
    state = load([path], environ=environ or {})
    return {str(r.address): r for r in state.resources}


def test_integration_body_keeps_only_written_config_keys(write: WriteFile) -> None:
    resources = _load(
        write,
        """\
integrations:
  - name: minimal
    server: kubiya
    type: http
  - name: full
    server: kubiya
    type: postgres
    description: Main database
    config:
      env_vars: {PGHOST: db.internal, PGPORT: "5432"}
      secrets: [PG_PASSWORD]
      files:
        - path: /etc/pg.conf
          content: "max_connections = 10"
        - path: /etc/ca.pem
          secret_ref: CA_PEM
          mode: "0600"
          description: CA
      context_prompt: Use read replicas.
      connection_test: {command: pg_isready}
    tags: [zeta, alpha]
    lifecycle: {prevent_destroy: true, ignore_changes: [description]}
""",
    )
    minimal = resources["integration.kubiya.minimal"]
    assert minimal.address == Address(ResourceKind.INTEGRATION, "kubiya", (), "minimal")
    assert minimal.body == {"type": "http", "description": None, "config": {}, "tags": [], "status": "active"}
    assert minimal.write_only == ()
    assert minimal.lifecycle == Lifecycle()

    full = resources["integration.kubiya.full"]
    assert full.body == {
        "type": "postgres",
        "description": "Main database",
        "config": {
            "env_vars": {"PGHOST": "db.internal", "PGPORT": "5432"},
            "secrets": ["PG_PASSWORD"],
            "files": [
                {
                    "path": "/etc/pg.conf",
                    "content": "max_connections = 10",
                    "secret_ref": None,
                    "mode": "0644",
                    "description": None,
                },
                {
                    "path": "/etc/ca.pem",
                    "content": None,
                    "secret_ref": "CA_PEM",
                    "mode": "0600",
                    "description": "CA",
                },
            ],
            "context_prompt": "Use read replicas.",
            "connection_test": {"enabled": True, "command": "pg_isready", "timeout": 5},
        },
        "tags": ["alpha", "zeta"],
        "status": "active",
    }
    assert full.lifecycle == Lifecycle(prevent_destroy=True, ignore_changes=("description",))
    assert full.location is not None
    assert full.location.line == 9
    assert full.location.column == 5


def test_integration_config_may_be_partial_or_null_test(write: WriteFile) -> None:
    resources = _load(
        write,
        """\
integrations:
  - name: only-env
    server: kubiya
    type: http
    config:
      env_vars: {A: b}
      connection_test: null
""",
    )
    body = resources["integration.kubiya.only-env"].body
    assert body["config"] == {"env_vars": {"A": "b"}, "connection_test": None}


def test_provider_and_model_bodies(write: WriteFile) -> None:
    resources = _load(
        write,
        """\
providers:
  - name: openai-marketing
    server: orkes
    type: openai
    configuration: {api_key: "${env:OPENAI_API_KEY}", endpoint: "https://api.openai.com/v1"}
    tags: {team: marketing, cost-center: "42"}
    apis:
      - name: gpt-4o
        description: Chat
      - name: gpt-4o-mini
        enabled: false
        configuration: {maxTokens: 4096}
        lifecycle: {ignore_changes: [configuration]}
  - name: events
    server: orkes
    type: kafka
    category: MESSAGE_BROKER
    description: Events
    enabled: false
    configuration: {endpoint: "k:9092", connectionType: PLAINTEXT, protocol: kafka, groupId: "7"}
    tags:
      - {key: b, value: "2"}
      - {key: a, value: "1"}
""",
        environ={"OPENAI_API_KEY": "sk-test-value"},
    )
    openai = resources["provider.orkes.openai-marketing"]
    assert openai.address == Address(ResourceKind.PROVIDER, "orkes", (), "openai-marketing")
    assert openai.body == {
        "type": "openai",
        "category": "AI_MODEL",
        "description": "",
        "enabled": True,
        "configuration": {
            "api_key": Sensitive("sk-test-value"),
            "endpoint": "https://api.openai.com/v1",
        },
        "tags": [{"key": "cost-center", "value": "42"}, {"key": "team", "value": "marketing"}],
    }
    assert isinstance(openai.body["configuration"]["api_key"], Sensitive)
    assert openai.body["configuration"]["api_key"].source == "env:OPENAI_API_KEY"
    assert openai.write_only == ("configuration.api_key",)

    events = resources["provider.orkes.events"]
    assert events.body == {
        "type": "kafka",
        "category": "MESSAGE_BROKER",
        "description": "Events",
        "enabled": False,
        # Strings stay strings: "7" is not turned into 7.
        "configuration": {
            "endpoint": "k:9092",
            "connectionType": "PLAINTEXT",
            "protocol": "kafka",
            "groupId": "7",
        },
        "tags": [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}],
    }
    assert events.write_only == ()

    chat = resources["model.orkes.openai-marketing.gpt-4o"]
    assert chat.address == Address(ResourceKind.MODEL, "orkes", ("openai-marketing",), "gpt-4o")
    assert chat.address.parent == openai.address
    assert chat.body == {"description": "Chat", "enabled": True, "configuration": {}}
    assert chat.location is not None
    assert (chat.location.line, chat.location.column) == (12, 9)

    mini = resources["model.orkes.openai-marketing.gpt-4o-mini"]
    assert mini.body == {"description": "", "enabled": False, "configuration": {"maxTokens": 4096}}
    assert mini.lifecycle.ignore_changes == ("configuration",)


def test_channel_bodies_per_family(write: WriteFile) -> None:
    resources = _load(
        write,
        """\
channels:
  - server: console
    agent: agt_demo
    family: mcp_server
    name: docs
    server_url: https://mcp.example.com
  - server: console
    agent: agt_demo
    family: mcp_server
    name: docs-auth
    server_url: https://mcp.example.com
    transport: http_sse
    auth_type: bearer
    auth_config: {token: "${env:DOCS_TOKEN}"}
  - server: console
    agent: agt_demo
    family: custom_api
    name: status
    base_url: https://status.example.com
    test_endpoint: /health
  - server: console
    agent: agt_demo
    family: bimpeai
    name: payments
    type: paystack
    public_key: pk_test
    secret_key: ${env:PAYSTACK_SECRET}
    currency: NGN
""",
        environ={"DOCS_TOKEN": "tok", "PAYSTACK_SECRET": "sk"},
    )
    docs = resources["channel.console.agt_demo.mcp_server.docs"]
    assert docs.address == Address(ResourceKind.CHANNEL, "console", ("agt_demo", "mcp_server"), "docs")
    assert docs.body == {
        "server_url": "https://mcp.example.com",
        "transport": "streamable_http",
        "auth_type": "none",
    }
    assert docs.write_only == ()
    assert docs.type is None

    auth = resources["channel.console.agt_demo.mcp_server.docs-auth"]
    assert auth.body == {
        "server_url": "https://mcp.example.com",
        "transport": "http_sse",
        "auth_type": "bearer",
        "auth_config": {"token": Sensitive("tok")},
    }
    assert auth.write_only == ("auth_config",)

    status = resources["channel.console.agt_demo.custom_api.status"]
    assert status.body == {
        "base_url": "https://status.example.com",
        "auth_type": "none",
        "test_endpoint": "/health",
    }
    assert status.write_only == ("test_endpoint",)

    payments = resources["channel.console.agt_demo.bimpeai.payments"]
    assert payments.body == {
        "type": "paystack",
        "public_key": "pk_test",
        "secret_key": Sensitive("sk"),
        "currency": "NGN",
    }
    assert payments.write_only == ("public_key", "secret_key", "currency")
    assert payments.type == "paystack"


def test_server_configs(write: WriteFile) -> None:
    path = write(
        "servers.yaml",
        """\
        servers:
          kubiya:
            kind: kubiya
            url: https://api.kubiya.ai
            token: ${env:KUBIYA_TOKEN}
            parallelism: 4
            rate_limit: 2.5
            timeout: 10
            prune: true
          orkes:
            kind: conductor
            url: "sandbox:/tmp/orkes.db"
            key_id: ${env:KEY_ID}
            key_secret: ${file:secret.txt}
            batch_size: 100
            fingerprint_key: ${env:FP}
          console: {kind: console, url: "sandbox:"}
        """,
    )
    write("secret.txt", "the-secret\n")
    state = load([path], environ={"KUBIYA_TOKEN": "t", "KEY_ID": "i", "FP": "f"})
    kubiya = state.servers["kubiya"]
    assert kubiya.kind is ServerKind.KUBIYA
    assert kubiya.url == "https://api.kubiya.ai"
    assert dict(kubiya.credentials) == {"token": Sensitive("t")}
    assert (kubiya.parallelism, kubiya.rate_limit, kubiya.timeout, kubiya.prune) == (4, 2.5, 10.0, True)
    defaults = ServerConfig("d", ServerKind.KUBIYA, "sandbox:")
    assert kubiya.batch_size == defaults.batch_size
    assert kubiya.fingerprint_key is None
    assert kubiya.location == Location(str(path), 2, 3)
    assert not kubiya.is_sandbox

    orkes = state.servers["orkes"]
    assert orkes.credentials["key_secret"].reveal() == "the-secret"
    assert orkes.credentials["key_secret"].source == "file:secret.txt"
    assert orkes.batch_size == 100
    assert orkes.fingerprint_key == Sensitive("f")
    assert orkes.is_sandbox

    console = state.servers["console"]
    assert dict(console.credentials) == {}
    assert console.is_sandbox
    assert (console.parallelism, console.rate_limit, console.timeout, console.prune) == (
        defaults.parallelism,
        defaults.rate_limit,
        defaults.timeout,
        defaults.prune,
    )


def test_resource_order_and_files(write: WriteFile) -> None:
    first = write("a.yaml", SERVERS + "integrations: [{name: one, server: kubiya, type: x}]\n")
    second = write(
        "b.yaml",
        """\
        channels:
          - {server: console, agent: agt_demo, family: custom_api, name: c}
        providers:
          - {name: p, server: orkes, type: ollama, configuration: {endpoint: "x"}, apis: [{name: m}]}
        integrations:
          - {name: two, server: kubiya, type: x}
        """,
    )
    state = load([first, second], environ={})
    assert [str(r.address) for r in state.resources] == [
        "integration.kubiya.one",
        "integration.kubiya.two",
        "provider.orkes.p",
        "model.orkes.p.m",
        "channel.console.agt_demo.custom_api.c",
    ]
    assert state.files == (str(first), str(second))
    assert state.resources[1].location == Location(str(second), 6, 5)


def test_merge_keys_and_anchors_build_the_same_bodies(write: WriteFile) -> None:
    resources = _load(
        write,
        """\
x-defaults: &pg
  server: kubiya
  type: postgres
  config: {env_vars: {PGPORT: "5432"}}
integrations:
  - <<: *pg
    name: one
  - <<: *pg
    name: two
    type: mysql
""",
    )
    assert resources["integration.kubiya.one"].body["type"] == "postgres"
    assert resources["integration.kubiya.two"].body["type"] == "mysql"
    assert resources["integration.kubiya.two"].body["config"] == {"env_vars": {"PGPORT": "5432"}}
