"""The bench's harness: the served sandbox it measures against, the measured processes, timing.

`Sandbox` is the one served-sandbox harness of the repository (`tests.served.ServedSandbox`, which
the tests use too) with the bench's seed, database and log in its work directory. The tool and
the scripts it is compared with run as subprocesses started through a bare interpreter, so
that their peak RSS is their own (`run_process`). The credentials of the seed live here: the
desired files refer to them as `${env:...}`, set only in the environment of those processes.
"""

from __future__ import annotations

import gc
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.served import ServedSandbox, ServeError

# Credentials of the generated seed; the desired files refer to them as `${env:...}`, set in
# the environment of the subprocesses only (the tool refuses literal credentials).
KUBIYA_TOKEN = "bench-kubiya-token"
ORKES_KEY_ID = "bench-key-id"
ORKES_KEY_SECRET = "bench-key-secret"
CONSOLE_KEY = "sk_bench"
AGENT = "agt_bench"
ENV = {
    "BENCH_KUBIYA_TOKEN": KUBIYA_TOKEN,
    "BENCH_ORKES_KEY_ID": ORKES_KEY_ID,
    "BENCH_ORKES_KEY_SECRET": ORKES_KEY_SECRET,
    "BENCH_CONSOLE_API_KEY": CONSOLE_KEY,
    "BENCH_OPENAI_KEY": "sk-bench-openai-0123456789",
    "BENCH_CHANNEL_TOKEN": "bench-channel-token-0123456789",
    "NO_COLOR": "1",
}

KUBIYA_BASE = "/api/v1/custom-integrations"
CONSOLE_BASE = f"/api/v1/console/agents/{AGENT}/integrations"
CONDUCTOR_BULK = "/api/integrations/"


class BenchError(Exception):
    """Something is functionally wrong: the numbers would mean nothing."""


# -- the served sandbox --------------------------------------------------------------------


def seed_yaml(channels: int) -> str:
    seed = {
        "kubiya": {"tokens": {KUBIYA_TOKEN: "bench"}},
        "conductor": {
            "keys": [{"id": ORKES_KEY_ID, "secret": ORKES_KEY_SECRET, "organization": "bench"}],
            "token_ttl_seconds": 2700,
        },
        "console": {
            "api_keys": [{"key": CONSOLE_KEY, "team": "bench", "scopes": ["integrations:read", "integrations:write"]}],
            # The default agents allow 25 channels; the large plan needs thousands (and the
            # apply of the plan's changes replaces some: old and new may be live at once).
            "agents": [{"id": AGENT, "team": "bench", "workflow": True, "channel_limit": max(1_000_000, 2 * channels)}],
            "idempotency_window_seconds": 86400,
        },
    }
    return yaml.safe_dump(seed, sort_keys=False)


class Sandbox(ServedSandbox):
    """`reconciler sandbox serve` with the bench's seed; its database and log in the work directory."""

    def __init__(self, workdir: Path, channels: int) -> None:
        seed = workdir / "seed.yaml"
        seed.write_text(seed_yaml(channels), encoding="utf-8")
        log_path = workdir / "sandbox.log"
        self._log = log_path.open("wb")
        try:
            super().__init__(
                "--seed",
                str(seed),
                db=str(workdir / "sandbox.db"),
                cwd=workdir,
                stderr=self._log,
                startup_s=30,
                admin_timeout_s=30,
            )
        except ServeError as exc:
            self._log.close()
            raise BenchError(f"{exc}; see {log_path}") from exc

    def stop(self) -> None:
        super().stop()
        self._log.close()


def server_of(route: str) -> str:
    """The API a stats route (`METHOD /path`) belongs to."""
    path = route.partition(" ")[2]
    if path.startswith(KUBIYA_BASE):
        return "kubiya"
    if path.startswith("/api/v1/console"):
        return "console"
    return "orkes"


def per_server(stats: Mapping[str, Any]) -> dict[str, int]:
    out = {"kubiya": 0, "orkes": 0, "console": 0}
    for route, count in stats.get("by_route", {}).items():
        out[server_of(route)] += int(count)
    return out


