"""Plans and apply results built by hand for the view tests, covering every action, reason and
resource kind, sensitive fields, fields added and removed by an update, lists of records,
unmanaged and orphaned addresses, and diagnostics."""

from __future__ import annotations

from reconciler.errors import Location, warning
from reconciler.model import Address, Resource, ResourceKind, Sensitive
from reconciler.outcomes import ApplyResult, Done, Failed, Skipped
from reconciler.plan import Action, Change, FieldChange, Plan, Reason, order_key

SECRET = "hunter2-secret"

POSTGRES = Address(ResourceKind.INTEGRATION, "kubiya", (), "postgres-main")
LEGACY = Address(ResourceKind.INTEGRATION, "kubiya", (), "legacy-api")
REDIS = Address(ResourceKind.INTEGRATION, "kubiya", (), "redis")
SCRIPTS = Address(ResourceKind.INTEGRATION, "kubiya", (), "scripts")
STABLE = Address(ResourceKind.INTEGRATION, "kubiya", (), "stable")
OPENAI = Address(ResourceKind.PROVIDER, "orkes", (), "openai")
ANTHROPIC = Address(ResourceKind.PROVIDER, "orkes", (), "anthropic")
VECTORS = Address(ResourceKind.PROVIDER, "orkes", (), "vectors")
OLD_PROVIDER = Address(ResourceKind.PROVIDER, "orkes", (), "old-provider")
GPT4O = Address(ResourceKind.MODEL, "orkes", ("openai",), "gpt-4o")
DOCS = Address(ResourceKind.CHANNEL, "console", ("agt_demo", "mcp_server"), "Docs search")
DUP_HOOK = Address(ResourceKind.CHANNEL, "console", ("agt_demo", "custom_api"), "dup-hook")
HAND_MADE = Address(ResourceKind.INTEGRATION, "kubiya", (), "hand-made")
TRICKY = Address(ResourceKind.CHANNEL, "console", ("agt_demo", "custom_api"), "a|b <c> `d`")
FORGOTTEN = Address(ResourceKind.PROVIDER, "orkes", (), "forgotten")
ADOPTED = Address(ResourceKind.INTEGRATION, "kubiya", (), "adopted")
MOVED = Address(ResourceKind.PROVIDER, "orkes", (), "moved")
TEAM_B = Address(ResourceKind.INTEGRATION, "kubiya", (), "team-b-db")

LONG_DESCRIPTION = "Runs the nightly maintenance scripts. " * 8  # 304 characters

SCRIPT_BEFORE = "#!/bin/sh\nset -e\nvacuumdb --all\nreindexdb --all\necho done\n"
SCRIPT_AFTER = "#!/bin/sh\nset -eu\nvacuumdb --all --analyze\nreindexdb --all\necho done\n"


def _desired(address: Address, **body: object) -> Resource:
    return Resource(address, body, location=Location("integrations.yaml", 3, 5))


