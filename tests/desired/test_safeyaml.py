"""Safe YAML loading with positions: typing, positions, merge keys and the safety bounds."""

from __future__ import annotations

import gc
import math

import pytest
import yaml

from reconciler.desired import safeyaml
from reconciler.desired.safeyaml import Limits, YList, YMap, locate, parse
from reconciler.errors import DiagnosticsError, Location


def _value(text: str) -> object:
    parsed = parse(text, "f.yaml")
    assert parsed.diagnostics == [], [str(d) for d in parsed.diagnostics]
    assert parsed.ok
    return parsed.value


def _codes(text: str, limits: Limits = safeyaml.DEFAULT_LIMITS) -> list[str]:
    return [d.code for d in parse(text, "f.yaml", limits).diagnostics]


def test_uses_libyaml_when_pyyaml_has_it() -> None:
    assert yaml.__with_libyaml__ == safeyaml.HAVE_LIBYAML


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes", "yes"),
        ("on", "on"),
        ("No", "No"),
        ("true", True),
        ("FALSE", False),
        ("0600", 600),
        ("0o17", 15),
        ("0x1f", 31),
        ("-12", -12),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        (".inf", math.inf),
        ("-.Inf", -math.inf),
        ("1:30", "1:30"),
        ("2024-01-01", "2024-01-01"),
        ("~", None),
        ("null", None),
        ("", None),
        ("'5432'", "5432"),
        ('"true"', "true"),
        ("!!str 5432", "5432"),
        ("!!int '7'", 7),
        ("!!float 3", 3.0),
        ("! 12", "12"),
        ("=", "="),
        ("<<", "<<"),
    ],
)
def test_scalars_follow_the_yaml_1_2_core_schema(text: str, expected: object) -> None:
    value = _value(f"v: {text}\n")
    assert isinstance(value, dict)
    assert value["v"] == expected
    assert type(value["v"]) is type(expected)


def test_nan() -> None:
    value = _value("v: .nan\n")
    assert isinstance(value, dict)
    assert math.isnan(value["v"])


def test_positions_of_keys_values_and_items() -> None:
    text = "top:\n  name: é€ x\n  list:\n    - a\n    - {k: v, n: 5}\n  flow: [1, 'two']\n"
    root = _value(text)
    assert isinstance(root, YMap)
    assert locate("f", root, ["top", "name"]) == Location("f", 2, 9)
    assert locate("f", root, ["top", "list"]) == Location("f", 3, 3)  # a container: its key
    assert locate("f", root, ["top", "list", 0]) == Location("f", 4, 7)
    assert locate("f", root, ["top", "list", 1]) == Location("f", 5, 7)
    assert locate("f", root, ["top", "list", 1, "n"]) == Location("f", 5, 17)
    assert locate("f", root, ["top", "flow", 1]) == Location("f", 6, 13)
    assert locate("f", root, ["top", "missing", 3]) == Location("f", 1, 1)
    assert safeyaml.key_location("f", root["top"], "flow") == Location("f", 6, 3)
    # Columns count characters, not bytes.
    nested = _value("a: {é€: [x, y]}\n")
    assert isinstance(nested, dict)
    assert locate("f", nested, ["a", "é€", 1]) == Location("f", 1, 13)


def test_raw_text_of_non_string_scalars() -> None:
    root = _value("mode: 0600\nname: x\nitems: [1.50, b]\n")
    assert isinstance(root, YMap)
    assert safeyaml.raw_text(root, "mode") == "0600"
    assert safeyaml.raw_text(root, "name") is None
    items = root["items"]
    assert isinstance(items, YList)
    assert safeyaml.raw_text(items, 0) == "1.50"


def test_duplicate_keys_report_both_places_and_keep_the_last() -> None:
    parsed = parse("a: 1\nb:\n  c: 1\n  'c': 2\na: 3\n", "f.yaml")
    assert parsed.ok
    assert parsed.value == {"a": 3, "b": {"c": 2}}
    assert [(str(d.location), d.message) for d in parsed.diagnostics] == [
        ("f.yaml:4:3", "duplicate key 'c' (first written at line 3, column 3); the later value would silently win"),
        ("f.yaml:5:1", "duplicate key 'a' (first written at line 1, column 1); the later value would silently win"),
    ]


