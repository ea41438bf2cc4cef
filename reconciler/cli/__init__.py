"""The `reconciler` command line: thin click commands over `engine.Session`.

This package is the only layer that prints, prompts or picks an exit code. Every
`ReconcilerError` becomes a clean message with its hint (never a traceback), and every line
written is scrubbed of the secret values the run resolved, as a last line of defence. Exit
codes: 0 success, 1 error, 2 "changes present" (`plan --detailed-exitcode`, `drift`).

- `app`: the command group (`main`); `options`: the shared options, each set packed into one
  frozen value; `output`: the scrubbing output, colour and error reports; `process`: running
  a command's coroutine and the executable's fast exit; `hooks`: the session's notes.
- One module per command group: `plan` (validate, plan), `apply`, `drift`, `export`
  (export, force-unlock), `sandbox`, `kit` (init, gitlab-note, schema, completion); each is
  imported when one of its commands is first looked up (`app.COMMAND_MODULES`), so that a
  command's run starts without the others' modules.
"""

from __future__ import annotations

import importlib
from typing import Any

from reconciler.cli.app import main
from reconciler.cli.output import OUT, Output, ScrubbingStream
from reconciler.cli.process import run_executable

_COMMAND_GROUPS = ("apply", "drift", "export", "kit", "plan", "sandbox")

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


def __getattr__(name: str) -> Any:
    """The command modules (and drift's `_notify`), imported on first use like the commands."""
    if name in _COMMAND_GROUPS:
        return importlib.import_module(f"{__name__}.{name}")
    if name == "_notify":
        return importlib.import_module(f"{__name__}.drift")._notify
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
