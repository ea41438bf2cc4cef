"""The command as a real process: exit codes, what goes to stdout and what to stderr, no colour
when the output is not a terminal (even without NO_COLOR)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.cli.conftest import ANSI, BASIC_ADDRESSES, World, run_in_terminal


@pytest.mark.slow
def test_plan_apply_plan_as_processes(world: World) -> None:
    path = world.desired()
    plan_file = world.tmp / "plan.json"
    plan = world.process(
        "plan", path, "--detailed-exitcode", "--format", "json", "--out", plan_file
    )
    assert plan.code == 2, plan.stderr
    # stdout is exactly the JSON document; the notes (which sandbox database, where the plan
    # was saved) went to stderr. The plan created no database.
    doc = json.loads(plan.stdout)
    assert {c["address"] for c in doc["changes"]} == set(BASIC_ADDRESSES)
    assert plan.stderr.strip().split("\n") == [
        f"Sandbox database {world.tmp / 's.db'} (servers kubiya, orkes, console): "
        "does not exist yet; read as an empty sandbox, not created.",
        f"Saved the plan to {plan_file}; apply it with: reconciler apply {plan_file}",
    ]
    assert not (world.tmp / "s.db").exists()

    applied = world.process("apply", plan_file)
    assert applied.code == 0, applied.stderr
    assert applied.stdout.rstrip().endswith("Apply complete: 5 added, 0 changed, 0 replaced, 0 destroyed.")
    assert "+ integration.kubiya.pg-main" in applied.stdout  # the plan, on stdout
    # One plain line per outcome, the record, on stdout before the summary; stderr says which
    # database was used (the apply creates it).
    outcome_lines = [line for line in applied.stdout.splitlines() if ": created (id " in line]
    assert len(outcome_lines) == 5, applied.stdout
    assert applied.stderr.strip() == (
        f"Sandbox database {world.tmp / 's.db'} (servers kubiya, orkes, console): does not exist yet; created."
    )
    assert ANSI not in plan.stdout + plan.stderr + applied.stdout + applied.stderr

    again = world.process("plan", path, "--detailed-exitcode")
    assert again.code == 0
    assert again.stdout.strip() == "No changes. The live state matches the desired state."
    assert again.stderr.strip() == f"Sandbox database {world.tmp / 's.db'} (servers kubiya, orkes, console)."


def test_errors_go_to_stderr_with_exit_code_1(world: World) -> None:
    bad = world.desired("integrations:\n  - {name: x, server: nowhere, type: redis, config: {}}\n")
    invalid = world.process("validate", bad)
    assert invalid.code == 1
    assert invalid.stdout == ""
    assert (
        f"{bad}:" in invalid.stderr
    )
    assert (
        "integration 'x' names server 'nowhere'" in invalid.stderr
    )
    assert "Traceback" not in invalid.stderr

    unconfirmed = world.process("apply", world.desired())
    assert unconfirmed.code == 1
    assert "Plan: 5 to add" in unconfirmed.stdout
    assert unconfirmed.stderr.split("\n")[1].startswith(
        "Error: apply needs confirmation, and standard input is not a terminal"
    )
    assert ANSI not in unconfirmed.stderr

    usage = world.process("plan", "--max-changes", "many", world.desired())
    assert usage.code == 1  # a usage error: 2 means only changes or drift
    assert "Invalid value for '--max-changes'" in usage.stderr
    assert usage.stdout == ""


def test_on_a_terminal_apply_asks_and_only_yes_approves(world: World) -> None:
    path = world.desired()
    declined = run_in_terminal(world, "apply", path, answer="y")
    assert declined.code == 1, declined.stdout
    assert "Do you want to perform these actions? Only 'yes' will be accepted" in declined.stdout
    assert "Apply cancelled." in declined.stdout
    assert world.integrations() == []

    approved = run_in_terminal(world, "apply", path, answer="yes")
    assert approved.code == 0, approved.stdout
    assert "Apply complete: 5 added, 0 changed, 0 replaced, 0 destroyed." in approved.stdout
    assert sorted(world.integration_names()) == ["cache", "pg-main"]


@pytest.mark.slow
def test_colour_on_a_terminal_unless_no_color(world: World) -> None:
    path = world.desired()
    coloured = run_in_terminal(world, "plan", path)
    assert coloured.code == 0
    assert ANSI in coloured.stdout
    for off in ({"NO_COLOR": "1"}, {"TERM": "dumb"}):
        plain = run_in_terminal(world, "plan", path, env=off)
        assert plain.code == 0
        assert ANSI not in plain.stdout, off
        assert "Plan: 5 to add, 0 to change, 0 to replace, 0 to destroy." in plain.stdout
    flag = run_in_terminal(world, "plan", path, "--no-color")
    assert ANSI not in flag.stdout


# A command whose result says when it is freed, run as the executable runs commands.
KEEPS_UNTIL_EXIT = """\
import sys, weakref
from reconciler.cli.process import run_command, run_executable

class Result:
    pass

async def command():
    return Result()

def main():
    result = run_command(command())
    weakref.finalize(result, print, "freed", flush=True)
    print("returned", flush=True)

run_executable(main)
"""


def test_the_executable_keeps_a_command_s_result_until_the_process_ends() -> None:
    proc = subprocess.run([sys.executable, "-c", KEEPS_UNTIL_EXIT], capture_output=True, text=True, check=False)
    assert (proc.returncode, proc.stdout) == (0, "returned\n")
