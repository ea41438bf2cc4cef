"""Typing of scalars by the YAML 1.2 core schema, and the standard tags.

Only `true`/`false` are booleans (`yes`, `on`, `no` stay strings), `0600` is the integer 600,
dates stay strings: this is also what editors with yaml-language-server assume, so the editor
and the validator agree. Only the standard scalar tags (`!!str`, `!!int`, `!!float`, `!!bool`,
`!!null`) are applied; deciding what to do with any other tag is the builder's job.
"""

from __future__ import annotations

import math
import re
from typing import Any

TAG_PREFIX = "tag:yaml.org,2002:"
STR, INT, FLOAT, BOOL, NULL = (TAG_PREFIX + t for t in ("str", "int", "float", "bool", "null"))
MAP, SEQ = TAG_PREFIX + "map", TAG_PREFIX + "seq"
SCALAR_TAGS = frozenset({STR, INT, FLOAT, BOOL, NULL})

_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_TRUES = frozenset({"true", "True", "TRUE"})
_FALSES = frozenset({"false", "False", "FALSE"})
_DEC = re.compile(r"[-+]?[0-9]+\Z")
_OCT = re.compile(r"0o[0-7]+\Z")
_HEX = re.compile(r"0x[0-9a-fA-F]+\Z")
_FLT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")
_INF = re.compile(r"[-+]?\.(inf|Inf|INF)\Z")
_NAN = re.compile(r"\.(nan|NaN|NAN)\Z")
# A plain scalar can only be something other than a string when it starts with one of these.
SPECIAL_FIRST = frozenset("0123456789+-.~nNtTfF")


def _constant(text: str) -> Any:
    """null, true, false, or `text` itself."""
    if text in _NULLS:
        return None
    if text in _TRUES:
        return True
    if text in _FALSES:
        return False
    return text


def _number(text: str) -> Any:
    """The int or float `text` spells, or `text` itself."""
    if _DEC.match(text):
        return int(text, 10)
    if _OCT.match(text):
        return int(text[2:], 8)
    if _HEX.match(text):
        return int(text[2:], 16)
    if _FLT.match(text):
        return float(text)
    if _INF.match(text):
        return -math.inf if text[0] == "-" else math.inf
    if _NAN.match(text):
        return math.nan
    return text


def plain(text: str) -> Any:
    """Type a plain (unquoted, untagged) scalar by the YAML 1.2 core schema."""
    if not text:
        return None
    if text[0] not in SPECIAL_FIRST:
        return text
    value = _constant(text)
    return _number(text) if value is text else value


BAD = object()  # what `tagged` answers when the text does not fit the tag


def tagged(tag: str, text: str) -> Any:
    """Apply an explicit standard scalar tag; `BAD` when the text does not fit it."""
    if tag == STR:
        return text
    value = plain(text)
    if tag == INT:
        return value if type(value) is int else BAD
    if tag == FLOAT:
        if type(value) is int:
            return float(value)
        return value if type(value) is float else BAD
    if tag == BOOL:
        return value if type(value) is bool else BAD
    return None if value is None else BAD  # NULL


def show_tag(tag: str) -> str:
    """`tag:yaml.org,2002:python/object` -> `!!python/object`, as the user wrote it."""
    return "!!" + tag[len(TAG_PREFIX) :] if tag.startswith(TAG_PREFIX) else tag