def test_merge_keys() -> None:
    root = _value(
        "base: &b {x: 1, y: 2, z: 3}\nother: &o {z: 30, w: 40}\n"
        "m:\n  <<: [*b, *o]\n  y: 20\n"
        "n:\n  y: 5\n  <<: {y: 6, q: 7}\n"
    )
    assert isinstance(root, dict)
    assert root["m"] == {"x": 1, "y": 20, "z": 3, "w": 40}
    assert root["n"] == {"y": 5, "q": 7}  # explicit keys win wherever they are written
    assert "'<<'" not in repr(root)


def test_merge_of_a_scalar_is_an_error() -> None:
    assert _codes("a: &a 1\nb:\n  <<: *a\n") == ["yaml.bad-merge"]


def test_aliases_share_values() -> None:
    root = _value("a: &x [1, 2]\nb: *x\n")
    assert isinstance(root, dict)
    assert root["b"] == [1, 2]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("a: !!python/object/apply:os.system ['true']\n", "yaml.unsupported-tag"),
        ("a: !!python/name:os.system\n", "yaml.unsupported-tag"),
        ("a: !!set {x, y}\n", "yaml.unsupported-tag"),
        ("a: !!timestamp 2024-01-01\n", "yaml.unsupported-tag"),
        ("a: !custom x\n", "yaml.unsupported-tag"),
        ("!!python/object:os.system x: 1\n", "yaml.unsupported-tag"),
        ("a: !!int nope\n", "yaml.bad-tagged-value"),
        ("a: !!bool 1\n", "yaml.bad-tagged-value"),
        ("a: *nowhere\n", "yaml.undefined-alias"),
        ("a: &r [*r]\n", "yaml.recursive-alias"),
        ("? [complex, key]\n: 1\n", "yaml.complex-key"),
        ("a: 1\n---\nb: 2\n", "yaml.multiple-documents"),
        ("a: [1, 2\n", "yaml.syntax"),
        ("a: \x00\n", "yaml.bad-character"),
    ],
)
def test_unsafe_or_broken_documents(text: str, code: str) -> None:
    parsed = parse(text, "f.yaml")
    assert not parsed.ok
    assert [d.code for d in parsed.diagnostics] == [code]


