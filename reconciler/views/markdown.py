"""Markdown of a plan for a pull-request comment (GitHub-flavoured), bounded in size.

Layout: a title with the summary, a table of counts, the plan's warnings, then one collapsed
`<details>` block per server listing its changes (emoji and marker, address, what and why) each
with its fields in a `diff` code block (`+`/`-` lines), then the orphaned and unmanaged
addresses. Multi-line strings are shown escaped (`\\n`) on one line; values are cut at 200
characters and a change at 30 fields.

The whole text stays within `max_chars` (GitHub refuses comments over 65,536 characters): the
title and the table always fit, and changes are then added in plan order until the next one
would not; the rest are counted in a note saying how many were left out. Lists of addresses and
warnings are cut the same way, each ending with how many more there are.

Names come from files and servers, so they are escaped for their context: addresses go in code
spans with a fence longer than any backtick run inside, text in HTML (`<summary>`) is
HTML-escaped, free text has Markdown punctuation backslash-escaped and `<`, `>`, `&` written as
entities, and a code block's fence is longer than any backtick run in its lines.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from reconciler.errors import Diagnostic, Severity
from reconciler.plan import Action, Change, FieldChange, Plan
from reconciler.views import _format as fmt

EMOJI = {
    Action.CREATE: "🟢",
    Action.UPDATE: "🟡",
    Action.REPLACE: "🟣",
    Action.DELETE: "🔴",
    Action.NOOP: "⚪",
}

MIN_CHARS = 2_000
MAX_FIELDS = 30
_MAX_TEXT = 500
# Room kept for the "… N more" line that closes a cut section, and for the closing note.
_MORE_RESERVE = 160
_NOTE_RESERVE = 400

_MD_PUNCT = re.compile(r"([\\`*_\[\]|~#!])")
_BACKTICKS = re.compile(r"`+")


def escape_text(text: str) -> str:
    """Free text for a Markdown paragraph or list item: shown literally, never as markup."""
    text = fmt.clean(text.replace("\n", " "))
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_PUNCT.sub(r"\\\1", text)


def _longest_backtick_run(text: str) -> int:
    return max((len(m) for m in _BACKTICKS.findall(text)), default=0)


def code_span(text: str) -> str:
    """`text` as an inline code span that shows it exactly, whatever backticks it holds."""
    text = fmt.clean(text)
    fence = "`" * (_longest_backtick_run(text) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or text.startswith(" ") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def code_block(lines: Sequence[str], lang: str, indent: str = "") -> str:
    body = "\n".join(lines)
    fence = "`" * max(3, _longest_backtick_run(body) + 1)
    out = [f"{indent}{fence}{lang}", *(f"{indent}{line}" for line in lines), f"{indent}{fence}"]
    return "\n".join(out)


class _Budget:
    """Characters still allowed in the comment."""

    def __init__(self, left: int) -> None:
        self.left = left

    def take(self, text: str) -> bool:
        if len(text) > self.left:
            return False
        self.left -= len(text)
        return True


@dataclass
class _Section:
    """A block of items (changes, addresses) that may be cut when the budget runs out."""

    open: str
    items: list[str]
    close: str
    more: Callable[[int], str]

    def render(self, budget: _Budget, room: bool = True) -> tuple[str, int]:
        """The section's text and how many of its items were left out."""
        first = len(self.items[0]) if self.items else 0
        frame = len(self.open) + len(self.close) + _MORE_RESERVE
        if not room or budget.left < frame + first:
            # Still say the section exists and how much it holds, when that much fits.
            stub = self.open + self.more(len(self.items)) + self.close
            return (stub if self.items and budget.take(stub) else ""), len(self.items)
        budget.left -= frame
        shown: list[str] = []
        for item in self.items:
            if not budget.take(item):
                break
            shown.append(item)
        left_out = len(self.items) - len(shown)
        more = self.more(left_out) if left_out else ""
        budget.left += _MORE_RESERVE - len(more)
        return self.open + "".join(shown) + more + self.close, left_out


