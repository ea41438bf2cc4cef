"""Ctrl-C under a pseudo-terminal: at the approval prompt, and twice during an apply.

Signals go to the child process once the terminal shows the text that proves it reached the
state under test (the prompt, the first interrupt's note); nothing here depends on timing.
The served sandbox's latency holds calls in flight so that a second Ctrl-C finds some.
"""

from __future__ import annotations

import re
import signal
import time

import httpx

from tests.cli.conftest import Terminal, World, integrations_yaml

PROMPT = "Only 'yes' will be accepted to approve"


def test_first_ctrl_c_at_the_prompt_cancels_at_once(world: World) -> None:
    path = world.desired()
    term = Terminal(world, "apply", path)
    term.read_until(PROMPT)
    term.signal(signal.SIGINT)
    done = term.finish()
    assert done.code == 1, done.stdout
    assert done.stdout.rstrip().endswith("Apply cancelled."), done.stdout
    assert "Aborted!" not in done.stdout
    assert "Traceback" not in done.stdout
    assert world.integrations() == []


def test_ctrl_d_at_the_prompt_cancels(world: World) -> None:
    path = world.desired()
    term = Terminal(world, "apply", path)
    term.read_until(PROMPT)
    import os

    os.write(term.leader, b"\x04")  # end of input, as the terminal sends it for Ctrl-D
    done = term.finish()
    assert done.code == 1
    assert done.stdout.rstrip().endswith("Apply cancelled.")
    assert world.integrations() == []


COUNT = 30


def screen(raw: str) -> list[str]:
    """The lines a terminal shows after `raw`: text, carriage returns, newlines, and the ANSI
    cursor-up (`ESC[nA`) and erase-line (`ESC[2K`) sequences a live bar redraws itself with;
    other control sequences (colours, cursor visibility) are dropped."""
    lines: list[list[str]] = [[]]
    row = col = 0
    for token in re.findall(r"\x1b\[[0-9;?]*[A-Za-z]|\r|\n|[^\x1b\r\n]", raw):
        if token == "\n":
            row += 1
            col = 0
            if row == len(lines):
                lines.append([])
        elif token == "\r":
            col = 0
        elif token.startswith("\x1b["):
            if token.endswith("A"):
                row = max(0, row - int(token[2:-1] or 1))
            elif token == "\x1b[2K":
                lines[row] = []
        else:
            line = lines[row]
            line.extend(" " * (col - len(line)))
            if col < len(line):
                line[col] = token
            else:
                line.append(token)
            col += 1
    return ["".join(line) for line in lines]


def _settled(world: World) -> bool:
    """Every request the sandbox received has been answered (or dropped)."""
    assert world.served is not None
    stats: dict[str, dict[str, int]] = httpx.get(world.served.url + "/_sandbox/stats", timeout=5).json()
    return sum(stats["by_method"].values()) == sum(stats["by_status"].values())


def test_second_ctrl_c_stops_at_once_and_says_what_was_in_flight(served_world: World) -> None:
    world = served_world
    assert world.served is not None
    path = world.write(
        "desired.yaml",
        "servers:\n  kubiya:\n    kind: kubiya\n"
        f'    url: "{world.served.url}"\n'
        "    token: ${env:RC_KUBIYA_TOKEN}\n    parallelism: 2\n"
        + integrations_yaml([f"svc-{i:02d}" for i in range(COUNT)]),
    )
    world.faults(latency_ms=2000)
    term = Terminal(world, "apply", path, "--auto-approve", env={"NO_COLOR": "1"})
    term.read_until("Plan: 30 to add")
    # Both slots hold a create that the sandbox's latency keeps in flight.
    while httpx.get(world.served.url + "/_sandbox/stats", timeout=5).json()["by_method"].get("POST", 0) < 2:
        time.sleep(0.02)
    term.signal(signal.SIGINT)
    term.read_until("Interrupted: no new changes start")
    term.signal(signal.SIGINT)
    done = term.finish()
    out = done.stdout
    assert done.code == 1, out
    assert "Aborted!" not in out
    assert "Traceback" not in out
    assert "Two interrupts received: stopped immediately, without waiting for the 2 call(s) in flight." in out
    assert "`reconciler apply` again reads the live state first and converges." in out
    # The in-flight ones are named, as possibly done; the rest counted on one line.
    block = out[out.index("stopped while in flight (second interrupt)") :]
    in_flight = re.findall(r"^    integration\.kubiya\.(svc-\d\d)$", block, re.M)
    assert len(in_flight) == 2
    assert "No answer came for 2 change(s): they may have been carried out." in out
    assert f"- {COUNT - 2} changes not started: the apply was interrupted" in out
    assert out.rstrip().endswith(f"Apply interrupted: 0 added, 0 changed, 0 replaced, 0 destroyed; 2 failed, {COUNT - 2} skipped.")
    # No frozen progress bar in what the terminal finally shows: every frame was erased.
    assert not [line for line in screen(out) if "Applying" in line], "\n".join(screen(out))

    world.faults()
    while not _settled(world):
        time.sleep(0.05)
    again = world.run("apply", path, "--auto-approve")
    assert again.exit_code == 0, again.output
    names = world.integration_names()
    assert sorted(names) == [f"svc-{i:02d}" for i in range(COUNT)]
    assert max(names.values()) == 1
