"""Positions kept packed in the read document, and the document emptied once a load is done
with it: every place stays where it was written, and no value is lost on the way."""

from __future__ import annotations

from reconciler.desired import load, safeyaml
from reconciler.desired.safeyaml import YList, YMap, parse
from reconciler.errors import Location
from tests.desired.conftest import WriteFile


def _root(text: str) -> YMap:
    parsed = parse(text, "f.yaml")
    assert parsed.ok
    assert isinstance(parsed.value, YMap)
    return parsed.value


def test_every_key_of_a_large_mapping_is_located() -> None:
    root = _root("".join(f"k{i}: v{i}\n" for i in range(100)))
    assert [safeyaml.key_location("f", root, f"k{i}") for i in (99, 0, 50)] == [
        Location("f", 100, 1),
        Location("f", 1, 1),
        Location("f", 51, 1),
    ]
    assert safeyaml.value_location("f", root, "k7") == Location("f", 8, 5)


def test_a_duplicate_key_keeps_its_place_with_the_later_positions() -> None:
    root = _root("a: 1\nb: 2\na:\n  - x\n")
    assert list(root) == ["a", "b"]
    assert safeyaml.key_location("f", root, "a") == Location("f", 3, 1)
    assert safeyaml.key_location("f", root, "b") == Location("f", 2, 1)
    assert safeyaml.locate("f", root, ["a", 0]) == Location("f", 4, 5)


def test_a_pruned_copy_still_locates_a_key_it_dropped() -> None:
    root = _root("a: 1\nb: 2\nc: 3\n")
    copy = safeyaml.pruned(root, [("b",)])
    assert copy == {"a": 1, "c": 3}
    assert safeyaml.key_location("f", copy, "b") == Location("f", 2, 1)
    assert safeyaml.value_location("f", copy, "c") == Location("f", 3, 4)


def test_merged_keys_keep_the_positions_of_their_anchor() -> None:
    root = _root("base: &b {x: 1, y: 2}\nm:\n  y: 3\n  <<: *b\n")
    assert root["m"] == {"y": 3, "x": 1}
    assert safeyaml.value_location("f", root["m"], "x") == Location("f", 1, 14)
    assert safeyaml.value_location("f", root["m"], "y") == Location("f", 3, 6)


def test_release_empties_every_container_it_reaches() -> None:
    root = _root("a: &s {k: [1, {n: x}]}\nb: *s\nc: [y]\n")
    inner = root["a"]["k"]
    assert isinstance(inner, YList)
    safeyaml.release(root)
    assert root == {}
    assert inner == []
    assert safeyaml.key_location("f", root, "a") == Location("f", 1, 1)


def test_entries_sharing_values_through_aliases_each_keep_them(write: WriteFile) -> None:
    path = write(
        "state.yaml",
        """\
        servers:
          kubiya: {kind: kubiya, url: "sandbox:"}
        x-common: &common
          env_vars: {A: "1"}
        integrations:
          - {name: a, server: kubiya, type: http, config: *common}
          - name: b
            server: kubiya
            type: http
            config: {<<: *common, secrets: [S]}
          - {name: c, server: kubiya, type: http, config: *common}
        """,
    )
    configs = {r.address.name: r.body["config"] for r in load([path]).resources}
    assert configs == {
        "a": {"env_vars": {"A": "1"}},
        "b": {"env_vars": {"A": "1"}, "secrets": ["S"]},
        "c": {"env_vars": {"A": "1"}},
    }