def representative_plan(ownership: bool = True) -> Plan:
    """One change per (action, reason) the planner makes, across all four kinds. Without
    `ownership`, the adoption and change-of-owner updates are left out (the apply results
    are built on that smaller plan)."""
    changes = [
        Change(DUP_HOOK, Action.DELETE, Reason.DUPLICATE, live_id="ch_9", live_version="v3", live_type="custom_api"),
        Change(OLD_PROVIDER, Action.DELETE, Reason.PRUNE, live_id="old-provider", live_version="7", live_type="openai"),
        Change(
            POSTGRES,
            Action.CREATE,
            Reason.NEW,
            (
                FieldChange("config", None, {"env_vars": {"PGHOST": "db.internal", "PGPASSWORD": "(sensitive)"}}, True),
                FieldChange("description", None, "Main Postgres"),
                FieldChange("tags", None, ["db", "prod"]),
                FieldChange("type", None, "postgres"),
            ),
            desired=_desired(
                POSTGRES,
                type="postgres",
                description="Main Postgres",
                config={"env_vars": {"PGHOST": "db.internal", "PGPASSWORD": Sensitive(SECRET, "env:PGPASSWORD")}},
                tags=["db", "prod"],
            ),
            location=Location("integrations.yaml", 3, 5),
            digest="a1b2c3d4e5f6a1b2c3d4e5f6",
        ),
        Change(
            LEGACY,
            Action.CREATE,
            Reason.REVIVE,
            (FieldChange("type", None, "http"),),
            live_id="5f0c1d2e-0000-4000-8000-000000000001",
            live_version="2024-05-01T00:00:00Z",
            live_type="http",
            desired=_desired(LEGACY, type="http"),
            digest="0011223344556677889900aa",
        ),
        Change(
            REDIS,
            Action.UPDATE,
            Reason.WRITE_ONLY_CHANGED,
            (FieldChange("config.env_vars.REDIS_PASSWORD", "(sensitive)", "(sensitive)", True),),
            live_id="5f0c1d2e-0000-4000-8000-000000000002",
            live_version="2024-05-02T00:00:00Z",
            live_type="redis",
            desired=_desired(REDIS, type="redis", config={"env_vars": {"REDIS_PASSWORD": Sensitive(SECRET)}}),
            digest="ffeeddccbbaa998877665544",
        ),
        Change(
            SCRIPTS,
            Action.UPDATE,
            Reason.CHANGED,
            (
                FieldChange("config.files[0].content", SCRIPT_BEFORE, SCRIPT_AFTER),
                FieldChange("description", "Maintenance", LONG_DESCRIPTION),
            ),
            live_id="5f0c1d2e-0000-4000-8000-000000000003",
            live_version="2024-05-03T00:00:00Z",
            live_type="shell",
            digest="123412341234123412341234",
        ),
        Change(
            OPENAI,
            Action.UPDATE,
            Reason.CHANGED,
            (
                FieldChange("configuration.endpoint", "https://api.openai.com/v1", "https://proxy.internal/v1"),
                FieldChange("description", "OpenAI", "OpenAI (proxied)"),
                FieldChange("enabled", False, True),
            ),
            live_id="openai",
            live_version="12",
            live_type="openai",
            digest="abcdefabcdefabcdefabcdef",
        ),
        Change(
            ANTHROPIC,
            Action.UPDATE,
            Reason.CHANGED,
            (
                FieldChange("configuration.api_key", "(sensitive)", "(sensitive)", True),
                # A field set by hand on the server that the file does not hold: removed.
                FieldChange("configuration.base_url", "https://gateway.internal/anthropic", None),
                FieldChange("configuration.max_retries", "3", 5),
                # A field the file adds.
                FieldChange("configuration.timeout", None, 30),
                # A list of records: one record changed, one added, one kept.
                FieldChange(
                    "tags",
                    [{"key": "team", "value": "ml"}, {"key": "env", "value": "prod"}],
                    [
                        {"key": "team", "value": "ml-platform"},
                        {"key": "env", "value": "prod"},
                        {"key": "cost", "value": "42"},
                    ],
                ),
            ),
            live_id="anthropic",
            live_version="4",
            live_type="anthropic",
            desired=_desired(ANTHROPIC, type="anthropic", configuration={"api_key": Sensitive(SECRET)}),
            digest="999999999999999999999999",
        ),
        Change(
            VECTORS,
            Action.REPLACE,
            Reason.TYPE_CHANGED,
            (FieldChange("type", "pinecone", "weaviate", forces_replacement=True),),
            live_id="vectors",
            live_version="2",
            live_type="pinecone",
            digest="777777777777777777777777",
        ),
        Change(
            DOCS,
            Action.REPLACE,
            Reason.NO_UPDATE_API,
            (FieldChange("url", "https://docs.example/mcp", "https://docs.example/mcp/v2"),),
            live_id="ch_1",
            live_version="v1",
            live_type="mcp_server",
            digest="555555555555555555555555",
        ),
        Change(
            GPT4O,
            Action.CREATE,
            Reason.NEW,
            (FieldChange("description", None, "GPT-4o"), FieldChange("max_tokens", None, 4096)),
            depends_on=(OPENAI,),
            location=Location("conductor.yaml", 20, 7),
            digest="444444444444444444444444",
        ),
        Change(STABLE, Action.NOOP, Reason.UNCHANGED, live_id="5f0c1d2e-0000-4000-8000-000000000004"),
        Change(
            ADOPTED,
            Action.UPDATE,
            Reason.ADOPT,
            live_id="5f0c1d2e-0000-4000-8000-000000000005",
            live_version="2024-05-01T10:00:00Z",
            live_type="http",
            digest="333333333333333333333333",
        ),
        Change(
            MOVED,
            Action.UPDATE,
            Reason.TAKE_OWNERSHIP,
            live_id="moved",
            live_version="9",
            live_type="openai",
            digest="222222222222222222222222",
        ),
    ]
    if not ownership:
        changes = [c for c in changes if c.reason not in (Reason.ADOPT, Reason.TAKE_OWNERSHIP)]
    return Plan(
        changes=tuple(sorted(changes, key=order_key)),
        unmanaged=(HAND_MADE, TRICKY),
        orphaned=(FORGOTTEN,),
        owned_elsewhere=((TEAM_B, "team-b"),),
        diagnostics=(
            warning(
                "plan.write-only-unverified",
                "provider.orkes.gemini: write-only values (configuration.api_key) cannot be compared: "
                "the server holds no fingerprint of them yet",
                location=Location("conductor.yaml", 9, 3),
                address="provider.orkes.gemini",
                hint="they are written, and fingerprinted, with the next update of this resource",
            ),
        ),
        sources={
            "paths": ["integrations.yaml", "conductor.yaml"],
            "variables": {"env": "5d41402abc4b2a76b9719d911017c592"},
            "variables_salt": "00112233aabbccdd",
            "var_files": [],
        },
        servers=("console", "kubiya", "orkes"),
    )


