"""Renderers of drift reports: human, JSON (stable, sorted), Markdown and a Slack payload.

Addresses, details and field paths come from live servers (anyone who can create a resource
there names it), so every renderer escapes them for its context, on top of the one escaping of
control and bidi characters all views share (`_format.clean`): Markdown through the plan's
Markdown helpers, Slack mrkdwn through `slack_escape` (`&`, `<`, `>` as entities, so that a
name cannot ping `@channel` or plant a link, and no backtick that could end a code span).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from reconciler.drift import DriftKind, DriftReport
from reconciler.plan import FieldChange
from reconciler.views import _format as fmt
from reconciler.views.markdown import code_span, escape_text

_TITLES = {
    DriftKind.CHANGED: "Changed on the server",
    DriftKind.MISSING: "Missing from the server",
    DriftKind.DUPLICATE: "Duplicate channels of a declared name",
    DriftKind.ORPHANED: "Managed by reconciler, no longer in the desired state",
    DriftKind.UNMANAGED: "Unmanaged (on the server, not in the desired state)",
    DriftKind.OWNED_ELSEWHERE: "Owned by another scope (not touched)",
}
_COLORS = {
    DriftKind.CHANGED: "33",
    DriftKind.MISSING: "31",
    DriftKind.DUPLICATE: "31",
    DriftKind.ORPHANED: "35",
    DriftKind.UNMANAGED: "36",
    DriftKind.OWNED_ELSEWHERE: "2",
}


def _value(value: Any) -> str:
    return fmt.truncate(fmt.clean(json.dumps(value, ensure_ascii=False, sort_keys=True)), 120)


# Slack shows this instead of a backtick: a look-alike (U+02CB) that does not end a code span.
SLACK_BACKTICK = "\u02cb"


def slack_escape(text: str) -> str:
    """Untrusted text for Slack mrkdwn: shown as written, never as a mention, link or markup
    that breaks out of a code span. Slack's rule: `&`, `<` and `>` are written as entities."""
    text = fmt.clean(text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("`", SLACK_BACKTICK)


def _side(value: Any, sensitive: bool) -> str:
    """One side of a drifted field: JSON, or the bare mask for a sensitive one (in quotes it
    would read as if `(sensitive)` were the value)."""
    if sensitive:
        return "null" if value is None else "(sensitive)"
    return _value(value)


def _forces(field: FieldChange) -> str:
    """The plan's marker of a field whose change forces the replacement."""
    return " # forces replacement" if field.forces_replacement else ""


def summary_line(report: DriftReport) -> str:
    if not report.drifted:
        return "No drift: the live state matches the desired state."
    counts = report.counts()
    duplicates = f"{counts['duplicate']} duplicate, " if counts["duplicate"] else ""
    # Counted as the plan counts them: a replacement is one resource, replaced.
    replaced = f" ({report.replacements} to be replaced)" if report.replacements else ""
    return (
        f"Drift: {counts['changed']} changed{replaced}, {counts['missing']} missing, {duplicates}"
        f"{counts['orphaned']} orphaned, {counts['unmanaged']} unmanaged."
    )


def render_drift_human(report: DriftReport, *, color: bool = False) -> str:
    def paint(text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if color else text

    lines: list[str] = []
    for kind in DriftKind:
        items = [i for i in report.items if i.kind is kind]
        if not items:
            continue
        lines.append(paint(f"{_TITLES[kind]} ({len(items)}):", "1"))
        for item in items:
            lines.append(f"  {paint('!', _COLORS[kind])} {fmt.clean(item.address)}: {fmt.clean(item.detail)}")
            for f in item.fields:
                live, want = _side(f.before, f.sensitive), _side(f.after, f.sensitive)
                lines.append(f"      {fmt.clean(f.path)}: live {live}, desired {want}{_forces(f)}")
        lines.append("")
    lines.append(summary_line(report))
    return "\n".join(lines)


def render_drift_json(report: DriftReport) -> str:
    # JSON already escapes C0 controls; C1 controls and bidi characters are escaped too (the
    # same JSON value), so that the report can be printed on a terminal as it is.
    return fmt.json_escape_unsafe(json.dumps(report.to_dict(), indent=2, sort_keys=True, ensure_ascii=False))


def render_drift_markdown(report: DriftReport, *, max_chars: int = 60_000) -> str:
    out = [f"## reconciler drift report\n\n**{summary_line(report)}**\n"]
    size = len(out[0])
    left_out = 0
    for kind in DriftKind:
        items = [i for i in report.items if i.kind is kind]
        if not items:
            continue
        head = f"\n<details><summary>{_TITLES[kind]} ({len(items)})</summary>\n\n"
        out.append(head)
        size += len(head)
        for item in items:
            line = f"- {code_span(item.address)}: {escape_text(item.detail)}\n"
            for f in item.fields:
                live, want = _side(f.before, f.sensitive), _side(f.after, f.sensitive)
                forces = " (forces replacement)" if f.forces_replacement else ""
                line += f"  - {code_span(f.path)}: live {code_span(live)}, desired {code_span(want)}{forces}\n"
            if size + len(line) > max_chars - 200:
                left_out += 1
                continue
            out.append(line)
            size += len(line)
        out.append("\n</details>\n")
        size += 12
    if left_out:
        out.append(f"\n_{left_out} more item(s) left out to stay within the comment size limit._\n")
    return "".join(out)


def slack_context(environment: str | None, servers: Sequence[str], files: Sequence[str]) -> str:
    """One mrkdwn line saying what a message is about: the environment, servers and files."""
    parts = []
    if environment:
        parts.append(f"*Environment:* {slack_escape(environment)}")
    if servers:
        parts.append("*Servers:* " + ", ".join(slack_escape(s) for s in servers))
    if files:
        parts.append("*Desired state:* " + ", ".join(slack_escape(f) for f in files))
    return " · ".join(parts)


# Slack refuses a section text over 3,000 characters.
_SLACK_SECTION_CHARS = 2_900


def render_drift_slack(
    report: DriftReport,
    *,
    title: str = "reconciler drift report",
    environment: str | None = None,
    servers: Sequence[str] = (),
    files: Sequence[str] = (),
    limit: int = 20,
) -> dict[str, Any]:
    """A Slack-compatible webhook payload: `text` for notifications, `blocks` for the body.

    The title names the environment, a context line the servers (`servers`, e.g. names with
    their hosts; the report's server names by default) and the desired-state files. Every
    untrusted piece is escaped for mrkdwn."""
    if environment:
        title = f"{title} ({fmt.clean(environment)})"
    lines = [
        f"*{kind.value}* `{slack_escape(i.address)}`: {slack_escape(i.detail)}"
        for kind in DriftKind
        for i in report.items
        if i.kind is kind
    ]
    shown: list[str] = []
    size = 0
    for line in lines[:limit]:
        line = fmt.truncate(line, 500)
        if size + len(line) + 1 > _SLACK_SECTION_CHARS - 40:
            break
        shown.append(line)
        size += len(line) + 1
    if len(lines) > len(shown):
        shown.append(f"_…and {len(lines) - len(shown)} more_")
    context = slack_context(environment, servers or report.servers, files)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": fmt.truncate(title, 150)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": summary_line(report)}},
    ]
    if context:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    if shown:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(shown)}})
    return {"text": f"{slack_escape(title)}: {summary_line(report)}", "blocks": blocks}
