"""Text helpers shared by the views: value encoding, truncation, escaping of untrusted text,
the words for each action, masking of sensitive field values, and the one-line description of
an apply outcome.

Names and values reach the views from desired-state files and, for unmanaged resources, from
live servers, so they are untrusted: control characters and bidirectional overrides are escaped
before they are shown, so that a name cannot move the cursor, recolour the terminal or reorder
what a reviewer reads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from reconciler.kinds import record_defaults
from reconciler.model import SENSITIVE_MASK, Sensitive, escape_unsafe
from reconciler.outcomes import NOT_STARTED, Done, Failed, Outcome, Skipped
from reconciler.plan import Action, FieldChange

# Longest encoded value shown on one line; longer ones end in an ellipsis.
MAX_VALUE_CHARS = 200
# Longest multi-line string shown in a heredoc block, in lines.
MAX_BLOCK_LINES = 40
ELLIPSIS = "…"


VERB = {
    Action.CREATE: "will be created",
    Action.UPDATE: "will be updated in place",
    Action.REPLACE: "will be replaced (deleted, then created)",
    Action.DELETE: "will be destroyed",
    Action.NOOP: "is up to date",
}

PAST = {
    Action.CREATE: "created",
    Action.UPDATE: "updated",
    Action.REPLACE: "replaced",
    Action.DELETE: "destroyed",
    Action.NOOP: "unchanged",
}

LEGEND = {
    Action.CREATE: "create",
    Action.UPDATE: "update in place",
    Action.REPLACE: "destroy and then create replacement",
    Action.DELETE: "destroy",
}

def clean(text: str) -> str:
    """`text` with every control or bidi character written as a visible escape."""
    return escape_unsafe(text)


_JSON_UNSAFE = re.compile("[\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def json_escape_unsafe(text: str) -> str:
    """JSON text (which escapes C0 controls itself) with DEL, C1 controls and bidi characters
    written as `\\uXXXX` escapes too: the same JSON value, safe to print."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def clean_lines(text: str) -> list[str]:
    """The lines of `text`, each cleaned: for multi-line messages that are shown as lines."""
    return [clean(line) for line in text.split("\n")]


