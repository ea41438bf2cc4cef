"""Field-level comparison of a desired body with a live body.

Both bodies are already normalized into the same canonical shape by the platform adapters, so
the common case (nothing changed) is settled by one equality walk without building any diff.
Only bodies that differ are walked for paths; lists of records (Kubiya `files`) are compared
item by item, by position, so that a change reads `config.files[1].content`, not the whole list.

Equality rules: a `Sensitive` equals the plain string it wraps; a number equals its string form
(Conductor returns some numbers as strings); paths under `ignore` and the write-only fields are
skipped (write-only values are compared through their fingerprint by the planner).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from reconciler.model import PLAIN_TYPES, LiveResource, Resource, Sensitive
from reconciler.plan import FieldChange
from reconciler.secrecy import is_sensitive, masked

_MISSING = object()


def _plain(value: Any) -> Any:
    return value.reveal() if isinstance(value, Sensitive) else value


def values_equal(a: Any, b: Any) -> bool:
    """Equality under the rules above, recursing into mappings and lists."""
    ta, tb = type(a), type(b)
    # Fast paths for the plain JSON types that make up nearly every body.
    if ta is tb and ta in PLAIN_TYPES:
        return bool(a == b)
    if ta is dict and tb is dict:
        if a.keys() != b.keys():
            return False
        return all(values_equal(v, b[k]) for k, v in a.items())
    a, b = _plain(a), _plain(b)
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        if a.keys() != b.keys():
            return False
        return all(values_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b, strict=True))
    if a == b and type(a) is type(b):
        return True
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, str):
        return _number_matches(a, b)
    if isinstance(b, (int, float)) and isinstance(a, str):
        return _number_matches(b, a)
    return bool(a == b)


def _number_matches(number: float, text: str) -> bool:
    try:
        return float(text) == float(number)
    except ValueError:
        return False


def covered(path: str, prefixes: Iterable[str]) -> bool:
    for p in prefixes:
        if path == p or path.startswith(p + ".") or path.startswith(p + "["):
            return True
    return False


def _field(path: str, before: Any, after: Any) -> FieldChange:
    # Shown unless the one sensitivity rule says otherwise (secrecy.is_sensitive).
    b = None if before is _MISSING else before
    a = None if after is _MISSING else after
    if is_sensitive(path, b, a):
        return FieldChange(path, None if b is None else "(sensitive)", None if a is None else "(sensitive)", True)
    return FieldChange(path, masked(b), masked(a), False)


def removal(path: str, before: Any) -> FieldChange:
    """A field the desired state no longer declares and the write removes (value never shown)."""
    return _field(path, before, _MISSING)


def diff(
    desired: Mapping[str, Any],
    live: Mapping[str, Any],
    *,
    ignore: Sequence[str] = (),
    write_only: Sequence[str] = (),
    open_paths: Sequence[str] = (),
) -> tuple[FieldChange, ...]:
    """The fields whose desired value differs from the live one, in path order.

    Top-level keys the desired state does not mention are the server's business (audit
    fields). Inside a record, a live key the desired state lacks is a difference (shown as a
    removal, `after` None), except under `open_paths`, where the server adds keys of its own.
    """
    if desired is live:
        return ()  # one body, shared (see `shared`): nothing can differ
    skip = tuple(ignore) + tuple(write_only)
    if not skip:
        subset = {k: live.get(k, _MISSING) for k in desired}
        # Plain equality (in C) settles the common unchanged body, confirmed strict (`1 ==
        # True` in Python, not here); a Sensitive never equals a str there, so bodies holding
        # secrets take the rule-aware comparison.
        if (desired == subset and same(desired, subset)) or values_equal(desired, subset):
            return ()
    out: list[FieldChange] = []
    _walk("", desired, live, skip, tuple(open_paths), out)
    out.sort(key=lambda f: f.path)
    return tuple(out)


def same(a: Any, b: Any) -> bool:
    """Strict equality of two JSON-shaped values: equal, and of the same type throughout
    (`True` is not `1`, a `Sensitive` is not its text)."""
    if a is b:
        return True
    kind = type(a)
    if kind is not type(b):
        return False
    if kind is dict:
        if len(a) != len(b):
            return False
        for key, value in a.items():
            other = b.get(key, _MISSING)
            if other is _MISSING or not same(value, other):
                return False
        return True
    if kind is list:
        return len(a) == len(b) and all(map(same, a, b))
    return bool(a == b)


def shared(live: Mapping[str, Any], declared: Mapping[str, Any]) -> Mapping[str, Any]:
    """`live` with each field strictly equal to the declared one (`same`) replaced by the
    declared object; the declared body itself when every field is. The value is unchanged,
    only held once: a plan holds every resource twice, declared and live, and nine in ten
    are usually alike (half the plan's memory at 50,000 resources). Bodies are never changed
    in place, so sharing is safe."""
    if live is declared or type(live) is not dict or type(declared) is not dict:
        return live
    out: dict[str, Any] = {}
    alike = len(live) == len(declared)
    for key, value in live.items():
        want = declared.get(key, _MISSING)
        if want is not _MISSING and same(value, want):
            out[key] = want
        else:
            out[key] = value
            alike = False
    return declared if alike else out


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _walk(
    prefix: str,
    desired: Mapping[str, Any],
    live: Any,
    skip: tuple[str, ...],
    open_paths: tuple[str, ...],
    out: list[FieldChange],
) -> None:
    live_map: Mapping[str, Any] = live if isinstance(live, Mapping) else {}
    for key, want in desired.items():
        path = _join(prefix, str(key))
        if covered(path, skip):
            continue
        have = live_map.get(key, _MISSING)
        if have is not _MISSING and values_equal(want, have):
            continue
        want_plain = _plain(want)
        if isinstance(want_plain, Mapping) and isinstance(have, Mapping):
            _walk(path, want_plain, have, skip, open_paths, out)
        elif _records(want_plain) and _records(have):
            _list_of_records(path, want_plain, have, skip, out)
        else:
            out.append(_field(path, have, want))
    if prefix and not covered(prefix, open_paths):
        for key in sorted(live_map.keys() - desired.keys(), key=str):
            path = _join(prefix, str(key))
            if not covered(path, skip):
                out.append(_field(path, live_map[key], _MISSING))


def _records(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and bool(value) and all(isinstance(v, Mapping) for v in value)


# Below this share of common keys two records are compared as wholes (deepdiff's
# `threshold_to_diff_deeper`, whose paths the plans have always shown).
_SHARED_KEYS_FOR_ITEM_DIFF = 0.33


def _list_of_records(
    path: str, want: Sequence[Any], have: Sequence[Any], skip: tuple[str, ...], out: list[FieldChange]
) -> None:
    """Item-level changes of a list of records of one length, by position: one change per
    differing key of an item (`config.files[1].content`). Lists of different lengths, and two
    records that share less than a third of their keys, change as a whole."""
    if len(want) != len(have):
        out.append(_field(path, have, want))
        return
    for index, (w_item, h_item) in enumerate(zip(want, have, strict=True)):
        if values_equal(w_item, h_item):
            continue
        keys = w_item.keys() | h_item.keys()
        if len(keys) > 1 and len(w_item.keys() & h_item.keys()) / len(keys) < _SHARED_KEYS_FOR_ITEM_DIFF:
            # Records with less than a third of their keys in common are different records:
            # the item changes as a whole (`files[0]`).
            item_path = f"{path}[{index}]"
            if not covered(item_path, skip):
                out.append(_field(item_path, h_item, w_item))
            continue
        for key in keys:
            key_path = f"{path}[{index}].{key}"
            if covered(key_path, skip):
                continue
            w_val = w_item.get(key, _MISSING)
            h_val = h_item.get(key, _MISSING)
            if w_val is not _MISSING and h_val is not _MISSING and (w_val == h_val or values_equal(w_val, h_val)):
                # Plain equality first, as for the whole body in `diff`: a key that would
                # compare equal on its own is not a change because a sibling key changed.
                continue
            out.append(_field(key_path, h_val, w_val))


def creation_fields(desired: Mapping[str, Any]) -> tuple[FieldChange, ...]:
    """The fields a create will set, for display: every non-empty leaf, records flattened to
    dotted paths (`config.env_vars.PGHOST`), secret values masked one by one."""
    out: list[FieldChange] = []

    def walk(prefix: str, value: Any) -> None:
        if type(value) is dict or isinstance(value, Mapping):
            # An empty record sets nothing; keys sorted as text, mixed key types included.
            for key in sorted(value, key=str):
                walk(_join(prefix, str(key)), value[key])
            return
        if value is None or value == [] or value == "":
            return
        if is_sensitive(prefix, value):
            out.append(FieldChange(prefix, None, "(sensitive)", True))
        else:
            out.append(FieldChange(prefix, None, masked(value), False))

    walk("", desired)
    return tuple(out)


def resource_fields(desired: Resource, current: LiveResource) -> tuple[FieldChange, ...]:
    """The fields in which a live resource differs from its desired one, as the plan compares
    them: what `ignore_changes` covers left out, write-only values masked, open paths key by
    key. The planner and the re-check after a save both ask this, so they cannot disagree."""
    return diff(
        desired.body,
        current.body,
        ignore=desired.lifecycle.ignore_changes,
        write_only=desired.write_only,
        open_paths=desired.open_paths,
    )


def compared_write_only(desired: Resource) -> tuple[str, ...]:
    """The write-only paths compared through the fingerprint: those `ignore_changes` leaves."""
    return tuple(p for p in desired.write_only if not covered(p, desired.lifecycle.ignore_changes))
