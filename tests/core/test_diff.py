"""Field-level comparison rules: secrets, numbers as strings, removals, open records, lists."""

from __future__ import annotations

from reconciler.diff import creation_fields, diff, same, shared, values_equal
from reconciler.model import Sensitive


def test_sensitive_equals_the_string_it_wraps_and_never_shows() -> None:
    assert values_equal(Sensitive("s3cret"), "s3cret")
    (change,) = diff({"config": {"token": Sensitive("new-secret")}}, {"config": {"token": "old-secret"}})
    assert (change.path, change.before, change.after, change.sensitive) == (
        "config.token",
        "(sensitive)",
        "(sensitive)",
        True,
    )


def test_numbers_equal_their_string_form_but_not_booleans() -> None:
    assert values_equal(5432, "5432")
    assert values_equal("1.5", 1.5)
    assert not values_equal(True, "true")
    assert not values_equal(1, True)


def test_a_live_key_missing_from_a_record_is_a_removal() -> None:
    (change,) = diff({"config": {"env_vars": {"A": "1"}}}, {"config": {"env_vars": {"A": "1", "EXTRA": "x"}}})
    # A hand-added key is shown, so that a reviewer sees what the write removes.
    assert (change.path, change.before, change.after, change.sensitive) == ("config.env_vars.EXTRA", "x", None, False)


def test_a_removed_value_under_a_secret_named_key_is_not_shown() -> None:
    (change,) = diff({"config": {"env_vars": {}}}, {"config": {"env_vars": {"API_TOKEN": "t0k3n"}}})
    assert (change.path, change.before, change.after, change.sensitive) == (
        "config.env_vars.API_TOKEN",
        "(sensitive)",
        None,
        True,
    )


def test_vault_secret_names_are_shown() -> None:
    (change,) = diff({"config": {"secrets": ["PG_PASSWORD", "NEW"]}}, {"config": {"secrets": ["PG_PASSWORD"]}})
    assert (change.path, change.before, change.after, change.sensitive) == (
        "config.secrets",
        ["PG_PASSWORD"],
        ["PG_PASSWORD", "NEW"],
        False,
    )


def test_a_created_value_under_a_secret_named_key_is_not_shown() -> None:
    fields = {f.path: f for f in creation_fields({"config": {"env_vars": {"DB_PASSWORD": "hunter2", "PGHOST": "h"}}})}
    assert (fields["config.env_vars.DB_PASSWORD"].after, fields["config.env_vars.DB_PASSWORD"].sensitive) == (
        "(sensitive)",
        True,
    )
    assert fields["config.env_vars.PGHOST"].after == "h"


def test_values_of_keys_named_like_secrets_are_not_shown() -> None:
    (change,) = diff({"env_vars": {"DB_PASSWORD": "new"}}, {"env_vars": {"DB_PASSWORD": "old"}})
    assert (change.before, change.after, change.sensitive) == ("(sensitive)", "(sensitive)", True)
    (plain,) = diff({"env_vars": {"PGHOST": "new"}}, {"env_vars": {"PGHOST": "old"}})
    assert (plain.before, plain.after) == ("old", "new")


def test_open_records_and_top_level_server_keys_are_left_alone() -> None:
    live = {"configuration": {"endpoint": "e", "organizationId": ""}, "createTime": 1}
    assert diff({"configuration": {"endpoint": "e"}}, live, open_paths=("configuration",)) == ()


def test_ignored_and_write_only_paths_are_skipped() -> None:
    desired = {"description": "a", "configuration": {"api_key": Sensitive("k"), "x": "1"}}
    live = {"description": "b", "configuration": {"api_key": "********", "x": "1"}}
    assert diff(desired, live, ignore=("description",), write_only=("configuration.api_key",)) == ()


def test_lists_of_records_diff_item_by_item() -> None:
    want = {"files": [{"path": "/a", "mode": "0600"}, {"path": "/b", "mode": "0644"}]}
    have = {"files": [{"path": "/a", "mode": "0644"}, {"path": "/b", "mode": "0644"}]}
    (change,) = diff(want, have)
    assert (change.path, change.before, change.after) == ("files[0].mode", "0644", "0600")


def test_a_key_a_record_no_longer_declares_is_a_removal_inside_the_item() -> None:
    want = {"files": [{"path": "/a", "mode": "0600"}, {"path": "/b"}]}
    have = {"files": [{"path": "/a", "mode": "0600"}, {"path": "/b", "mode": "0644"}]}
    (change,) = diff(want, have)
    assert (change.path, change.before, change.after) == ("files[1].mode", "0644", None)


