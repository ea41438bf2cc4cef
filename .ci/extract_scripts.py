"""Writes the shell scripts embedded in the composite action (`action.yml`) and the GitLab CI
example into DIR, one file per step or job, for shellcheck (actionlint checks the scripts of
workflows itself, not those of actions). Fails if an action's script pastes a `${{ }}`
expression: inputs must reach scripts through `env:`, never as shell code."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def main(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    problems = 0
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    for i, step in enumerate(action["runs"]["steps"]):
        if "run" not in step:
            continue
        if "${{" in step["run"]:
            print(f"action.yml: step {step.get('name', i)!r} pastes an expression into its script", file=sys.stderr)
            problems += 1
        # GitHub runs composite bash steps as `bash --noprofile --norc -eo pipefail`.
        (out / f"action-{i:02d}.sh").write_text("#!/usr/bin/env bash\nset -eo pipefail\n" + step["run"])
    gitlab = yaml.safe_load((ROOT / "examples" / "ci" / "gitlab-ci.yml").read_text())
    for name, job in gitlab.items():
        if isinstance(job, dict) and "script" in job:
            body = "\n".join([*job.get("before_script", []), *job["script"]])
            (out / f"gitlab-{name}.sh").write_text("#!/bin/sh\n" + body + "\n")
    return 1 if problems else 0


if __name__ == "__main__":
    # One argument, a directory: anything else (no argument, an option such as `--help`) prints
    # the usage instead of writing scripts into a folder named after it.
    if len(sys.argv) != 2 or sys.argv[1].startswith("-"):
        print(f"usage: {sys.argv[0]} DIR\n\n{__doc__}", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(Path(sys.argv[1])))