def render_plan_markdown(plan: Plan, *, max_chars: int = 60_000) -> str:
    if max_chars < MIN_CHARS:
        raise ValueError(f"max_chars must be at least {MIN_CHARS}, got {max_chars}")
    actionable = plan.actionable
    head = _title(plan) + "\n\n"
    if plan.has_changes or plan.orphaned or plan.unmanaged:
        head += _table(plan) + "\n\n"
    budget = _Budget(max_chars - len(head) - _NOTE_RESERVE)
    parts = [head]

    if plan.diagnostics:
        text, _ = _diagnostics_section(plan.diagnostics).render(budget)
        parts.append(text)

    left_out = 0
    for server in sorted({c.address.server for c in actionable}):
        changes = [c for c in actionable if c.address.server == server]
        text, missing = _server_section(server, changes).render(budget, room=left_out == 0)
        parts.append(text)
        left_out += missing
    if left_out:
        parts.append(
            f"> **Note:** {left_out} of {len(actionable)} changes are not shown, to keep this "
            f"comment under {max_chars:,} characters. Run `reconciler plan` to see them all.\n\n"
        )

    for title, note, addresses in (
        ("Orphaned", "managed, not in the desired state; <code>--prune</code> deletes them", plan.orphaned),
        ("Unmanaged", "not touched", plan.unmanaged),
        ("Owned by another scope", "not touched", tuple(a for a, _ in plan.owned_elsewhere)),
    ):
        if addresses:
            names = sorted(str(a) for a in addresses)
            text, _ = _address_section(f"{title} ({len(names)}): {note}", names).render(budget)
            parts.append(text)
    return "".join(parts).rstrip("\n")


def _title(plan: Plan) -> str:
    if not plan.has_changes:
        return "### Reconciler plan: no changes\n\nThe live state matches the desired state."
    s = plan.summary()
    return f"### Reconciler plan: {s.add} to add, {s.change} to change, {s.replace} to replace, {s.destroy} to destroy"


def _table(plan: Plan) -> str:
    s = plan.summary()
    rows = [
        ("Action", "Count"),
        (":--", "--:"),
        (f"{EMOJI[Action.CREATE]} `+` add", str(s.add)),
        (f"{EMOJI[Action.UPDATE]} `~` change", str(s.change)),
        (f"{EMOJI[Action.REPLACE]} `-/+` replace", str(s.replace)),
        (f"{EMOJI[Action.DELETE]} `-` destroy", str(s.destroy)),
    ]
    if plan.orphaned:
        rows.append(("orphaned (`--prune` deletes them)", str(len(plan.orphaned))))
    if plan.unmanaged:
        rows.append(("unmanaged (not touched)", str(len(plan.unmanaged))))
    return "\n".join(f"| {a} | {b} |" for a, b in rows)


def _counts(changes: Sequence[Change]) -> str:
    words = {
        Action.CREATE: "to add",
        Action.UPDATE: "to change",
        Action.REPLACE: "to replace",
        Action.DELETE: "to destroy",
    }
    parts = []
    for action, word in words.items():
        n = sum(1 for c in changes if c.action is action)
        if n:
            parts.append(f"{n} {word}")
    return ", ".join(parts)


def _server_section(server: str, changes: Sequence[Change]) -> _Section:
    n = len(changes)
    summary = (
        f"<details><summary><b>{html.escape(fmt.clean(server))}</b>: "
        f"{n} change{'s' if n != 1 else ''} ({_counts(changes)})</summary>\n\n"
    )
    return _Section(
        open=summary,
        items=[_change_item(c) for c in changes],
        close="</details>\n\n",
        more=lambda k: f"- {fmt.ELLIPSIS} {k} more change{'s' if k != 1 else ''} not shown\n\n",
    )


