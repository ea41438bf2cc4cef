"""What a pipeline shows when a command does not end with a plan or a report: a refusal or an
error, as Markdown (the pull-request comment, the job summary), as a drift report file and as a
Slack payload.

A pipeline posts whatever the command wrote; an empty file would leave the previous, outdated
comment or report in place. So every outcome has a rendering here: the refusal naming what it
refused, the diagnostics with their file positions, or the error with its hint. The text is
escaped like every view (`_format.clean`, the Markdown and Slack helpers).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from reconciler.errors import Diagnostic, Severity
from reconciler.views import _format as fmt
from reconciler.views.drift import slack_context, slack_escape
from reconciler.views.markdown import code_span, escape_text

# Diagnostics listed in full before "… N more".
MAX_LISTED = 50
_MAX_TEXT = 500


def _diagnostic_items(diagnostics: Sequence[Diagnostic]) -> list[str]:
    items = []
    for d in diagnostics[:MAX_LISTED]:
        first, *rest = str(d).split("\n")
        text = escape_text(fmt.truncate(first, _MAX_TEXT))
        for line in rest:
            text += "<br>" + escape_text(fmt.truncate(line.strip(), _MAX_TEXT))
        mark = "❌" if d.severity is Severity.ERROR else "⚠️"
        items.append(f"- {mark} {text}")
    if len(diagnostics) > MAX_LISTED:
        items.append(f"- {fmt.ELLIPSIS} {len(diagnostics) - MAX_LISTED} more")
    return items


def render_error_markdown(
    title: str, message: str, *, hint: str | None = None, diagnostics: Sequence[Diagnostic] = ()
) -> str:
    """Markdown of a command that failed: `title` (e.g. "Reconciler plan"), then the error's
    message and hint, or its diagnostics one per line."""
    out = [f"### ❌ {title} failed", ""]
    if diagnostics:
        errors = sum(1 for d in diagnostics if d.severity is Severity.ERROR)
        out += [f"{errors} error(s) in the desired state or the plan; nothing was changed.", ""]
        out += _diagnostic_items(diagnostics)
    else:
        out.append(f"**Error:** {escape_text(fmt.truncate(message, _MAX_TEXT))}")
        if hint:
            out += ["", f"_Hint:_ {escape_text(fmt.truncate(hint, _MAX_TEXT))}"]
    return "\n".join(out)


def render_refusal_markdown(reason: str, addresses: Sequence[str], *, hint: str | None = None) -> str:
    """Markdown saying that a plan was refused by a pipeline gate (`--fail-on`, `--max-changes`)
    and which changes it refused, to be shown above the plan."""
    out = [f"> [!CAUTION]\n> **Refused:** {escape_text(reason)}"]
    if hint:
        out.append(f"> {escape_text(hint)}")
    if addresses:
        out.append(">")
        shown = addresses[:MAX_LISTED]
        out += [f"> - {code_span(a)}" for a in shown]
        if len(addresses) > len(shown):
            out.append(f"> - {fmt.ELLIPSIS} {len(addresses) - len(shown)} more")
    return "\n".join(out)


def render_drift_error_json(
    message: str, *, hint: str | None = None, diagnostics: Sequence[Diagnostic] = (), servers: Sequence[str] = ()
) -> str:
    """The drift report file of a check that failed: no result, the error instead, so that a
    reader never takes the previous run's report for this one's."""
    document: dict[str, Any] = {
        "format": "reconciler-drift",
        "drifted": None,
        "error": {
            "message": message,
            "hint": hint,
            "diagnostics": [
                {
                    "severity": d.severity.value,
                    "code": d.code,
                    "message": d.message,
                    "location": str(d.location) if d.location else None,
                    "address": d.address,
                    "hint": d.hint,
                }
                for d in diagnostics
            ],
        },
        "servers": sorted(servers),
    }
    return fmt.json_escape_unsafe(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False))


def render_drift_error_slack(
    message: str, *, environment: str | None = None, servers: Sequence[str] = (), files: Sequence[str] = ()
) -> dict[str, Any]:
    """A Slack payload saying that the drift check itself failed (exit 1), and where."""
    where = f" ({fmt.clean(environment)})" if environment else ""
    title = f"reconciler drift check failed{where}"
    context = slack_context(environment, servers, files)
    body = f"The check did not run to the end: {slack_escape(fmt.truncate(message, _MAX_TEXT))}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": fmt.truncate(title, 150)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": body}},
    ]
    if context:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return {"text": f"{slack_escape(title)}: {body}", "blocks": blocks}