AZURE = Address(ResourceKind.PROVIDER, "orkes", (), "llm")
AZURE_CHAT = Address(ResourceKind.MODEL, "orkes", ("llm",), "chat")
AZURE_OLD = Address(ResourceKind.MODEL, "orkes", ("llm",), "old-model")
HOOK = Address(ResourceKind.CHANNEL, "console", ("agt_demo", "custom_api"), "hook")
APP = Address(ResourceKind.INTEGRATION, "kubiya", (), "app")


def replacement_plan() -> Plan:
    """What a replacement shows: every differing field with the forcing one marked, the models
    replaced and destroyed with their provider, a requested replacement, and a create and an
    update holding a secret-named key and vault secret names."""
    changes = [
        Change(
            AZURE,
            Action.REPLACE,
            Reason.TYPE_CHANGED,
            (
                FieldChange("configuration.api_key", "(sensitive)", "(sensitive)", True),
                FieldChange("configuration.endpoint", "https://api.openai.com", "https://llm.openai.azure.com"),
                FieldChange("tags", [{"key": "team", "value": "a"}], [{"key": "team", "value": "b"}]),
                FieldChange("type", "openai", "azure_openai", forces_replacement=True),
            ),
            live_id="llm",
            live_version="3",
            live_type="openai",
            digest="aaaaaaaaaaaaaaaaaaaaaaaa",
        ),
        Change(
            AZURE_CHAT,
            Action.REPLACE,
            Reason.PARENT_REPLACED,
            (FieldChange("enabled", True, False),),
            live_id="chat",
            live_version="3",
            live_type=None,
            depends_on=(AZURE,),
            digest="bbbbbbbbbbbbbbbbbbbbbbbb",
        ),
        Change(AZURE_OLD, Action.DELETE, Reason.PARENT_REPLACED, live_id="old-model", live_version="3"),
        Change(
            HOOK,
            Action.REPLACE,
            Reason.REPLACE_REQUESTED,
            (),
            live_id="ch_7",
            live_version="v7",
            live_type="custom_api",
            digest="cccccccccccccccccccccccc",
        ),
        Change(
            APP,
            Action.CREATE,
            Reason.NEW,
            (
                FieldChange("config.env_vars.DB_PASSWORD", None, "(sensitive)", True),
                FieldChange("config.env_vars.PGHOST", None, "db.internal"),
                FieldChange("config.secrets", None, ["PG_PASSWORD"]),
                FieldChange("type", None, "postgres"),
            ),
            digest="dddddddddddddddddddddddd",
        ),
        Change(
            POSTGRES,
            Action.UPDATE,
            Reason.CHANGED,
            (
                FieldChange("config.env_vars.HAND_ADDED", "by hand", None),
                FieldChange("config.secrets", ["PG_PASSWORD"], ["PG_PASSWORD", "PG_REPLICA_PASSWORD"]),
            ),
            live_id="5f0c1d2e-0000-4000-8000-000000000001",
            live_version="2024-05-01T00:00:00Z",
            live_type="postgres",
            digest="eeeeeeeeeeeeeeeeeeeeeeee",
        ),
    ]
    return Plan(changes=tuple(sorted(changes, key=order_key)), servers=("console", "kubiya", "orkes"))


