"""Renderers of drift reports: human, JSON (stable, sorted), Markdown and a Slack payload."""

from __future__ import annotations

import json
from typing import Any

from reconciler.drift import DriftKind, DriftReport

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
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 120 else text[:119] + "…"


def summary_line(report: DriftReport) -> str:
    if not report.drifted:
        return "No drift: the live state matches the desired state."
    counts = report.counts()
    duplicates = f"{counts['duplicate']} duplicate, " if counts["duplicate"] else ""
    return (
        f"Drift: {counts['changed']} changed, {counts['missing']} missing, {duplicates}"
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
            lines.append(f"  {paint('!', _COLORS[kind])} {item.address}: {item.detail}")
            for f in item.fields:
                lines.append(f"      {f.path}: live {_value(f.before)}, desired {_value(f.after)}")
        lines.append("")
    lines.append(summary_line(report))
    return "\n".join(lines)


def render_drift_json(report: DriftReport) -> str:
    return json.dumps(report.to_dict(), indent=2, sort_keys=True, ensure_ascii=False)


def _md(text: str) -> str:
    for ch in ("\\", "|", "`", "*", "_", "<", ">", "[", "]"):
        text = text.replace(ch, "\\" + ch)
    return text


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
            line = f"- `{item.address.replace('`', '')}`: {_md(item.detail)}\n"
            for f in item.fields:
                live, want = _value(f.before).replace("`", ""), _value(f.after).replace("`", "")
                line += f"  - `{f.path}`: live `{live}`, desired `{want}`\n"
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


def render_drift_slack(
    report: DriftReport, *, title: str = "reconciler drift report", limit: int = 20
) -> dict[str, Any]:
    """A Slack-compatible webhook payload: `text` for notifications, `blocks` for the body."""
    lines = [f"*{kind.value}* `{i.address}`: {i.detail}" for kind in DriftKind for i in report.items if i.kind is kind]
    shown = lines[:limit]
    if len(lines) > limit:
        shown.append(f"_…and {len(lines) - limit} more_")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title}},
        {"type": "section", "text": {"type": "mrkdwn", "text": summary_line(report)}},
    ]
    if shown:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(shown)[:2900]}})
    return {"text": f"{title}: {summary_line(report)}", "blocks": blocks}
