"""The planner on hand-built desired and live values: actions, reasons, rules and order."""

from __future__ import annotations

import pytest

from reconciler.errors import DiagnosticsError, Location
from reconciler.model import Address, Lifecycle, LiveResource, Resource, ResourceKind, Sensitive
from reconciler.plan import ORDER, Action, Reason
from reconciler.planner import PlanOptions, make_plan
from reconciler.targeting import matches


def integ(name: str, **body: object) -> Resource:
    base: dict[str, object] = {"type": "postgres", "description": "", "config": {"env_vars": {}}, "tags": []}
    base.update(body)
    return Resource(Address(ResourceKind.INTEGRATION, "k", (), name), base, Location("f.yaml", 3, 5))


def live_integ(name: str, managed: bool = True, deleted: bool = False, **body: object) -> LiveResource:
    base: dict[str, object] = {"type": "postgres", "description": "", "config": {"env_vars": {}}, "tags": []}
    base.update(body)
    return LiveResource(
        Address(ResourceKind.INTEGRATION, "k", (), name), f"id-{name}", base, managed, deleted, None, "v1"
    )


def test_create_update_noop() -> None:
    plan = make_plan(
        [integ("a"), integ("b", description="new"), integ("c")],
        [live_integ("b", description="old"), live_integ("c")],
    )
    by = {c.address.name: c for c in plan.changes}
    assert by["a"].action is Action.CREATE
    assert by["a"].reason is Reason.NEW
    assert by["b"].action is Action.UPDATE
    assert [(f.path, f.before, f.after) for f in by["b"].fields] == [("description", "old", "new")]
    assert by["b"].live_version == "v1"
    assert by["b"].live_id == "id-b"
    assert by["c"].action is Action.NOOP
    assert plan.summary().to_dict() == {"add": 1, "change": 1, "replace": 0, "destroy": 0}


def test_type_change_is_an_error_naming_location_and_both_types() -> None:
    with pytest.raises(DiagnosticsError) as info:
        make_plan([integ("a", type="mysql")], [live_integ("a")])
    text = str(info.value)
    assert "f.yaml:3:5" in text
    assert "'postgres'" in text
    assert "'mysql'" in text
    assert "replace_on_type_change" in text


def test_type_change_with_replacement_allowed() -> None:
    res = integ("a", type="mysql")
    res = Resource(res.address, res.body, res.location, Lifecycle(replace_on_type_change=True))
    plan = make_plan([res], [live_integ("a")])
    (change,) = plan.changes
    assert change.action is Action.REPLACE
    assert change.reason is Reason.TYPE_CHANGED


def test_prevent_destroy_blocks_replacement() -> None:
    res = integ("a", type="mysql")
    res = Resource(res.address, res.body, res.location, Lifecycle(prevent_destroy=True, replace_on_type_change=True))
    with pytest.raises(DiagnosticsError, match="prevent_destroy"):
        make_plan([res], [live_integ("a")])


def test_soft_deleted_name_is_revived_not_created() -> None:
    plan = make_plan([integ("a")], [live_integ("a", deleted=True)])
    (change,) = plan.changes
    assert change.action is Action.CREATE
    assert change.reason is Reason.REVIVE
    assert change.live_id == "id-a"


def test_duplicate_desired_names_are_an_error() -> None:
    with pytest.raises(DiagnosticsError, match="declared twice"):
        make_plan([integ("a"), integ("a")], [])


def test_deletes_only_managed_and_only_with_prune() -> None:
    live = [live_integ("mine"), live_integ("theirs", managed=False)]
    plan = make_plan([], live)
    assert plan.actionable == ()
    assert [str(a) for a in plan.orphaned] == ["integration.k.mine"]
    assert [str(a) for a in plan.unmanaged] == ["integration.k.theirs"]
    pruned = make_plan([], live, PlanOptions(prune_servers=frozenset({"k"})))
    assert [(str(c.address), c.action) for c in pruned.actionable] == [("integration.k.mine", Action.DELETE)]
    with pytest.raises(DiagnosticsError, match="max-deletes"):
        make_plan([], live, PlanOptions(prune_servers=frozenset({"k"}), max_deletes=0))


