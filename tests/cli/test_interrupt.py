"""Interrupting `reconciler apply` (a real subprocess, a served sandbox with latency).

Ctrl-C stops new changes, lets the calls in flight finish and says what was and was not done;
SIGKILL gives no chance to say anything. Either way a second apply converges, without
duplicates.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable

import httpx
import pytest

from tests.cli.conftest import CREDS_ENV, World, integrations_yaml, process_env
from tests.served import TLS

COUNT = 40


def desired_text(world: World) -> str:
    # Two requests in flight at most, so that the apply lasts a few seconds at 200 ms each.
    assert world.served is not None
    return (
        "servers:\n"
        "  kubiya:\n"
        "    kind: kubiya\n"
        f'    url: "{world.served.url}"\n'
        "    token: ${env:RC_KUBIYA_TOKEN}\n"
        "    parallelism: 2\n" + integrations_yaml([f"svc-{i:02d}" for i in range(COUNT)])
    )


def start(world: World, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "reconciler.cli", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=process_env(CREDS_ENV),
        cwd=world.tmp,
    )


def wait_for(
    condition: Callable[[], bool], proc: subprocess.Popen[bytes], timeout: float = 20
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(
                f"exited early ({proc.returncode}):\n{out.decode()}\n{err.decode()}"
            )
        time.sleep(0.02)
    proc.kill()
    raise AssertionError("the condition never came true")


def svc_count(world: World) -> int:
    """How many of the desired integrations exist (the apply lock is an integration too)."""
    return sum(1 for name in world.integration_names() if name.startswith("svc-"))


def settled(world: World, timeout: float = 20) -> None:
    """Wait until the served sandbox has answered every request it started."""
    assert world.served is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = httpx.get(world.served.url + "/_sandbox/stats", timeout=5, verify=TLS).json()
        if stats["in_flight"] == 0:
            return
        time.sleep(0.02)
    raise AssertionError("the sandbox still has requests in flight")


def requests_by_method(world: World) -> dict[str, int]:
    assert world.served is not None
    stats = httpx.get(world.served.url + "/_sandbox/stats", timeout=5, verify=TLS).json()
    by_method: dict[str, int] = stats["by_method"]
    return by_method


@pytest.mark.slow
def test_ctrl_c_stops_new_changes_and_reports_what_was_done(served_world: World) -> None:
    world = served_world
    path = world.write("desired.yaml", desired_text(world))
    world.faults(latency_ms=200)
    proc = start(world, "apply", str(path), "--auto-approve")
    wait_for(lambda: svc_count(world) >= 1, proc)
    proc.send_signal(signal.SIGINT)
    out_b, err_b = proc.communicate(timeout=30)
    out, err = out_b.decode(), err_b.decode()
    assert proc.returncode == 1, out + err
    assert "Traceback" not in out + err
    assert "Interrupted: no new changes start; waiting for the calls in flight..." in err
    summary = re.search(
        r"^Apply interrupted: (\d+) added, 0 changed, 0 replaced, 0 destroyed; 0 failed, (\d+) skipped\.$",
        out,
        re.M,
    )
    assert summary, out
    added, skipped = int(summary.group(1)), int(summary.group(2))
    assert added >= 1
    assert skipped >= 1
    assert added + skipped == COUNT
    # The record on stdout: one line per change made, one line counting those not started.
    created = re.findall(r"^\S+ integration\.kubiya\.(svc-\d\d): created", out, re.M)
    assert len(created) == added
    assert f"- {skipped} changes not started: the apply was interrupted" in out
    assert "create skipped" not in out + err
    names = world.integration_names()
    assert set(names) == set(created)
    assert max(names.values()) == 1

    world.faults()
    again = world.run("apply", path, "--auto-approve")
    assert again.exit_code == 0, again.output
    assert f"Apply complete: {skipped} added, 0 changed, 0 replaced, 0 destroyed." in again.stdout
    assert world.run("plan", path, "--detailed-exitcode").exit_code == 0
    names = world.integration_names()
    assert len(names) == COUNT
    assert max(names.values()) == 1


def test_sigkill_mid_apply_then_apply_converges_without_duplicates(served_world: World) -> None:
    world = served_world
    path = world.write("desired.yaml", desired_text(world))
    world.faults(latency_ms=200)
    proc = start(world, "apply", str(path), "--auto-approve")
    wait_for(lambda: svc_count(world) >= 2, proc)
    proc.kill()
    proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    # The calls that were in flight still land on the server: wait for them.
    settled(world)
    partial = Counter(n for n in world.integration_names().elements() if n.startswith("svc-"))
    assert 0 < len(partial) < COUNT

    world.faults()
    # The killed apply could not release its lock: the next one is refused, naming it, until
    # the lock is removed by hand.
    refused = world.run("apply", path, "--auto-approve")
    assert refused.exit_code == 1
    assert "another apply holds the lock 'reconciler-lock'" in refused.stderr
    assert world.run("force-unlock", path, "--server", "kubiya").exit_code == 0
    again = world.run("apply", path, "--auto-approve")
    assert again.exit_code == 0, again.output
    assert f"Apply complete: {COUNT - len(partial)} added, 0 changed, 0 replaced, 0 destroyed." in again.stdout
    names = world.integration_names()
    assert sorted(names) == [f"svc-{i:02d}" for i in range(COUNT)]
    assert max(names.values()) == 1
    assert world.run("plan", path, "--detailed-exitcode").exit_code == 0


def test_ctrl_c_while_reading_aborts_cleanly(served_world: World) -> None:
    world = served_world
    path = world.write("desired.yaml", desired_text(world))
    world.faults(latency_ms=3000)
    proc = start(world, "plan", str(path))
    wait_for(lambda: requests_by_method(world).get("GET", 0) >= 1, proc)
    proc.send_signal(signal.SIGINT)
    out_b, err_b = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert "Traceback" not in (out_b + err_b).decode()
    assert err_b.decode().strip() == "Interrupted: nothing was changed."
    assert world.integrations() == []
