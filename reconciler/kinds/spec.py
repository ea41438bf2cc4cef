"""`KindSpec`: what one resource kind (or channel family) is made of, and the one write-back of
`ignore_changes`.

A spec is data plus one pure function, `canonical(body)`: the body in the exact shape the
adapter's read produces, defaults filled in. It is idempotent (`canonical(canonical(b)) ==
canonical(b)`), and applied alike to a desired body and to the body an adapter maps from a
server's row, so that comparing the two is a plain comparison.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.model import ResourceKind


@dataclass(frozen=True)
class KindSpec:
    """One kind's fields and rules.

    `fields`: the top-level fields of its body. `ignorable`: those `lifecycle.ignore_changes`
    may name (`sub_fields` lists the keys of a fixed record under one of them: an integration's
    `config`). `defaults`: top-level values filled in when left out. `record_defaults`: the
    defaults of each record of a list of records, by dotted path (`config.files`).
    `read_back`: the fields the server returns on read; every other field is write-only (sent,
    never read back). `secret_fields`: dotted paths that hold secrets and must be written as
    references. `open_paths`: records where the server adds keys of its own (live keys the
    desired state does not name are left alone there). `replace_on`: fields whose change is
    only possible by delete-then-create; `updatable` False when the API has no update at all.
    """

    kind: ResourceKind
    fields: tuple[str, ...]
    canonical: Callable[[Mapping[str, Any]], dict[str, Any]]
    family: str | None = None
    ignorable: tuple[str, ...] = ()
    sub_fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    record_defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    read_back: tuple[str, ...] = ()
    secret_fields: tuple[str, ...] = ()
    open_paths: tuple[str, ...] = ()
    replace_on: tuple[str, ...] = ()
    updatable: bool = True

    @property
    def write_only(self) -> tuple[str, ...]:
        """The top-level fields sent on a write and never read back."""
        return tuple(f for f in self.fields if f not in self.read_back)


def _take(source: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    """(found, value) at a dotted `path` of `source`. A key holding dots (`a.b`) is taken
    whole before the path is split, as the planner's `ignore_changes` coverage reads it."""
    if path in source:
        return True, source[path]
    head, dot, rest = path.partition(".")
    if dot and head in source and isinstance(source[head], Mapping):
        return _take(source[head], rest)
    return False, None


def _put(target: dict[str, Any], path: str, source: Mapping[str, Any]) -> None:
    """Write the value found at `path` of `source` into `target` at the same place."""
    if path in source:
        target[path] = source[path]
        return
    head, dot, rest = path.partition(".")
    if dot and head in source and isinstance(source[head], Mapping):
        inner = target.get(head)
        if not isinstance(inner, dict):
            inner = target[head] = {}
        _put(inner, rest, source[head])


def keep_ignored(
    payload: dict[str, Any],
    live: Mapping[str, Any],
    ignored: Iterable[str],
    *,
    omit: Mapping[str, str] | None = None,
    copy: Iterable[str] = (),
    copy_whole: Iterable[str] = (),
) -> None:
    """Make a write keep what `ignore_changes` covers as the server has it (the one write-back
    every adapter uses), in place.

    For each ignored path: a field in `omit` (body field -> payload key) ignored as a whole is
    left out of the payload, the API keeping what it has; under a field in `copy`, the value at the ignored
    sub-path is taken from `live` (the server's copy); a field in `copy_whole` ignored as a
    whole is taken from `live` whole. A path not found in `live` leaves the payload as it is;
    fields none of these name (tags, which carry the reconciler's own marker) are the
    adapter's to keep.
    """
    omit = omit or {}
    copied = frozenset(copy)
    whole = frozenset(copy_whole)
    for path in ignored:
        head, _, rest = path.partition(".")
        if not rest and head in omit:
            payload.pop(omit[head], None)
        elif not rest and head in whole and head in live:
            value = live[head]
            payload[head] = dict(value) if isinstance(value, Mapping) else value
        elif rest and head in copied and isinstance(live.get(head), Mapping):
            found, _ = _take(live[head], rest)
            if found:
                target = payload.get(head)
                if not isinstance(target, dict):
                    target = payload[head] = {}
                _put(target, rest, live[head])