def test_records_with_few_keys_in_common_change_as_a_whole() -> None:
    want = {"files": [{"path": "/a"}, {"path": "/b", "mode": "0600", "content": "x"}]}
    have = {"files": [{"path": "/a"}, {"name": "b", "owner": "root"}]}
    (change,) = diff(want, have)
    assert change.path == "files[1]"


def test_a_list_of_records_of_another_length_changes_as_a_whole() -> None:
    (change,) = diff({"files": [{"path": "/a"}, {"path": "/b"}]}, {"files": [{"path": "/a"}]})
    assert change.path == "files"


def test_a_secret_inside_a_record_is_compared_but_never_shown() -> None:
    want = {"files": [{"path": "/a", "content": Sensitive("new")}]}
    assert diff(want, {"files": [{"path": "/a", "content": "new"}]}) == ()
    (change,) = diff(want, {"files": [{"path": "/a", "content": "old"}]})
    assert (change.path, change.before, change.after) == ("files[0].content", "(sensitive)", "(sensitive)")


def test_a_key_of_a_record_compares_the_same_whether_or_not_a_sibling_changed() -> None:
    # Alone, `True` against `1` passes the plain equality that settles an unchanged body; next
    # to a changed key it must not turn into a change of its own.
    want = {"files": [{"path": "/a", "executable": True}]}
    assert diff(want, {"files": [{"path": "/a", "executable": 1}]}) == ()
    (change,) = diff(want, {"files": [{"path": "/b", "executable": 1}]})
    assert change.path == "files[0].path"


def test_an_ignored_key_inside_a_record_is_skipped() -> None:
    want = {"files": [{"path": "/a", "mode": "0600"}]}
    have = {"files": [{"path": "/a", "mode": "0644"}]}
    assert diff(want, have, ignore=("files[0].mode",)) == ()


def test_creation_fields_flatten_records_and_mask_secrets() -> None:
    fields = creation_fields(
        {"type": "openai", "configuration": {"api_key": Sensitive("k"), "endpoint": "e"}, "tags": []}
    )
    assert [(f.path, f.after, f.sensitive) for f in fields] == [
        ("configuration.api_key", "(sensitive)", True),
        ("configuration.endpoint", "e", False),
        ("type", "openai", False),
    ]


def test_a_boolean_against_a_number_is_a_change_in_a_whole_body() -> None:
    # Python holds 1 == True; the plan does not (see test_numbers_equal_their_string_form_but_not_booleans).
    (change,) = diff({"config": {"enabled": 1}}, {"config": {"enabled": True}})
    assert (change.path, change.before, change.after) == ("config.enabled", True, 1)


def test_same_is_equality_of_value_and_type_throughout() -> None:
    assert same({"a": [1, "x", None, {"b": 2.5}]}, {"a": [1, "x", None, {"b": 2.5}]})
    assert not same({"a": [1]}, {"a": [True]})
    assert not same({"a": 1.0}, {"a": 1})
    assert not same({"token": Sensitive("v")}, {"token": "v"})
    assert not same({"a": 1}, {"a": 1, "b": 2})


def test_a_shared_live_body_keeps_the_live_value_and_type() -> None:
    declared = {"type": "postgres", "config": {"env_vars": {"PORT": "5432"}, "enabled": 1}, "tags": ["a"]}
    live = {"type": "postgres", "config": {"env_vars": {"PORT": "5432"}, "enabled": True}, "tags": ["a"], "x": 1}
    body = shared(live, declared)
    assert same(body, live)
    assert body["tags"] is declared["tags"]
    assert body["config"] is live["config"]


def test_a_live_body_alike_in_every_field_is_the_declared_body() -> None:
    declared = {"type": "s3", "config": {"secrets": ["A"]}, "tags": []}
    live = {"type": "s3", "config": {"secrets": ["A"]}, "tags": []}
    assert shared(live, declared) is declared
    assert diff(declared, shared(live, declared)) == ()


def test_a_live_resource_with_another_body_keeps_every_other_field() -> None:
    import dataclasses

    from reconciler.model import Address, LiveResource, ResourceKind

    item = LiveResource(
        Address(ResourceKind.PROVIDER, "o", (), "p"), "p", {"a": 1}, True, True, "fp", "v7", "team", ("k",)
    )
    moved = item.with_body({"b": 2})
    assert dataclasses.replace(moved, body=item.body) == item