def test_ignore_changes() -> None:
    res = integ("a", description="mine", config={"env_vars": {"A": "1", "B": "2"}})
    res = Resource(res.address, res.body, res.location, Lifecycle(ignore_changes=("description", "config.env_vars.B")))
    plan = make_plan([res], [live_integ("a", description="theirs", config={"env_vars": {"A": "1", "B": "9"}})])
    assert plan.changes[0].action is Action.NOOP


def provider(name: str, fp: str | None, **body: object) -> Resource:
    b: dict[str, object] = {"type": "openai", "category": "AI_MODEL", "configuration": {"api_key": Sensitive("sk-secret-123")}, "tags": []}
    b.update(body)
    return Resource(Address(ResourceKind.PROVIDER, "o", (), name), b, None, Lifecycle(), ("configuration.api_key",), fp)


def live_provider(name: str, fp: str | None) -> LiveResource:
    b = {"type": "openai", "category": "AI_MODEL", "configuration": {"api_key": "********"}, "tags": []}
    return LiveResource(
        Address(ResourceKind.PROVIDER, "o", (), name), name, b, True, False, fp, "1", applied_keys=("api_key",)
    )


def test_write_only_values_compare_by_fingerprint_and_never_show() -> None:
    same = make_plan([provider("p", "fp1")], [live_provider("p", "fp1")])
    assert same.changes[0].action is Action.NOOP
    rotated = make_plan([provider("p", "fp2")], [live_provider("p", "fp1")])
    (change,) = rotated.changes
    assert change.action is Action.UPDATE
    assert change.reason is Reason.WRITE_ONLY_CHANGED
    assert [(f.path, f.sensitive) for f in change.fields] == [("configuration.api_key", True)]
    unknown = make_plan([provider("p", "fp2")], [live_provider("p", None)])
    assert unknown.changes[0].action is Action.NOOP
    assert [d.code for d in unknown.diagnostics] == ["plan.write-only-unverified"]
    for plan in (rotated, unknown):
        assert "sk-secret-123" not in repr(plan.to_dict())


def model(provider_name: str, name: str) -> Resource:
    return Resource(
        Address(ResourceKind.MODEL, "o", (provider_name,), name),
        {"description": "", "enabled": True, "configuration": {}},
    )


def test_order_providers_before_models_and_deletes_first_bottom_up() -> None:
    live = [
        live_provider("old", None),
        LiveResource(Address(ResourceKind.MODEL, "o", ("keep",), "m-old"), "m-old", {}, True),
        live_provider("keep", "fp"),
    ]
    plan = make_plan(
        [provider("new", "x"), model("new", "m1"), provider("keep", "fp"), model("keep", "m2")],
        live,
        PlanOptions(prune_servers=frozenset({"o"})),
    )
    order = [(c.action.value, str(c.address)) for c in plan.actionable]
    assert order == [
        ("delete", "model.o.keep.m-old"),
        ("delete", "provider.o.old"),
        ("create", "provider.o.new"),
        ("create", "model.o.keep.m2"),
        ("create", "model.o.new.m1"),
    ]
    m1 = next(c for c in plan.changes if c.address.name == "m1")
    assert [str(a) for a in m1.depends_on] == ["provider.o.new"]


def test_order_table_puts_every_delete_before_every_save() -> None:
    deletes = [v for (a, _), v in ORDER.items() if a is Action.DELETE]
    saves = [v for (a, _), v in ORDER.items() if a is not Action.DELETE]
    assert max(deletes) < min(saves)
    assert ORDER[(Action.DELETE, ResourceKind.MODEL)] < ORDER[(Action.DELETE, ResourceKind.PROVIDER)]
    assert ORDER[(Action.CREATE, ResourceKind.PROVIDER)] < ORDER[(Action.CREATE, ResourceKind.MODEL)]


