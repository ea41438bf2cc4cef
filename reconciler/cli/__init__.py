"""The `reconciler` command line: thin click commands over `engine.Session`.

This package is the only layer that prints, prompts or picks an exit code. Every
`ReconcilerError` becomes a clean message with its hint (never a traceback), and every line
written is scrubbed of the secret values the run resolved, as a last line of defence. Exit
codes: 0 success, 1 error, 2 "changes present" (`plan --detailed-exitcode`, `drift`).

- `app`: the command group (`main`); `options`: the shared options, each set packed into one
  frozen value; `output`: the scrubbing output, colour and error reports; `process`: running
  a command's coroutine and the executable's fast exit; `hooks`: the session's notes.
- One module per command group: `plan` (validate, plan), `apply`, `drift`, `export`
  (export, force-unlock), `sandbox`, `kit` (init, gitlab-note, schema, completion).
"""

from __future__ import annotations

from reconciler.cli import apply, drift, export, kit, plan, sandbox
from reconciler.cli.app import main
from reconciler.cli.drift import _notify
from reconciler.cli.output import OUT, Output, ScrubbingStream
from reconciler.cli.process import run_executable

__all__ = [
    "OUT",
    "Output",
    "ScrubbingStream",
    "_notify",
    "apply",
    "drift",
    "export",
    "kit",
    "main",
    "plan",
    "run",
    "sandbox",
]


def run() -> None:
    """The `reconciler` executable (the console script): `main` with the fast exit."""
    run_executable(main)
