"""Renderers of plans, apply results and diagnostics: the core computes, the views render.

Every renderer is a function from a value to a string (no trailing newline), so that the CLI
decides where text goes; only `ProgressObserver` writes, to the rich Console it is given.
Views never talk to servers (an import-linter contract forbids `reconciler.platforms`, httpx
and the sandbox here) and never show a secret: sensitive fields are masked again on the way
out, whatever they hold, and the body of `Change.desired` (which holds the secrets) is never
rendered.

- `human`: Terraform-like text with optional ANSI colour.
- `jsonview`: JSON documents; the plan's shape is `schemas/plan.schema.json`.
- `markdown`: a size-bounded pull-request comment.
- `progress`: the live apply observer.
"""

from __future__ import annotations

from enum import Enum

from reconciler.views.human import render_apply_human, render_diagnostics, render_plan_human
from reconciler.views.jsonview import render_apply_json, render_diagnostics_json, render_plan_json
from reconciler.views.markdown import render_plan_markdown
from reconciler.views.progress import ProgressObserver


class OutputFormat(str, Enum):
    """The formats a command can write its result in."""

    HUMAN = "human"
    JSON = "json"
    MARKDOWN = "markdown"


__all__ = [
    "OutputFormat",
    "ProgressObserver",
    "render_apply_human",
    "render_apply_json",
    "render_diagnostics",
    "render_diagnostics_json",
    "render_plan_human",
    "render_plan_json",
    "render_plan_markdown",
]