def test_models_of_a_replaced_provider_are_shown_as_replaced_because_of_it() -> None:
    p = provider("p", "fp", type="cohere")
    p = Resource(p.address, p.body, None, Lifecycle(replace_on_type_change=True), p.write_only, p.fingerprint)
    live = [
        live_provider("p", "fp"),
        LiveResource(
            Address(ResourceKind.MODEL, "o", ("p",), "m"),
            "m",
            {"description": "", "enabled": True, "configuration": {}},
            True,
        ),
    ]
    plan = make_plan([p, model("p", "m")], live)
    actions = {str(c.address): (c.action, c.reason) for c in plan.changes}
    assert actions == {
        "provider.o.p": (Action.REPLACE, Reason.TYPE_CHANGED),
        "model.o.p.m": (Action.REPLACE, Reason.PARENT_REPLACED),
    }


def channel(name: str, **body: object) -> Resource:
    return Resource(Address(ResourceKind.CHANNEL, "c", ("agt", "mcp_server"), name), {"server_url": "u", **body})


def live_channel(name: str, cid: str, **body: object) -> LiveResource:
    return LiveResource(
        Address(ResourceKind.CHANNEL, "c", ("agt", "mcp_server"), name), cid, {"server_url": "u", **body}
    )


def test_changed_channel_is_replaced_and_duplicates_removed() -> None:
    live = [live_channel("a", "1"), live_channel("b", "2"), live_channel("b", "3")]
    desired = [channel("a", server_url="v"), channel("b")]
    # One channel per declared name: the extra one (the later listed) goes, pruning or not.
    for options in (PlanOptions(), PlanOptions(prune_servers=frozenset({"c"}))):
        plan = make_plan(desired, live, options)
        got = sorted((str(c.address), c.action.value, c.reason.value, c.live_id) for c in plan.actionable)
        assert got == [
            ("channel.c.agt.mcp_server.a", "replace", "no_update_api", "1"),
            ("channel.c.agt.mcp_server.b", "delete", "duplicate", "3"),
        ]
        assert plan.unmanaged == ()


def test_targets_and_excludes() -> None:
    desired = [integ("a"), integ("b"), provider("p", "x"), model("p", "m")]
    only_p = make_plan(desired, [], PlanOptions(targets=("provider.o.p",)))
    assert sorted(str(c.address) for c in only_p.changes) == ["model.o.p.m", "provider.o.p"]
    no_b = make_plan(desired, [], PlanOptions(excludes=("integration.k.b",)))
    assert "integration.k.b" not in {str(c.address) for c in no_b.changes}
    assert matches(Address(ResourceKind.MODEL, "o", ("p",), "m"), "provider.o")
    assert not matches(Address(ResourceKind.MODEL, "o", ("p",), "m"), "provider.o.q")


def test_targets_must_match_and_be_well_formed() -> None:
    desired = [integ("a")]
    with pytest.raises(DiagnosticsError, match="matches no resource"):
        make_plan(desired, [], PlanOptions(targets=("integration.k.nope",)))
    with pytest.raises(DiagnosticsError, match="is not an address"):
        make_plan(desired, [], PlanOptions(targets=('integration."unterminated',)))
    with pytest.raises(DiagnosticsError, match="is not an address"):
        make_plan(desired, [], PlanOptions(replace=("bogus",)))


def test_a_targeted_model_brings_its_new_provider() -> None:
    plan = make_plan([provider("p", "x"), model("p", "m"), integ("other")], [], PlanOptions(targets=("model.o.p.m",)))
    assert sorted(str(c.address) for c in plan.changes) == ["model.o.p.m", "provider.o.p"]


def test_address_round_trip_with_quoted_segments() -> None:
    a = Address(ResourceKind.CHANNEL, "c", ("agt", "mcp_server"), 'Docs "search".v2')
    assert str(a) == 'channel.c.agt.mcp_server."Docs \\"search\\".v2"'
    assert Address.parse(str(a)) == a
    with pytest.raises(ValueError, match="unknown resource kind"):
        Address.parse("widget.x.y")
