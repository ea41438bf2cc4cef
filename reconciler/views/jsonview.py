"""JSON documents of plans, apply results and diagnostics, for machines.

Each document is an object with a `format` tag saying what it is (`reconciler-plan`,
`reconciler-apply`, `reconciler-diagnostics`), written with sorted keys, the top level
indented by two and one line for each change, outcome or diagnostic, without a trailing
newline. The plan document is `Plan.to_dict()` plus the tag; its shape is
documented, and tested, by `schemas/plan.schema.json`. A saved plan (`reconciler.planfile`)
is this document with the options it was made with.

Nothing secret can come out: every value passes through `plan.masked` (a `Sensitive` becomes
its mask) and the before/after of a sensitive field are masked again here, whatever they hold.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from reconciler.errors import Diagnostic, Severity
from reconciler.model import ResourceKind
from reconciler.outcomes import ApplyResult, Done, Failed, Outcome
from reconciler.plan import Action, Change, FieldChange, Plan, Reason
from reconciler.views import _format as fmt

PLAN_FORMAT = "reconciler-plan"
APPLY_FORMAT = "reconciler-apply"
DIAGNOSTICS_FORMAT = "reconciler-diagnostics"
APPLY_FORMAT_VERSION = 1


# One encoder for every record: `json.dumps` with options would make a new one per record.
_compact = json.JSONEncoder(sort_keys=True, separators=(", ", ": "), default=fmt.json_default).encode
# What that encoder writes for a string (ASCII only): json's own C function.
_text = json.encoder.encode_basestring_ascii


def _dumps(document: dict[str, Any], records: Mapping[str, Iterable[dict[str, Any]]] = MappingProxyType({})) -> str:
    """Sorted keys, the top level indented by two, and each entry of a list of records
    (changes, outcomes, diagnostics) on one line of its own (see `_pieces`)."""
    return "".join(_pieces(document, records))


def _pieces(document: dict[str, Any], records: Mapping[str, Iterable[dict[str, Any] | str]]) -> Iterator[str]:
    """The text of `_dumps`, piece by piece. `records`: lists of records given as iterables,
    each encoded as it comes, or given as its line already (the plan's changes: a large
    plan's are never all held at once, not even as their lines).

    One line a record reads and diffs well, greps well, and lets json use its C encoder (an
    indented dump falls back to the pure-Python one: seconds on a plan of 10,000 changes).
    ASCII-only output survives any pipe, encoding or terminal unchanged. Secrets are masked by
    the default hook as the encoder meets them."""
    yield "{\n"
    for n, key in enumerate(sorted({*document, *records})):
        if n:
            yield ",\n"
        yield f"  {json.dumps(key)}: "
        value = records[key] if key in records else document[key]
        if key in records or (isinstance(value, list) and value and all(isinstance(v, dict) for v in value)):
            opening = "[\n    "
            for record in value:
                yield opening
                opening = ",\n    "
                yield record if isinstance(record, str) else _compact(record)
            yield "[]" if opening == "[\n    " else "\n  ]"
        else:
            yield json.dumps(value, sort_keys=True, indent=2, default=fmt.json_default).replace("\n", "\n  ")
    yield "\n}"


def _batched(pieces: Iterable[str], size: int = 1 << 18) -> Iterator[str]:
    """Pieces joined into texts of about `size` characters: few writes, little held."""
    batch: list[str] = []
    held = 0
    for piece in pieces:
        batch.append(piece)
        held += len(piece)
        if held >= size:
            yield "".join(batch)
            batch, held = [], 0
    if batch:
        yield "".join(batch)


def plan_document(plan: Plan) -> dict[str, Any]:
    """The plan as a JSON-ready dict: `Plan.to_dict()`, the format tag, sensitive fields masked."""
    doc = plan.to_dict()
    for change_doc, change in zip(doc["changes"], plan.changes, strict=True):
        change_doc["fields"] = [_field_document(f) for f in change.fields]
    return {"format": PLAN_FORMAT, **doc}


def _change_document(change: Change) -> dict[str, Any]:
    """One change as in `plan_document`."""
    doc = change.to_dict()
    doc["fields"] = [_field_document(f) for f in change.fields]
    return doc


def _scalar(value: Any) -> str:
    """A value as `_compact` writes it, a string, an int or None without going through the
    encoder."""
    if value is None:
        return "null"
    kind = type(value)
    if kind is str:
        return _text(value)
    if kind is int:
        return int.__repr__(value)
    return _compact(value)


def _strings(values: Iterable[Any]) -> str:
    return "[" + ", ".join(map(_scalar, values)) + "]"


# The parts of a change's line that its action, kind or reason alone decide, written once.
_ACTION_PART = {a: '{"action": ' + _text(a.value) + ', "address": ' for a in Action}
_KIND_PART = {k: ', "kind": ' + _text(k.value) + ', "live_id": ' for k in ResourceKind}
_REASON_PART = {
    r: ', "reason": ' + _text(r.value) + ', "reason_text": ' + _text(r.text) + ', "server": ' for r in Reason
}


def _change_line(change: Change) -> str:
    """`_compact(_change_document(change))`, written straight from the change: a large plan
    is mostly no-ops, and making a dict of each, then sorting and encoding it, was most of the
    time its JSON took. The keys are `Change.to_dict`'s, in sorted order; the tests hold the
    two texts equal for every kind of change."""
    address = change.address
    fields = change.fields
    location = change.location
    depends = change.depends_on
    return "".join(
        (
            _ACTION_PART[change.action],
            _text(str(address)),
            ', "depends_on": ',
            _strings(str(a) for a in depends) if depends else "[]",
            ', "digest": ',
            _scalar(change.digest),
            ', "fields": ',
            _compact([_field_document(f) for f in fields]) if fields else "[]",
            _KIND_PART[address.kind],
            _scalar(change.live_id),
            ', "live_version": ',
            _scalar(change.live_version),
            ', "location": ',
            "null"
            if location is None
            else f'{{"column": {_scalar(location.column)}, "file": {_scalar(location.file)}, '
            f'"line": {_scalar(location.line)}}}',
            ', "name": ',
            _scalar(address.name),
            ', "paths": ',
            _strings(f.path for f in fields) if fields else "[]",
            _REASON_PART[change.reason],
            _scalar(address.server),
            ', "type": ',
            _scalar(change.type),
            "}",
        )
    )


def _field_document(field: FieldChange) -> dict[str, Any]:
    before, after = fmt.sides(field)
    return {**field.to_dict(), "before": before, "after": after}


def render_plan_json(plan: Plan) -> str:
    """The text of `plan_document(plan)`, made one change at a time."""
    return "".join(stream_plan_json(plan))


def stream_plan_json(plan: Plan) -> Iterator[str]:
    """The text of `render_plan_json` in parts, made as they are written: a plan of 50,000
    resources is tens of megabytes of text, never held whole."""
    rest = dataclasses.replace(plan, changes=()).to_dict()
    rest["summary"] = plan.summary().to_dict()
    del rest["changes"]
    return _batched(_pieces({"format": PLAN_FORMAT, **rest}, {"changes": map(_change_line, plan.changes)}))


def _outcome_document(outcome: Outcome) -> dict[str, Any]:
    change = outcome.change
    doc: dict[str, Any] = {
        "address": str(change.address),
        "kind": change.address.kind.value,
        "server": change.address.server,
        "name": change.address.name,
        "action": change.action.value,
    }
    if isinstance(outcome, Done):
        doc.update(outcome="done", id=outcome.id, note=outcome.note)
    elif isinstance(outcome, Failed):
        doc.update(outcome="failed", message=outcome.message, status=outcome.status, unknown=outcome.unknown)
    else:
        doc.update(outcome="skipped", reason=outcome.reason)
    return doc


def render_apply_json(result: ApplyResult) -> str:
    """`{format, format_version, ok, interrupted, summary, outcomes}`; each outcome names its
    change and says `done` (with `id`, `note`), `failed` (with `message`, HTTP `status`, and
    `unknown` when the write may have happened) or `skipped` (with `reason`)."""
    return _dumps(
        {
            "format": APPLY_FORMAT,
            "format_version": APPLY_FORMAT_VERSION,
            "ok": result.ok and not result.interrupted,
            "interrupted": result.interrupted,
            "summary": result.summary().to_dict(),
            "outcomes": [_outcome_document(o) for o in result.outcomes],
        }
    )


def render_diagnostics_json(diags: Sequence[Diagnostic]) -> str:
    """`{format, diagnostics: [Diagnostic.to_dict()...], summary: {errors, warnings}}`."""
    errors = sum(1 for d in diags if d.severity is Severity.ERROR)
    return _dumps(
        {
            "format": DIAGNOSTICS_FORMAT,
            "diagnostics": [d.to_dict() for d in diags],
            "summary": {"errors": errors, "warnings": len(diags) - errors},
        }
    )


def render_document(document: dict[str, Any]) -> str:
    """Any document in the layout of the others (for the saved plan, which adds its options)."""
    return _dumps(document)
