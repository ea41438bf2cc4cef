"""Human-readable text of plans, apply results and diagnostics, Terraform-like.

Every renderer returns the text without a trailing newline; the caller prints it. Colour is
plain ANSI SGR codes, written only when `color=True`: deciding (a terminal, `NO_COLOR`) is the
CLI's job.

Plan layout: a legend of the markers in use, then one block per actionable change (no-ops too
with `show_noop`): a header `  + <address>` with the action's marker, a comment line saying what
will happen and why, then one line per field. A create shows `+ path = value`; an update
`~ path: before -> after`, a field it adds `+ path = value` and one it removes `- path`; a
replace shows every field that will differ (`~`), those forcing it marked `# forces
replacement`, or, when none differs, what it will create (`+`). Values are JSON; a value longer
than 200 characters is cut with `…`. A list of records is shown one record per line between
brackets (a changed one as a diff of records), each without the fields that hold the default
the server fills in (`kinds.record_defaults`).
A multi-line string is shown as a `<<EOT` block (Terraform's heredoc): the whole text for a
create, a line diff with two lines of context for an update, at most 40 lines either way.
A sensitive field shows only the mask `(sensitive)` (or `null` when absent), whatever value it
holds. Then the unmanaged and orphaned addresses, the plan's warnings, and the summary line.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Sequence

from reconciler.errors import Diagnostic, Severity
from reconciler.model import Address, owner_label
from reconciler.outcomes import ApplyResult, Failed
from reconciler.plan import Action, Change, FieldChange, Plan
from reconciler.views import _format as fmt

_RESET = "\x1b[0m"
BOLD = "1"
DIM = "2"
RED = "31"
GREEN = "32"
YELLOW = "33"
MAGENTA = "35"

ACTION_COLOR = {
    Action.CREATE: GREEN,
    Action.UPDATE: YELLOW,
    Action.REPLACE: MAGENTA,
    Action.DELETE: RED,
    Action.NOOP: DIM,
}

NO_CHANGES = "No changes. The live state matches the desired state."
UNMANAGED_TITLE = "Unmanaged (not touched):"
ORPHANED_TITLE = "Orphaned (managed, not in the desired state; use --prune to delete):"
OWNED_ELSEWHERE_TITLE = "Owned by another scope (not touched):"

_HEADER_INDENT = 4  # width of the widest marker, `-/+`, plus one space
_FIELD_INDENT = " " * 6
_BLOCK_INDENT = " " * 12
_DIFF_CONTEXT = 2


class Painter:
    """Wraps text in ANSI SGR codes, or leaves it alone when colour is off."""

    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, *codes: str) -> str:
        if not self.color or not codes or not text:
            return text
        return f"\x1b[{';'.join(codes)}m{text}{_RESET}"


def render_plan_human(plan: Plan, *, color: bool, show_noop: bool = False) -> str:
    paint = Painter(color)
    out: list[str] = []
    actionable = plan.actionable
    shown = plan.changes if show_noop else actionable
    if actionable:
        out.append("Resource actions are indicated with the following symbols:")
        present = {c.action for c in actionable}
        for action, words in fmt.LEGEND.items():
            if action in present:
                marker = paint(action.symbol, ACTION_COLOR[action])
                out.append(f"{_pad(action)}{marker} {words}")
        out.append("")
        out.append("Reconciler will perform the following actions:")
        out.append("")
    for change in shown:
        out.extend(_change_lines(change, paint))
        out.append("")
    out.extend(_address_section(UNMANAGED_TITLE, plan.unmanaged))
    out.extend(_address_section(ORPHANED_TITLE, plan.orphaned))
    if plan.owned_elsewhere:
        out.append(OWNED_ELSEWHERE_TITLE)
        for address, owner in sorted(plan.owned_elsewhere):
            out.append(f"  {fmt.clean(str(address))} (owned by {fmt.clean(owner_label(owner))})")
        out.append("")
    if plan.diagnostics:
        all_warnings = all(d.severity is Severity.WARNING for d in plan.diagnostics)
        out.append("Warnings:" if all_warnings else "Diagnostics:")
        for d in plan.diagnostics:
            out.extend("  " + line for line in _diagnostic_lines(d, paint))
        out.append("")
    if actionable:
        s = plan.summary()
        out.append(
            paint(
                f"Plan: {s.add} to add, {s.change} to change, {s.replace} to replace, {s.destroy} to destroy.",
                BOLD,
            )
        )
    else:
        out.append(paint(NO_CHANGES, GREEN, BOLD))
    return "\n".join(out)


def _pad(action: Action) -> str:
    return " " * (_HEADER_INDENT - 1 - len(action.symbol))


def _change_lines(change: Change, paint: Painter) -> list[str]:
    address = fmt.clean(str(change.address))
    action = change.action
    marker = paint(action.symbol, ACTION_COLOR[action]) if action is not Action.NOOP else " "
    lines = [f"{_pad(action)}{marker} {paint(address, BOLD)}"]
    why = f"# {address} {fmt.VERB[action]}: {fmt.clean(change.reason.text)}"
    lines.append(_FIELD_INDENT + paint(why, DIM))
    for field in change.fields:
        lines.extend(_field_lines(change, field, paint))
    return lines


def _field_lines(change: Change, field: FieldChange, paint: Painter) -> list[str]:
    before, after = fmt.sides(field)
    if not field.sensitive:
        kind = change.address.kind.value
        before, after = fmt.shown_value(kind, field.path, before), fmt.shown_value(kind, field.path, after)
    path = fmt.clean(field.path)
    note = ""
    if field.forces_replacement:
        note = " " + paint("# forces replacement", DIM)
    # A field the write adds (a create's, or a key an update adds): `+ path = value`.
    adding = before is None and (after is not None or change.action is not Action.UPDATE)
    if adding:
        head = f"{_FIELD_INDENT}{paint('+', GREEN)} {path} = "
        if not field.sensitive and fmt.multiline(after):
            return _heredoc(head, fmt.block_lines(after), paint)
        if not field.sensitive and fmt.records(after):
            return _record_lines(head, paint("+", GREEN), after, note)
        return [head + fmt.side_text(after, field.sensitive) + note]
    if after is None and before is not None and change.action in (Action.UPDATE, Action.REPLACE):
        # A field the write removes (a key no longer declared): its value is never shown
        # when it may be a secret.
        head = f"{_FIELD_INDENT}{paint('-', RED)} {path}"
        if not field.sensitive and fmt.records(before):
            return _record_lines(head + " = ", paint("-", RED), before, note)
        shown = "" if field.sensitive else " = " + fmt.side_text(before, False)
        return [f"{head}{shown}{note}"]
    if not field.sensitive and fmt.records(before) and fmt.records(after):
        lines = [f"{_FIELD_INDENT}{paint('~', YELLOW)} {path} = [{note}"]
        colors = {"-": RED, "+": GREEN, " ": ""}
        lines.extend(
            f"{_FIELD_INDENT}    {paint(marker, colors[marker]) if marker != ' ' else ' '} {record},"
            for marker, record in fmt.record_diff(before, after)
        )
        lines.append(_FIELD_INDENT + "  ]")
        return lines
    head = f"{_FIELD_INDENT}{paint('~', YELLOW)} {path}: "
    text_change = isinstance(before, str) and isinstance(after, str)
    if not field.sensitive and text_change and (fmt.multiline(before) or fmt.multiline(after)):
        return _heredoc(head, _line_diff(before, after, paint), paint)
    b = fmt.side_text(before, field.sensitive)
    a = fmt.side_text(after, field.sensitive)
    return [f"{head}{b} -> {a}{note}"]


def _record_lines(head: str, marker: str, records: Sequence[object], note: str) -> list[str]:
    """A list of records, one record per line between brackets, as Terraform nests them."""
    lines = [head + "[" + note]
    lines.extend(f"{_FIELD_INDENT}    {marker} {fmt.encode(record)}," for record in records)
    lines.append(_FIELD_INDENT + "  ]")
    return lines


def _heredoc(head: str, body: Sequence[str], paint: Painter) -> list[str]:
    lines = [head + "<<EOT"]
    # A line of the text that is empty shows as an empty line, never as a line of spaces.
    lines.extend(_BLOCK_INDENT + line if line.strip() else "" for line in body)
    lines.append(_FIELD_INDENT + "  EOT")
    return lines


def _line_diff(before: str, after: str, paint: Painter) -> list[str]:
    """The changed lines of a multi-line string, `-`/`+` marked, with a little context."""
    old = before.split("\n")
    new = after.split("\n")
    if before.endswith("\n") and after.endswith("\n"):
        # The final line break ends the last line; it does not start an empty one.
        old.pop()
        new.pop()
    out: list[str] = []
    groups = difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_grouped_opcodes(_DIFF_CONTEXT)
    for n, group in enumerate(groups):
        if n:
            out.append(paint(f"  {fmt.ELLIPSIS}", DIM))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out.extend("  " + fmt.truncate(fmt.clean(line)) for line in old[i1:i2])
                continue
            for line in old[i1:i2]:
                out.append(paint("- " + fmt.truncate(fmt.clean(line)) if line else "-", RED))
            for line in new[j1:j2]:
                out.append(paint(("+ " + fmt.truncate(fmt.clean(line))) if line else "+", GREEN))
    if len(out) > fmt.MAX_BLOCK_LINES:
        hidden = len(out) - fmt.MAX_BLOCK_LINES
        out = [*out[: fmt.MAX_BLOCK_LINES], f"{fmt.ELLIPSIS} ({hidden} more lines)"]
    return out


def _address_section(title: str, addresses: Iterable[Address]) -> list[str]:
    names = sorted(fmt.clean(str(a)) for a in addresses)
    if not names:
        return []
    return [title, *("  " + n for n in names), ""]


SourceLines = Callable[[str], Sequence[str] | None]

# `key: value` pairs whose value may be a credential: masked when a source line is shown, so
# that a literal secret written in a file is not printed back by the error about it.
_SECRETISH = re.compile(
    r"""((?:pass(?:word|wd)?|secret(?!s\b)|token|api_?key|key_?id|credential|private)[\w.-]*["']?\s*:\s+)"""
    # The value: a quoted string, or plain text in which a `${...}` reference counts as one piece.
    r"""("(?:[^"\\]|\\.)*"|'[^']*'|(?:\$\{[^}]*\}|[^\s,}#])(?:\$\{[^}]*\}|[^,}#])*?)(\s*(?:[,}#]|$))""",
    re.IGNORECASE,
)


def _source_excerpt(d: Diagnostic, source: SourceLines | None, paint: Painter) -> list[str]:
    """The offending line of the file with a caret under the column, Terraform-style."""
    loc = d.location
    if source is None or loc is None or not loc.line:
        return []
    lines = source(loc.file)
    if not lines or loc.line > len(lines):
        return []
    raw = lines[loc.line - 1].rstrip("\r\n")
    number = str(loc.line)
    shown = fmt.truncate(fmt.clean(_SECRETISH.sub(r"\1(sensitive)\3", raw.expandtabs(4))), 160)
    out = [f"  {number} | {shown}"]
    if loc.column:
        # Tabs widen the line as shown: the caret goes under the same character.
        width = len(raw[: loc.column - 1].expandtabs(4))
        if width < len(shown):
            caret = paint("^", RED if d.severity is Severity.ERROR else YELLOW)
            out.append(f"  {' ' * len(number)} | {' ' * width}{caret}")
    return out


def _diagnostic_lines(d: Diagnostic, paint: Painter, source: SourceLines | None = None) -> list[str]:
    """`Error: file:line:col: message` (or `Warning: ...`), the source line with a caret, the hint."""
    where = str(d.location) if d.location else (d.address or "")
    head = f"{d.severity.value.capitalize()}: " + (f"{where}: " if where else "") + d.message
    if d.address and d.location:
        head += f" [{d.address}]"
    first, *rest = fmt.clean_lines(head)
    code = RED if d.severity is Severity.ERROR else YELLOW
    out = [paint(first, code, BOLD), *rest]
    out.extend(_source_excerpt(d, source, paint))
    if d.hint:
        out.extend(paint(line, DIM) for line in fmt.clean_lines(f"  hint: {d.hint}"))
    return out


def render_diagnostics(diags: Sequence[Diagnostic], *, color: bool, source: SourceLines | None = None) -> str:
    """Each diagnostic as `Error: file:line:col: message` (warnings `Warning:`), the offending
    source line with a caret when `source` gives the file's lines, and the hint; then the counts."""
    paint = Painter(color)
    out: list[str] = []
    for d in diags:
        out.extend(_diagnostic_lines(d, paint, source))
    errors = sum(1 for d in diags if d.severity is Severity.ERROR)
    warnings = len(diags) - errors
    out.append(paint(f"{errors} error(s), {warnings} warning(s)", BOLD))
    return "\n".join(out)


_MARKS = {
    True: {"done": "✓", "failed": "✗", "skipped": "-"},
    False: {"done": "ok", "failed": "FAIL", "skipped": "skip"},
}
_MARK_COLOR = {"done": GREEN, "failed": RED, "skipped": YELLOW}


def outcome_marker(status: str, unicode: bool) -> str:
    return _MARKS[unicode][status]


def render_apply_human(result: ApplyResult, *, color: bool, unicode: bool = True, lines: bool = True) -> str:
    """One line per outcome (the changes an interrupt left unstarted counted on one line), the
    failures grouped by message, then the summary line.

    `unicode=False` writes `ok`/`FAIL`/`skip` instead of `✓`/`✗`/`-`, for consoles that cannot
    encode them. `lines=False` leaves out the per-outcome lines (already shown live by the
    progress observer).
    """
    paint = Painter(color)
    out: list[str] = []
    not_started: dict[str, int] = {}
    for outcome in result.outcomes if lines else ():
        reason = fmt.collapsible(outcome)
        if reason is not None:
            not_started[reason] = not_started.get(reason, 0) + 1
            continue
        status, text = fmt.outcome_parts(outcome)
        out.append(f"{paint(outcome_marker(status, unicode), _MARK_COLOR[status])} {text}")
    for reason, count in not_started.items():
        marker = paint(outcome_marker("skipped", unicode), _MARK_COLOR["skipped"])
        out.append(f"{marker} {fmt.collapsed_line(reason, count)}")
    failures = [o for o in result.outcomes if isinstance(o, Failed)]
    if failures:
        out.append("")
        out.append(paint(f"Failures ({len(failures)}):", RED, BOLD))
        groups: dict[str, list[str]] = {}
        for f in failures:
            groups.setdefault(fmt.failure_text(f), []).append(fmt.clean(str(f.change.address)))
        for message, addresses in groups.items():
            out.append(f"  {paint(message, RED)}")
            out.extend(f"    {a}" for a in addresses)
        unknown = sum(1 for f in failures if f.unknown)
        if unknown:
            out.append("")
            out.append(
                paint(
                    f"No answer came for {unknown} change(s): they may have been carried out. "
                    "Run `reconciler plan` to see the current state.",
                    YELLOW,
                )
            )
    if out:
        out.append("")
    out.append(apply_summary_line(result, paint))
    return "\n".join(out)


def apply_summary_line(result: ApplyResult, paint: Painter | None = None) -> str:
    """`Apply complete: N added, N changed, N replaced, N destroyed.` when every change was
    done, else `Apply failed: ...` (or `Apply interrupted: ...`) with the failed and skipped
    counts. The same convention as the plan's line: a replacement counts once, as replaced."""
    paint = paint or Painter(False)
    s = result.summary()
    done = f"{s.added} added, {s.changed} changed, {s.replaced} replaced, {s.destroyed} destroyed"
    if result.ok and not result.interrupted:
        return paint(f"Apply complete: {done}.", GREEN, BOLD)
    head = "Apply interrupted" if result.interrupted else "Apply failed"
    return paint(f"{head}: {done}; {s.failed} failed, {s.skipped} skipped.", RED, BOLD)