def test_depth_is_bounded_before_the_parser_recurses() -> None:
    assert _codes("[" * 200_000) == ["yaml.too-deep"]
    assert _codes("a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 80))) == ["yaml.too-deep"]
    assert _codes("[[[1]]]", Limits(max_depth=2)) == ["yaml.too-deep"]
    assert _codes("[[1]]", Limits(max_depth=2)) == []


def test_a_refusal_inside_deep_nesting_is_the_depth_diagnostic() -> None:
    # The scanner reads flow collections ahead of the builder, so whatever it refuses there
    # (here a character that cannot start a value; newer libyaml also refuses depth itself)
    # comes before the builder sees the level past the bound: the user gets the tool's rule.
    parsed = parse("[" * 100 + "@", "f.yaml")
    assert [(d.code, d.message) for d in parsed.diagnostics] == [
        ("yaml.too-deep", "values are nested deeper than 64 levels")
    ]
    location = parsed.diagnostics[0].location
    assert location is not None
    assert (location.line, location.column) == (1, 65)


def test_a_syntax_error_in_shallow_text_stays_a_syntax_error() -> None:
    assert _codes("x: [[1]] # " + "[" * 80 + "\n@") == ["yaml.syntax"]


def test_alias_expansion_is_bounded() -> None:
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        prev = f"*a{i - 1}"
        levels.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    parsed = parse("\n".join(levels) + "\n", "f.yaml")
    assert [d.code for d in parsed.diagnostics] == ["yaml.alias-bomb"]
    # It stops at the level where the count passes the limit, long before 10^10 values.
    location = parsed.diagnostics[0].location
    assert location is not None
    assert location.line == 5


def test_alias_count_is_bounded() -> None:
    text = "a: &a 1\nb: [" + ", ".join(["*a"] * 20) + "]\n"
    assert _codes(text, Limits(max_aliases=10)) == ["yaml.too-many-aliases"]
    assert _codes(text, Limits(max_aliases=20)) == []


def test_honest_large_documents_may_use_many_merges() -> None:
    lines = ["x-d: &d {server: s, type: t, description: d, tags: [a, b]}", "items:"]
    lines += [f"  - {{<<: *d, name: n{i}}}" for i in range(30_000)]
    parsed = parse("\n".join(lines) + "\n", "f.yaml")
    assert parsed.ok, [str(d) for d in parsed.diagnostics]
    assert len(parsed.value["items"]) == 30_000


@pytest.mark.parametrize("enabled", [True, False])
def test_garbage_collector_state_is_restored(enabled: bool) -> None:
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        parse("a: [1, 2]\n", "f")
        parse("a: [1, 2\n", "f")
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_decode() -> None:
    assert safeyaml.decode("\ufeffa: é".encode(), "f") == "a: é"
    with pytest.raises(DiagnosticsError) as raised:
        safeyaml.decode(b"a: 1\nb: \xc3\x28\n", "f")
    [d] = raised.value.diagnostics
    assert d.code == "file.encoding"
    assert d.location == Location("f", 2, 4)


def test_empty_document() -> None:
    parsed = parse("# only a comment\n", "f")
    assert parsed.ok
    assert parsed.value is None
    assert parsed.diagnostics == []


def test_load_data_raises_with_positions() -> None:
    assert safeyaml.load_data("a: 1\n", "f") == {"a": 1}
    with pytest.raises(DiagnosticsError) as raised:
        safeyaml.load_data("a: 1\na: 2\n", "f")
    assert [d.code for d in raised.value.diagnostics] == ["yaml.duplicate-key"]


def test_an_alias_may_stand_for_a_key_when_it_names_a_string() -> None:
    assert _value("a: &k name\n*k : 1\n") == {"a": "name", "name": 1}
    assert _codes("a: &m {x: 1}\n*m : 1\n") == ["yaml.complex-key"]


def test_an_anchored_string_is_repeated_by_its_alias() -> None:
    assert _value("a: &x hello\nb: [*x, *x]\n") == {"a": "hello", "b": ["hello", "hello"]}


def test_a_quoted_or_tagged_merge_key_is_an_ordinary_key() -> None:
    assert _value("'<<': 1\nb: 2\n") == {"<<": 1, "b": 2}
    assert _value("!!str <<: 1\n") == {"<<": 1}


def test_merged_values_keep_their_source_text() -> None:
    root = _value("base: &b {mode: 0600}\nfile:\n  <<: *b\n  path: /a\n")
    assert isinstance(root, YMap)
    assert root["file"] == {"path": "/a", "mode": 600}
    assert safeyaml.raw_text(root["file"], "mode") == "0600"


def test_a_later_string_drops_the_source_text_of_the_value_it_replaces() -> None:
    parsed = parse("a: 0600\na: x\n", "f.yaml")
    assert parsed.value == {"a": "x"}
    assert safeyaml.raw_text(parsed.value, "a") is None


def test_brackets_inside_quoted_values_do_not_count_as_depth() -> None:
    assert _codes('a: "' + "[" * 100 + '"\nb: @\n') == ["yaml.syntax"]
    assert _codes("a: '" + "{" * 100 + "'\nb: @\n") == ["yaml.syntax"]


def test_pruned_copies_only_the_way_to_a_removed_value_and_keeps_positions() -> None:
    root = _value("a:\n  keep: 1\n  drop: 2\nb: [x, {drop: 3, keep: 4}]\nc: {k: 1}\n")
    assert isinstance(root, YMap)
    copy = safeyaml.pruned(root, [("a", "drop"), ("b", 1, "drop")])
    assert copy == {"a": {"keep": 1}, "b": ["x", {"keep": 4}], "c": {"k": 1}}
    assert copy["c"] is root["c"]  # untouched values are shared, not copied
    assert root["a"] == {"keep": 1, "drop": 2}  # the original is left as it was
    assert locate("f", copy, ["b", 1, "keep"]) == Location("f", 4, 24)


def test_byte_location_counts_columns_in_characters() -> None:
    data = "a: 1\nnamé: \x01\n".encode()
    assert safeyaml.byte_location("f", data, data.index(b"\x01")) == Location("f", 2, 7)


def test_a_tag_is_shown_as_the_user_wrote_it() -> None:
    assert safeyaml.show_tag("tag:yaml.org,2002:python/object") == "!!python/object"
    assert safeyaml.show_tag("!custom") == "!custom"
