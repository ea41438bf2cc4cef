"""Checks of a server's list rows, for the adapters' `from_wire()` boundaries.

Each raises `WireShapeError` naming what was expected, so that `Platform.read_live` can turn
a wrong answer (valid JSON, wrong rows) into a clear error while an adapter's own bug still
surfaces as itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.errors import WireShapeError


def record(value: Any, what: str) -> Mapping[str, Any]:
    """An object (`what` names it in the error: `an integration`)."""
    if not isinstance(value, dict):
        raise WireShapeError(f"{what} is {type(value).__name__}, not an object")
    return value


def optional_record(row: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """An object field that may be missing, null or empty (then empty)."""
    value = row.get(key)
    if not value:
        return {}
    return record(value, f"`{key}`")


def text(row: Mapping[str, Any], key: str) -> str:
    """A required string field."""
    if key not in row:
        raise WireShapeError(f"a row has no `{key}`")
    value = row[key]
    if not isinstance(value, str):
        raise WireShapeError(f"`{key}` is {type(value).__name__}, not a string")
    return value


def items(row: Mapping[str, Any], key: str) -> list[Any]:
    """A list field that may be missing, null or empty (then empty)."""
    value = row.get(key)
    if not value:
        return []
    if not isinstance(value, list):
        raise WireShapeError(f"`{key}` is {type(value).__name__}, not a list")
    return value


def records(row: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    """A list of objects that may be missing or null (then empty)."""
    return [record(v, f"an item of `{key}`") for v in items(row, key)]


def strings(row: Mapping[str, Any], key: str) -> list[str]:
    """A list of strings that may be missing or null (then empty)."""
    out = items(row, key)
    for v in out:
        if not isinstance(v, str):
            raise WireShapeError(f"an item of `{key}` is {type(v).__name__}, not a string")
    return out