def noop_plan() -> Plan:
    return Plan(
        changes=(Change(STABLE, Action.NOOP, Reason.UNCHANGED, live_id="x"),),
        servers=("kubiya",),
    )


def big_plan(n: int = 5_000) -> Plan:
    """`n` creates of Kubiya integrations, each with a few fields."""
    changes = []
    for i in range(n):
        address = Address(ResourceKind.INTEGRATION, f"kubiya-{i % 3}", (), f"integration-{i:05d}")
        fields = (
            FieldChange("config.env_vars.HOST", None, f"host-{i}.internal"),
            FieldChange("description", None, f"Integration number {i}"),
            FieldChange("tags", None, ["generated", f"batch-{i // 100}"]),
            FieldChange("type", None, "http"),
        )
        changes.append(Change(address, Action.CREATE, Reason.NEW, fields, digest=f"{i:024d}"))
    return Plan(changes=tuple(changes), servers=("kubiya-0", "kubiya-1", "kubiya-2"))


def _done(plan: Plan) -> list[Done]:
    return [Done(c, id=c.live_id or f"id-{n}") for n, c in enumerate(plan.actionable)]


def success_result() -> ApplyResult:
    """Every change of the representative plan done; it holds replaces."""
    return ApplyResult(tuple(_done(representative_plan(ownership=False))))


def simple_success_result() -> ApplyResult:
    """A create, an update and a delete, all done: no replace."""
    plan = representative_plan(ownership=False)
    picked = [c for c in plan.actionable if c.address in (POSTGRES, OPENAI, OLD_PROVIDER)]
    return ApplyResult(
        (
            Done(picked[0]),
            Done(picked[1], id="6a7b8c9d-0000-4000-8000-00000000000a", note="created with managed-by tag"),
            Done(picked[2], id="openai"),
        )
    )


def partial_failure_result() -> ApplyResult:
    """Two failures with one message, one with no answer, a skip on a failed dependency."""
    outcomes: list[Done | Failed | Skipped] = []
    for change in representative_plan(ownership=False).actionable:
        if change.address == OPENAI or change.address == VECTORS:
            outcomes.append(Failed(change, "server error: upstream unavailable", status=503))
        elif change.address == DOCS:
            outcomes.append(Failed(change, "no answer from the server: read timed out", unknown=True))
        elif change.address == GPT4O:
            outcomes.append(Skipped(change, "depends on provider.orkes.openai, which failed"))
        else:
            outcomes.append(Done(change, id=change.live_id))
    return ApplyResult(tuple(outcomes))


def interrupted_result() -> ApplyResult:
    """Deletes done, then Ctrl-C: nothing else started."""
    outcomes: list[Done | Failed | Skipped] = []
    for change in representative_plan(ownership=False).actionable:
        if change.action is Action.DELETE:
            outcomes.append(Done(change))
        else:
            outcomes.append(Skipped(change, "not started: the apply was interrupted"))
    return ApplyResult(tuple(outcomes), interrupted=True)
