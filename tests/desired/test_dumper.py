"""The YAML writer of export: plain data in, readable YAML out, read back the same."""

from __future__ import annotations

from reconciler.desired.dumper import dump
from reconciler.desired.safeyaml import parse


def test_keys_keep_the_order_given() -> None:
    assert dump({"name": "a", "server": "k", "config": {"z": 1, "a": 2}}) == (
        "name: a\nserver: k\nconfig:\n  z: 1\n  a: 2\n"
    )


def test_multi_line_strings_are_literal_blocks() -> None:
    text = dump({"content": "line one\nline two\n"})
    assert text == "content: |\n  line one\n  line two\n"


def test_non_ascii_text_is_written_as_it_is() -> None:
    assert dump({"description": "café ☕"}) == "description: café ☕\n"


def test_what_is_written_reads_back_the_same() -> None:
    document = {"a": "0600", "b": 600, "c": "yes", "d": None, "e": ["x", {"f": "multi\nline"}], "g": True}
    parsed = parse(dump(document), "f.yaml")
    assert parsed.ok
    assert parsed.value == document
