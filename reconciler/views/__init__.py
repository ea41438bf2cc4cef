"""Renderers of plans, apply results and diagnostics: the core computes, the views render.

Every renderer is a function from a value to a string (no trailing newline), or to the parts
of one (`stream_plan`), so that the CLI decides where text goes; only the apply observers
write (`LineObserver` to the streams it is given, `ProgressObserver` to rich Consoles).
Views never talk to servers (an import-linter contract forbids `reconciler.platforms`, httpx
and the sandbox here) and never show a secret: sensitive fields are masked again on the way
out, whatever they hold, and the body of `Change.desired` (which holds the secrets) is never
rendered.

- `human`: Terraform-like text with optional ANSI colour.
- `jsonview`: JSON documents; the plan's shape is `schemas/plan.schema.json`.
- `markdown`: a size-bounded pull-request comment.
- `lines`: the plain apply observer (no terminal: CI, `--format json`, a file).
- `progress`: the live apply observer (a bar on the terminal).
"""

from __future__ import annotations

import importlib
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

    from reconciler.plan import Plan
    from reconciler.views.human import render_apply_human, render_diagnostics, render_plan_human
    from reconciler.views.jsonview import render_apply_json, render_diagnostics_json, render_plan_json
    from reconciler.views.lines import LineObserver
    from reconciler.views.markdown import render_plan_markdown
    from reconciler.views.progress import ProgressObserver


class OutputFormat(str, Enum):
    """The formats a command can write its result in."""

    HUMAN = "human"
    JSON = "json"
    MARKDOWN = "markdown"


# The renderers are imported when first used: a command that renders no plan (`validate`,
# `--help`) starts without the apply engine, rich and jinja2 that they import.
_HOMES = {
    "render_apply_human": "human",
    "render_diagnostics": "human",
    "render_plan_human": "human",
    "render_apply_json": "jsonview",
    "render_diagnostics_json": "jsonview",
    "render_plan_json": "jsonview",
    "render_plan_markdown": "markdown",
    "LineObserver": "lines",
    "ProgressObserver": "progress",
}


def render_plan(plan: Plan, fmt: OutputFormat, *, color: bool = False) -> str:
    """The plan in `fmt`, whole."""
    return "".join(stream_plan(plan, fmt, color=color))


def stream_plan(plan: Plan, fmt: OutputFormat, *, color: bool = False) -> Iterator[str]:
    """The plan in `fmt`, in parts to write one after the other (a large JSON plan is never
    held whole): the one place a plan's view is chosen."""
    # Only the chosen view is imported: each costs a cold start the others do not need.
    if fmt is OutputFormat.JSON:
        from reconciler.views import jsonview

        return jsonview.stream_plan_json(plan)
    if fmt is OutputFormat.MARKDOWN:
        from reconciler.views import markdown

        return iter((markdown.render_plan_markdown(plan),))
    from reconciler.views import human

    return iter((human.render_plan_human(plan, color=color),))


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)


__all__ = [
    "LineObserver",
    "OutputFormat",
    "ProgressObserver",
    "render_apply_human",
    "render_apply_json",
    "render_diagnostics",
    "render_diagnostics_json",
    "render_plan",
    "render_plan_human",
    "render_plan_json",
    "render_plan_markdown",
    "stream_plan",
]