def truncate(text: str, limit: int = MAX_VALUE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def json_default(value: Any) -> Any:
    if isinstance(value, Sensitive):
        return SENSITIVE_MASK
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    # Plans only hold JSON values; anything else is shown by its type, never by its contents.
    return f"<{type(value).__name__}>"


def to_json(value: Any) -> str:
    """One-line JSON text of a value, non-ASCII kept, unsafe characters escaped."""
    return clean(json.dumps(value, ensure_ascii=False, default=json_default))


def encode(value: Any, limit: int = MAX_VALUE_CHARS) -> str:
    """A value as shown on one line: JSON, truncated to `limit` characters."""
    return truncate(to_json(value), limit)


def mask_side(value: Any) -> Any:
    """One side of a sensitive field as it may be shown: None (absent) or the mask, whatever
    the field holds, so that a value left unmasked upstream still never comes out."""
    return None if value is None else SENSITIVE_MASK


def sides(field: FieldChange) -> tuple[Any, Any]:
    """`before`/`after` of a field, masked again when it is sensitive."""
    if field.sensitive:
        return mask_side(field.before), mask_side(field.after)
    return field.before, field.after


def side_text(value: Any, sensitive: bool) -> str:
    """One side of a field for a person: JSON, or the bare mask for a sensitive value."""
    if sensitive:
        masked = mask_side(value)
        return "null" if masked is None else str(masked)
    return encode(value)


def shown_value(kind: str, path: str, value: Any) -> Any:
    """A value as a person reads it in a plan: a record, or each record of a list, without the
    fields that hold the default the server fills in (`"content": null` of a Kubiya file)."""
    defaults = record_defaults(kind, path)
    if not defaults:
        return value

    def trim(record: Any) -> Any:
        if not isinstance(record, Mapping):
            return record
        return {
            k: v
            for k, v in record.items()
            if not (k in defaults and v == defaults[k] and type(v) is type(defaults[k]))
        }

    if isinstance(value, (list, tuple)):
        return [trim(r) for r in value]
    return trim(value)


def records(value: Any) -> bool:
    """Whether `value` is a non-empty list of records (shown one record per line)."""
    return isinstance(value, (list, tuple)) and bool(value) and all(isinstance(v, Mapping) for v in value)


def record_diff(before: Any, after: Any) -> list[tuple[str, str]]:
    """Two lists of records as `(marker, record)` lines: `-` removed, `+` added, ` ` kept."""
    import difflib

    old = [encode(r) for r in before or ()]
    new = [encode(r) for r in after or ()]
    out: list[tuple[str, str]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if tag == "equal":
            out.extend((" ", r) for r in old[i1:i2])
            continue
        out.extend(("-", r) for r in old[i1:i2])
        out.extend(("+", r) for r in new[j1:j2])
    return out


def multiline(value: Any) -> bool:
    return isinstance(value, str) and "\n" in value.rstrip("\n")


def block_lines(text: str, limit: int = MAX_BLOCK_LINES) -> list[str]:
    """The lines of a multi-line string for a heredoc block, cleaned and bounded."""
    lines = [truncate(clean(line)) for line in text.split("\n")]
    if text.endswith("\n"):
        lines.pop()
    if len(lines) > limit:
        hidden = len(lines) - limit
        lines = [*lines[:limit], f"{ELLIPSIS} ({hidden} more lines)"]
    return lines


def outcome_parts(outcome: Outcome) -> tuple[str, str]:
    """`(status, text)` of an outcome: status is `done`, `failed` or `skipped`; the text names
    the address, the action and, for a failure or a skip, why. Safe to print (messages of
    outcomes carry no secret values)."""
    change = outcome.change
    address = clean(str(change.address))
    action = change.action.value
    if isinstance(outcome, Done):
        text = f"{address}: {PAST[change.action]}"
        details = [d for d in (f"id {outcome.id}" if outcome.id else "", outcome.note) if d]
        if details:
            text += f" ({clean('; '.join(details))})"
        return "done", text
    if isinstance(outcome, Failed):
        text = f"{address}: {action} failed: {failure_text(outcome)}"
        return "failed", text
    return "skipped", f"{address}: {action} skipped: {clean(outcome.reason)}"


def not_started_line(count: int) -> str:
    """One line for the changes an interrupted apply did not start (each is in `--format json`)."""
    noun = "change" if count == 1 else "changes"
    return f"{count} {noun} not started: the apply was interrupted (`--format json` lists each)"


def failure_text(failed: Failed) -> str:
    text = clean(failed.message)
    # Messages built from an answer already say its status ("answered 403"): not twice.
    if failed.status and not re.search(rf"\b{failed.status}\b", text):
        text += f" (HTTP {failed.status})"
    # Messages that already say so (a create that looked for what it may have written) keep
    # their own words.
    if failed.unknown and "may have been" not in text:
        text += "; the request may have been carried out anyway"
    return text


SERVER_DOWN_PREFIXES = ("not started: server ", "not started: the deadline ")


def collapsible(outcome: Outcome) -> str | None:
    """The reason of a change that was never started because its server is unreachable or past
    its deadline, or because the apply was interrupted: such skips are shown as one line per
    reason, not one per change."""
    if isinstance(outcome, Skipped) and (
        outcome.reason.startswith(SERVER_DOWN_PREFIXES) or outcome.reason == NOT_STARTED
    ):
        return outcome.reason
    return None


def collapsed_line(reason: str, count: int) -> str:
    if reason == NOT_STARTED:
        return not_started_line(count)
    return f"{count} change(s) skipped: {clean(reason)}"