def conductor_token(client: httpx.Client) -> str:
    response = client.post("/api/token", json={"keyId": ORKES_KEY_ID, "keySecret": ORKES_KEY_SECRET})
    response.raise_for_status()
    return str(response.json()["token"])


# -- running the tool ----------------------------------------------------------------------


@dataclass(frozen=True)
class CliRun:
    wall_s: float
    peak_mb: float
    cpu_s: float
    code: int
    stdout: str
    stderr: str


def tool_command() -> list[str]:
    """The `reconciler` script installed beside this interpreter (what a user runs), else
    `python -m reconciler.cli`."""
    script = Path(sys.executable).parent / "reconciler"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "reconciler.cli"]


# Linux keeps a process's peak RSS across exec, and a child started with vfork (as subprocess
# and posix_spawn start it) begins with its parent's: measured from this process, every run
# would show at least the bench's own size (the documents it generated: over 100 MB at 10k).
# A bare interpreter in between starts the command and reports the command's own rusage (its
# peak is then at least the spawner's ~10 MB, far below any run of the tool). Its wall time
# covers the command alone.
SPAWNER = """\
import os, sys, time
started = time.perf_counter()
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - started
with open(sys.argv[1], "w") as report:
    report.write(f"{wall} {usage.ru_maxrss} {usage.ru_utime + usage.ru_stime} {os.waitstatus_to_exitcode(status)}")
"""


def run_process(argv: Sequence[str], workdir: Path) -> CliRun:
    """Runs ARGV with the bench's environment; wall time, CPU and peak RSS of that process."""
    out_path, err_path, report = workdir / "cli.out", workdir / "cli.err", workdir / "cli.rusage"
    report.unlink(missing_ok=True)
    with out_path.open("wb") as out, err_path.open("wb") as err:
        spawner = subprocess.run(
            [sys.executable, "-S", "-I", "-c", SPAWNER, str(report), *argv],
            cwd=workdir,
            env={**os.environ, **ENV},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            check=False,
        )
    if spawner.returncode != 0 or not report.exists():
        tail = err_path.read_text(encoding="utf-8", errors="replace").strip()[-500:]
        raise BenchError(f"could not run {argv[0]}: {tail}")
    wall, maxrss_kib, cpu, code = report.read_text(encoding="utf-8").split()
    return CliRun(
        float(wall),
        int(maxrss_kib) * 1024 / 1e6,  # ru_maxrss is in KiB on Linux; MB (10^6 bytes) here
        float(cpu),
        int(code),
        out_path.read_text(encoding="utf-8", errors="replace"),
        err_path.read_text(encoding="utf-8", errors="replace"),
    )


def cli(args: Sequence[str], workdir: Path, profile: Path | None = None) -> CliRun:
    """Runs the tool with ARGS (under cProfile, through `-m`, when `profile` is given)."""
    if profile is not None:
        return run_process(
            [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "reconciler.cli", *args], workdir
        )
    return run_process([*tool_command(), *args], workdir)


def cli_ok(run: CliRun, what: str, codes: Iterable[int] = (0,)) -> CliRun:
    if run.code not in tuple(codes):
        tail = "\n".join((run.stderr or run.stdout).strip().splitlines()[-15:])
        raise BenchError(f"{what}: exit {run.code}\n{tail}")
    return run


def files(paths: Sequence[Path]) -> list[str]:
    return [str(p) for p in paths]


# -- timing ------------------------------------------------------------------------------


def timed_parse(parse: Callable[[], list[Any]], collect: bool) -> float:
    """Seconds `parse` takes; the values it returns are freed only after the clock stops (the
    tool does not free its state before it exits either). With `collect` false the cyclic
    garbage collector is paused meanwhile: the hundreds of thousands of containers a parse
    allocates would make it rescan the heap again and again, and the tool pauses it too, so
    only that is a true floor."""
    gc.collect()
    if not collect:
        gc.disable()
    try:
        started = time.perf_counter()
        kept = parse()
        elapsed = time.perf_counter() - started
        del kept
    finally:
        gc.enable()
    return elapsed


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ratio(a: float, b: float) -> float:
    return a / b if b else float("inf")


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)