def _change_item(change: Change) -> str:
    action = change.action
    line = (
        f"- {EMOJI[action]} `{action.symbol}` {code_span(str(change.address))}: "
        f"{escape_text(fmt.VERB[action])}: {escape_text(change.reason.text)}\n"
    )
    if not change.fields:
        return line + "\n"
    lines: list[str] = []
    for f in change.fields[:MAX_FIELDS]:
        lines.extend(_diff_lines(change, f))
    hidden = len(change.fields) - MAX_FIELDS
    if hidden > 0:
        lines.append(f"{fmt.ELLIPSIS} {hidden} more field{'s' if hidden != 1 else ''}")
    return line + "\n" + code_block(lines, "diff", indent="  ") + "\n\n"


def _diff_lines(change: Change, field: FieldChange) -> list[str]:
    before, after = fmt.sides(field)
    if not field.sensitive:
        kind = change.address.kind.value
        before, after = fmt.shown_value(kind, field.path, before), fmt.shown_value(kind, field.path, after)
    path = fmt.clean(field.path)
    note = "  # forces replacement" if field.forces_replacement else ""
    if before is None and (after is not None or change.action is not Action.UPDATE):
        return _side_lines("+", path, after, field.sensitive, note)
    if after is None and before is not None and change.action in (Action.UPDATE, Action.REPLACE):
        # A field the write removes: one `-` line, as the human plan shows it.
        if field.sensitive:
            return [f"- {path}{note}"]
        return _side_lines("-", path, before, False, note)
    if not field.sensitive and fmt.records(before) and fmt.records(after):
        body = [f"{marker}     {record}," for marker, record in fmt.record_diff(before, after)]
        return [f"  {path} = [{note}", *body, "    ]"]
    return [*_side_lines("-", path, before, field.sensitive, ""), *_side_lines("+", path, after, field.sensitive, note)]


def _side_lines(marker: str, path: str, value: object, sensitive: bool, note: str) -> list[str]:
    """`+ path = value`; a list of records one record per line."""
    if not sensitive and fmt.records(value):
        assert isinstance(value, (list, tuple))
        return [f"{marker} {path} = [{note}", *(f"{marker}     {fmt.encode(r)}," for r in value), f"{marker}   ]"]
    return [f"{marker} {path} = {fmt.side_text(value, sensitive)}{note}"]


def diagnostic_item(d: Diagnostic) -> str:
    """One diagnostic as a Markdown list item in the terminal's words: `❌ **Error:**
    file:line:col: message [address]` (warnings `⚠️ **Warning:**`), then `<br>hint: ...`."""
    where = str(d.location) if d.location else (d.address or "")
    head = (f"{where}: " if where else "") + d.message
    if d.address and d.location:
        head += f" [{d.address}]"
    first, *rest = head.split("\n")
    text = escape_text(fmt.truncate(first, _MAX_TEXT))
    for line in [*rest, *([f"hint: {d.hint}"] if d.hint else [])]:
        text += "<br>" + escape_text(fmt.truncate(line.strip(), _MAX_TEXT))
    mark, word = ("❌", "Error") if d.severity is Severity.ERROR else ("⚠️", "Warning")
    return f"- {mark} **{word}:** {text}"


def _diagnostics_section(diags: Sequence[Diagnostic]) -> _Section:
    items = [diagnostic_item(d) + "\n" for d in diags]
    return _Section(
        open="**Warnings**\n\n",
        items=items,
        close="\n",
        more=lambda k: f"- {fmt.ELLIPSIS} {k} more not shown\n",
    )


def _address_section(title: str, addresses: Sequence[str]) -> _Section:
    return _Section(
        open=f"<details><summary>{title}</summary>\n\n",
        items=[f"- {code_span(a)}\n" for a in addresses],
        close="\n</details>\n\n",
        more=lambda k: f"- {fmt.ELLIPSIS} {k} more not shown\n",
    )
