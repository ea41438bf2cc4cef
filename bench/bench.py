"""Performance benchmark of `reconciler plan` and `reconciler apply` against a served sandbox.

Starts `reconciler sandbox serve` on a free loopback port (temp database, a generated seed
whose console agent allows every channel of the run), injects the same latency into every
request of every timed job (`PUT /_sandbox/faults`), and prints one report:

0. cold start: `reconciler --help` and `reconciler plan` of a 21-resource file (empty server),
   beside a bare interpreter and the imports a plan loads (medians of alternating runs);
1. large plan: about 10,000 desired resources (`--size N` scales every kind), 10% of them
   differing from the live state; in each round the plan, then the two floors, then a sample
   of the one-request-at-a-time loop, so load on the shared machine hits all of them alike;
   1b (information, no target): applying those 10%, then a plan that must be clean;
2. large apply: 1,000 Kubiya creates on an empty server; in each round the tool, a thread-pool
   script of the same parallelism (what a competent user would write: one list, then the
   POSTs from a pool) and the same script with one worker (sampled, extrapolated); the tool
   against its latency floor (requests / parallelism x latency) and against both scripts.

Two floors, both reported: the "C loader" floor (the desired YAML with PyYAML's CSafeLoader,
the live list responses with json) and the tight floor (the tool's own YAML reader,
`reconciler.desired.safeyaml.parse`, without validation, plus orjson for the live bodies), each
with the garbage collector paused and the parsed values kept until the clock stops.

`--scaling 1000,10000,50000` runs only the plan at each size and prints N, wall, peak RSS,
KiB and microseconds per resource (beyond a 21-resource plan), and the slope between sizes.

The tool always runs as a subprocess (the `reconciler` script beside this interpreter, else
`python -m reconciler.cli`), as a user would run it, so its times include interpreter start-up
and imports. The targets are reported (PASS/MISS), never enforced: the exit status is 1 only
when something is functionally wrong (a seeded state that does not plan clean, a plan with the
wrong number of changes, an apply that fails or leaves changes behind, a baseline that does not
create what it should). `--small` is the CI variant: a few hundred resources, 5 ms latency,
well under a minute, targets not checked. `--profile DIR` also runs the plan and the apply once
more under cProfile (`DIR/plan.prof`, `DIR/apply.prof`) and prints their hotspots.

Run from a checkout after `pip install -e .`:
    python bench/bench.py [--small] [--size N] [--runs K] [--json FILE]
    python bench/bench.py --scaling 1000,10000,50000
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import gc
import json
import os
import pstats
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import yaml

from reconciler.desired import safeyaml
from reconciler.model import MANAGED_TAG

try:
    import orjson

    JSON_READER = "orjson"
    json_loads: Callable[[bytes], Any] = orjson.loads
except ImportError:  # pragma: no cover - orjson is a dependency of the tool
    JSON_READER = "json"
    json_loads = json.loads

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
KUBIYA_TYPES = ("postgres", "redis", "http", "s3")
# One in ten resources of every kind differs from the live state in the large plan.
MODIFIED_EVERY = 10
MODIFIED_AT = 3
# A desired file larger than this is written as several files: the tool refuses files over
# its own bound (10 MiB by default). A 50,000-resource plan is one file of about 9.4 MB, as
# in the measurements of issue 17; larger sizes are split.
MAX_FILE_BYTES = safeyaml.DEFAULT_LIMITS.max_bytes * 95 // 100


@dataclass(frozen=True)
class Sizes:
    """What one run measures. `integrations`, `providers` x `models_per_provider` and
    `channels` make the large plan; `apply_integrations` the large apply (Kubiya creates);
    `baseline_sample`: resources each baseline loop may touch in all before it is extrapolated;
    `runs`: alternating rounds of the plan and apply jobs (medians count; the machine may be
    shared); `startup_runs`: rounds of the cold-start job."""

    integrations: int
    providers: int
    models_per_provider: int
    channels: int
    apply_integrations: int
    latency_ms: float
    baseline_sample: int
    runs: int
    startup_runs: int
    parallelism: int = 64
    batch_size: int = 50

    @property
    def plan_resources(self) -> int:
        return self.integrations + self.providers * (1 + self.models_per_provider) + self.channels


FULL = Sizes(5000, 400, 9, 1000, 1000, latency_ms=25.0, baseline_sample=500, runs=3, startup_runs=5)
SMALL = Sizes(150, 10, 9, 50, 50, latency_ms=5.0, baseline_sample=60, runs=1, startup_runs=3)
# The cold-start file: 10 integrations, one provider with 9 models, one channel.
TINY = replace(SMALL, integrations=10, providers=1, channels=1)


def scaled(sizes: Sizes, total: int) -> Sizes:
    """`sizes` with every kind of the large plan scaled so the plan holds about `total`
    resources (the proportions of FULL: half integrations, 40% providers with their models,
    10% channels)."""
    factor = total / FULL.plan_resources
    return replace(
        sizes,
        integrations=max(1, round(FULL.integrations * factor)),
        providers=max(1, round(FULL.providers * factor)),
        channels=max(1, round(FULL.channels * factor)),
    )


@dataclass(frozen=True)
class Target:
    """A target of the full-size run: the metric, its description, the predicate."""

    key: str
    text: str
    ok: Callable[[float], bool]


def targets(sizes: Sizes) -> list[Target]:
    """The targets of issue 17 that apply at this size (the plan's wall and memory targets
    are stated for 10,000 and 50,000 resources)."""
    n = sizes.plan_resources
    out: list[Target] = []
    if n >= 50_000:
        out.append(Target("plan_wall_s", "< 5 s at 50k", lambda v: v < 5.0))
        out.append(Target("plan_peak_mb", "< 200 MB at 50k", lambda v: v < 200.0))
    elif n >= 10_000:
        out.append(Target("plan_peak_mb", "< 150 MB at 10k", lambda v: v < 150.0))
    if n >= 10_000:
        out.append(Target("plan_kib_per_resource", "<= 3 KiB", lambda v: v <= 3.0))
        out.append(Target("plan_vs_tight_floor", "<= 3x", lambda v: v <= 3.0))
    out += [
        Target("plan_requests_max_per_server", "<= 5 per server", lambda v: v <= 5),
        Target("plan_speedup", ">= 10x", lambda v: v >= 10.0),
        Target("apply_vs_latency_floor", "<= 2x", lambda v: v <= 2.0),
        Target("apply_cpu_ms_per_request", "< 1 ms", lambda v: v < 1.0),
        Target("apply_peak_mb", "< 200 MB", lambda v: v < 200.0),
        Target("tiny_plan_s", "< 0.3 s", lambda v: v < 0.3),
        Target("help_s", "< 0.15 s", lambda v: v < 0.15),
    ]
    return out


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


class BenchError(Exception):
    """Something is functionally wrong: the numbers would mean nothing."""


# -- the served sandbox --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


class Sandbox:
    """`reconciler sandbox serve` in a subprocess, with its admin endpoints."""

    def __init__(self, workdir: Path, channels: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        seed = workdir / "seed.yaml"
        seed.write_text(seed_yaml(channels), encoding="utf-8")
        self._log = (workdir / "sandbox.log").open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "reconciler.cli",
                "sandbox",
                "serve",
                "--port",
                str(self.port),
                "--db",
                str(workdir / "sandbox.db"),
                "--seed",
                str(seed),
            ],
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        self.admin = httpx.Client(base_url=self.url, timeout=30)
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise BenchError(f"sandbox serve exited with {self.proc.returncode}; see {workdir / 'sandbox.log'}")
            try:
                if self.admin.get("/_sandbox/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise BenchError("sandbox serve did not come up within 30 s")
            time.sleep(0.1)

    def cpu(self) -> float:
        """CPU seconds the server process has used so far (0 where /proc is not available)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def latency(self, ms: float) -> None:
        self.admin.put("/_sandbox/faults", json={"latency_ms": ms}).raise_for_status()

    def reset(self) -> None:
        self.admin.post("/_sandbox/reset").raise_for_status()

    def clear_stats(self) -> None:
        self.admin.delete("/_sandbox/stats").raise_for_status()

    def stats(self) -> dict[str, Any]:
        response = self.admin.get("/_sandbox/stats")
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def stop(self) -> None:
        self.admin.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
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


# -- desired state -------------------------------------------------------------------------


def modified(index: int) -> bool:
    return index % MODIFIED_EVERY == MODIFIED_AT


def integration(i: int, changed: bool = False) -> dict[str, Any]:
    return {
        "name": f"int-{i:05d}",
        "server": "kubiya",
        "type": KUBIYA_TYPES[i % len(KUBIYA_TYPES)],
        "description": f"Integration {i}" + (" (revised)" if changed else ""),
        "config": {
            "env_vars": {"HOST": f"host-{i}.internal", "PORT": "5432"},
            "secrets": [f"SECRET_{i % 50}"],
            "connection_test": {"command": "true", "timeout": 5},
        },
        "tags": ["bench", f"team-{i % 20}"],
    }


def provider(p: int, models: int, changed: Callable[[str, int], bool]) -> dict[str, Any]:
    # Half are openai (a write-only api_key, compared through the fingerprint tag), half ollama.
    if p % 2 == 0:
        kind, configuration = "openai", {"api_key": "${env:BENCH_OPENAI_KEY}"}
    else:
        kind, configuration = "ollama", {"endpoint": f"http://llm-{p}.internal:11434"}
    return {
        "name": f"prov-{p:04d}",
        "server": "orkes",
        "type": kind,
        "description": f"Provider {p}" + (" (revised)" if changed("provider", p) else ""),
        "configuration": configuration,
        "tags": {"team": f"team-{p % 20}", "bench": "yes"},
        "apis": [
            {
                "name": f"model-{m}",
                "description": f"Model {m} of provider {p}"
                + (" (revised)" if changed("model", p * models + m) else ""),
                "enabled": True,
            }
            for m in range(models)
        ],
    }


def channel(c: int, changed: bool = False) -> dict[str, Any]:
    suffix = "/v2" if changed else ""
    if c % 2 == 0:
        return {
            "server": "console",
            "agent": AGENT,
            "family": "custom_api",
            "name": f"api-{c:05d}",
            "base_url": f"https://api-{c}.example.com{suffix}",
            "auth_type": "bearer",
            "auth_config": {"token": "${env:BENCH_CHANNEL_TOKEN}"},
        }
    return {
        "server": "console",
        "agent": AGENT,
        "family": "mcp_server",
        "name": f"mcp-{c:05d}",
        "server_url": f"https://mcp-{c}.example.com/mcp{suffix}",
    }


def servers(url: str, sizes: Sizes, only: Iterable[str] = ("kubiya", "orkes", "console")) -> dict[str, Any]:
    tuning = {"parallelism": sizes.parallelism}
    every = {
        "kubiya": {"kind": "kubiya", "url": url, "token": "${env:BENCH_KUBIYA_TOKEN}", **tuning},
        "orkes": {
            "kind": "conductor",
            "url": url,
            "key_id": "${env:BENCH_ORKES_KEY_ID}",
            "key_secret": "${env:BENCH_ORKES_KEY_SECRET}",
            "batch_size": sizes.batch_size,
            **tuning,
        },
        "console": {"kind": "console", "url": url, "api_key": "${env:BENCH_CONSOLE_API_KEY}", **tuning},
    }
    return {name: every[name] for name in only}


def plan_document(url: str, sizes: Sizes, with_changes: bool) -> dict[str, Any]:
    def changed(kind: str, index: int) -> bool:
        return with_changes and modified(index)

    return {
        "version": 1,
        "servers": servers(url, sizes),
        "integrations": [integration(i, changed("integration", i)) for i in range(sizes.integrations)],
        "providers": [provider(p, sizes.models_per_provider, changed) for p in range(sizes.providers)],
        "channels": [channel(c, changed("channel", c)) for c in range(sizes.channels)],
    }


def apply_document(url: str, sizes: Sizes) -> dict[str, Any]:
    """The large apply: Kubiya creates only, on a file that declares only that server."""
    return {
        "version": 1,
        "servers": servers(url, sizes, only=("kubiya",)),
        "integrations": [integration(i) for i in range(sizes.apply_integrations)],
    }


def expected_plan_changes(sizes: Sizes) -> int:
    models = sizes.providers * sizes.models_per_provider
    return sum(
        sum(1 for i in range(n) if modified(i)) for n in (sizes.integrations, sizes.providers, models, sizes.channels)
    )


def write_desired(workdir: Path, stem: str, document: Mapping[str, Any]) -> list[Path]:
    """The document as one YAML file, or as several (`STEM-K.yaml`, the servers in the first,
    each resource list cut in order) when one would pass MAX_FILE_BYTES."""
    text = yaml.dump(dict(document), Dumper=yaml.CSafeDumper, sort_keys=False)
    if len(text.encode("utf-8")) <= MAX_FILE_BYTES:
        path = workdir / f"{stem}.yaml"
        path.write_text(text, encoding="utf-8")
        return [path]
    parts = -(-len(text.encode("utf-8")) // MAX_FILE_BYTES) + 1
    lists = {k: v for k, v in document.items() if isinstance(v, list)}
    paths = []
    for part in range(parts):
        chunk: dict[str, Any] = {"version": document["version"]}
        if part == 0:
            chunk["servers"] = document["servers"]
        for key, items in lists.items():
            piece = items[part * len(items) // parts : (part + 1) * len(items) // parts]
            if piece:
                chunk[key] = piece
        path = workdir / f"{stem}-{part}.yaml"
        path.write_text(yaml.dump(chunk, Dumper=yaml.CSafeDumper, sort_keys=False), encoding="utf-8")
        paths.append(path)
    return paths


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


# -- seeding the live state of the large plan ----------------------------------------------


async def _bounded(calls: Sequence[Callable[[], Any]], limit: int) -> None:
    slots = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Any]) -> None:
        async with slots:
            await call()

    await asyncio.gather(*(one(c) for c in calls))


async def _seed_direct(url: str, sizes: Sizes) -> None:
    """Kubiya integrations and console channels written as the tool writes them."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:

        def kubiya(i: int) -> Callable[[], Any]:
            spec = integration(i)

            async def call() -> None:
                body = {
                    "name": spec["name"],
                    "integration_type": spec["type"],
                    "description": spec["description"],
                    "config": spec["config"],
                    "tags": sorted({*spec["tags"], MANAGED_TAG}),
                }
                response = await client.post(
                    KUBIYA_BASE, json=body, headers={"Authorization": f"Bearer {KUBIYA_TOKEN}"}
                )
                if response.status_code != 201:
                    raise BenchError(f"seeding {spec['name']}: {response.status_code} {response.text[:200]}")

            return call

        def console(c: int) -> Callable[[], Any]:
            spec = channel(c)

            async def call() -> None:
                body = {k: v for k, v in spec.items() if k not in ("server", "agent", "family")}
                if "auth_config" in body:
                    body["auth_config"] = {"token": ENV["BENCH_CHANNEL_TOKEN"]}
                response = await client.post(
                    f"{CONSOLE_BASE}/{spec['family']}/configure",
                    json=body,
                    headers={"Authorization": f"Bearer {CONSOLE_KEY}"},
                )
                if response.status_code not in (200, 201):
                    raise BenchError(f"seeding {spec['name']}: {response.status_code} {response.text[:200]}")

            return call

        calls = [kubiya(i) for i in range(sizes.integrations)] + [console(c) for c in range(sizes.channels)]
        await _bounded(calls, 32)


def seed_plan_state(sandbox: Sandbox, workdir: Path, base: Sequence[Path], sizes: Sizes) -> float:
    """Writes the live state of the large plan (latency 0); returns the seconds it took."""
    started = time.perf_counter()
    sandbox.latency(0)
    asyncio.run(_seed_direct(sandbox.url, sizes))
    # Conductor through the tool itself: its bulk save is a handful of requests, and the
    # fingerprint tags of the write-only api_keys come out exactly as the tool computes them.
    run = cli(["apply", *files(base), "--server", "orkes", "--auto-approve", "--format", "json"], workdir)
    cli_ok(run, "seeding the Conductor providers (reconciler apply --server orkes)")
    return time.perf_counter() - started


def check_clean(workdir: Path, desired: Sequence[Path], what: str) -> None:
    clean = cli(["plan", *files(desired), "--format", "json", "--detailed-exitcode"], workdir)
    if clean.code != 0:
        raise BenchError(f"{what} does not plan clean (exit {clean.code}): {clean.stderr.strip()[-500:]}")


@dataclass
class Results:
    sizes: Sizes
    numbers: dict[str, float] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    profiles: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def count_actionable(plan_json: str) -> int:
    document = json.loads(plan_json)
    return sum(1 for c in document["changes"] if c["action"] != "no-op")


# -- job 0: cold start ---------------------------------------------------------------------


STARTUP_IMPORTS = "import reconciler.cli, reconciler.engine, reconciler.views, reconciler.views.progress"


def job_startup(sandbox: Sandbox, workdir: Path, tiny: Sequence[Path], sizes: Sizes, res: Results) -> None:
    """`reconciler --help`, `reconciler plan` of the 21-resource file (the server is empty, so
    every resource is a create), the bare interpreter, and the imports of a plan, alternating;
    medians. The tiny plan's peak RSS is the fixed part the large plan's per-resource memory
    is counted beyond."""
    sandbox.latency(sizes.latency_ms)
    expected = TINY.plan_resources
    samples: dict[str, list[float]] = {"help_s": [], "tiny_plan_s": [], "python_s": [], "imports_s": []}
    rss: list[float] = []
    for n in range(sizes.startup_runs):
        samples["help_s"].append(cli_ok(cli(["--help"], workdir), "reconciler --help").wall_s)
        run = cli_ok(cli(["plan", *files(tiny), "--format", "json"], workdir), f"tiny plan run {n + 1}")
        found = count_actionable(run.stdout)
        if found != expected:
            res.problems.append(f"the tiny plan shows {found} changes, expected {expected}")
        samples["tiny_plan_s"].append(run.wall_s)
        rss.append(run.peak_mb)
        samples["python_s"].append(cli_ok(run_process([sys.executable, "-c", "pass"], workdir), "python").wall_s)
        imports = run_process([sys.executable, "-c", STARTUP_IMPORTS], workdir)
        samples["imports_s"].append(cli_ok(imports, "importing the tool").wall_s)
    for key, values in samples.items():
        res.numbers[key] = median(values)
    res.numbers["tiny_plan_peak_mb"] = median(rss)


# -- floors: parsing what the plan must read anyway ----------------------------------------


def fetch_raw_lists(url: str, workdir: Path) -> list[Path]:
    """The live list responses the plan reads, saved as the server sent them."""
    paths: list[Path] = []
    with httpx.Client(base_url=url, timeout=60) as client:
        token = conductor_token(client)
        calls = [
            ("kubiya", KUBIYA_BASE, None, {"Authorization": f"Bearer {KUBIYA_TOKEN}"}),
            ("kubiya-deleted", KUBIYA_BASE, {"status": "deleted"}, {"Authorization": f"Bearer {KUBIYA_TOKEN}"}),
            ("orkes", CONDUCTOR_BULK, {"activeOnly": "false"}, {"X-Authorization": token}),
        ] + [
            (f"console-{family}", f"{CONSOLE_BASE}/{family}", None, {"Authorization": f"Bearer {CONSOLE_KEY}"})
            for family in ("custom_api", "mcp_server", "bimpeai")
        ]
        for name, path, params, headers in calls:
            response = client.get(path, params=params, headers=headers)
            response.raise_for_status()
            target = workdir / f"live-{name}.json"
            target.write_bytes(response.content)
            paths.append(target)
    return paths


def _timed_parse(parse: Callable[[], list[Any]], collect: bool) -> float:
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


def loader_floor(desired: Sequence[Path], live: Sequence[Path], collect: bool = False) -> float:
    """The "C loader" floor: the desired YAML with CSafeLoader, the live JSON with json."""

    def parse() -> list[Any]:
        values = [yaml.load(p.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader) for p in desired]
        return values + [json.loads(p.read_bytes()) for p in live]

    return _timed_parse(parse, collect)


def tight_floor(desired: Sequence[Path], live: Sequence[Path]) -> float:
    """The tight floor: the tool's own YAML reader (the `safeyaml.parse` its loader calls, no
    validation) and orjson for the live bodies."""

    def parse() -> list[Any]:
        values: list[Any] = []
        for path in desired:
            parsed = safeyaml.parse(safeyaml.decode(path.read_bytes(), str(path)), str(path))
            if not parsed.ok:
                raise BenchError(f"the tool's YAML reader refused {path}")
            values.append(parsed)
        return values + [json_loads(p.read_bytes()) for p in live]

    return _timed_parse(parse, collect=False)


# -- job 1: the large plan, alternating with the floors and the loop baseline --------------


@dataclass
class Timed:
    """Seconds and requests spent on `done` resources of one kind, extrapolated to `total`."""

    total: int
    done: int = 0
    seconds: float = 0.0
    requests: int = 0

    def extrapolated(self) -> tuple[float, float]:
        if not self.done:
            return 0.0, 0.0
        scale = self.total / self.done
        return self.seconds * scale, self.requests * scale


def split_sample(sample: int, totals: Mapping[str, int]) -> dict[str, int]:
    """The sample shared between kinds in proportion to their totals (at least one each)."""
    grand = sum(totals.values())
    if sample >= grand:
        return dict(totals)
    return {k: max(1, min(n, round(sample * n / grand))) for k, n in totals.items()}


def conductor_token(client: httpx.Client) -> str:
    response = client.post("/api/token", json={"keyId": ORKES_KEY_ID, "keySecret": ORKES_KEY_SECRET})
    response.raise_for_status()
    return str(response.json()["token"])


class PlanLoop:
    """The plan job as a script would do it: a GET of each desired resource and a comparison,
    one request at a time. Each round measures a fresh random sample and extrapolates it per
    kind; the console has no per-channel GET, so its two lists are read in full."""

    def __init__(self, sandbox: Sandbox, sizes: Sizes) -> None:
        self.sandbox = sandbox
        self.sizes = sizes
        sandbox.latency(0)
        with httpx.Client(base_url=sandbox.url, timeout=60) as client:
            # The script knows the ids (say, from a file it keeps); learning them is not timed.
            rows = client.get(KUBIYA_BASE, headers={"Authorization": f"Bearer {KUBIYA_TOKEN}"}).json()
            self.ids = {row["name"]: row["id"] for row in rows}
        models = sizes.providers * sizes.models_per_provider
        self.totals = {"integration": sizes.integrations, "provider": sizes.providers, "model": models}
        self.share = split_sample(max(3, sizes.baseline_sample // sizes.runs), self.totals)
        self.problems: list[str] = []

    def round(self, number: int) -> tuple[float, float, float, int]:
        """One round: (extrapolated seconds, extrapolated requests, measured seconds, GETs)."""
        sizes = self.sizes
        rng = random.Random(number + 1)
        picks = {k: sorted(rng.sample(range(self.totals[k]), self.share[k])) for k in self.totals}
        timed = {k: Timed(self.totals[k]) for k in self.totals}
        console = Timed(1)
        differing = expected_differing = 0
        kub_headers = {"Authorization": f"Bearer {KUBIYA_TOKEN}"}
        self.sandbox.latency(sizes.latency_ms)
        started = time.perf_counter()
        with httpx.Client(base_url=self.sandbox.url, timeout=60) as client:
            t0 = time.perf_counter()
            orkes_headers = {"X-Authorization": conductor_token(client)}
            token_s = time.perf_counter() - t0
            for i in picks["integration"]:
                t0 = time.perf_counter()
                want = integration(i, modified(i))
                row = client.get(f"{KUBIYA_BASE}/{self.ids[want['name']]}", headers=kub_headers).json()
                differs = (
                    row["description"] != want["description"]
                    or row["integration_type"] != want["type"]
                    or row["config"]["env_vars"] != want["config"]["env_vars"]
                    or sorted(t for t in row["tags"] if t != MANAGED_TAG) != sorted(want["tags"])
                )
                differing += differs
                expected_differing += modified(i)
                timed["integration"].seconds += time.perf_counter() - t0
                timed["integration"].requests += 1
                timed["integration"].done += 1
            for p in picks["provider"]:
                t0 = time.perf_counter()
                want = provider(p, sizes.models_per_provider, lambda kind, index: modified(index))
                row = client.get(f"/api/integrations/provider/{want['name']}", headers=orkes_headers).json()
                differing += row.get("description") != want["description"] or row.get("type") != want["type"]
                expected_differing += modified(p)
                timed["provider"].seconds += time.perf_counter() - t0
                timed["provider"].requests += 1
                timed["provider"].done += 1
            for index in picks["model"]:
                t0 = time.perf_counter()
                p, m = divmod(index, sizes.models_per_provider)
                want = provider(p, sizes.models_per_provider, lambda kind, i: kind == "model" and modified(i))
                api = want["apis"][m]
                row = client.get(
                    f"/api/integrations/provider/{want['name']}/integration/{api['name']}", headers=orkes_headers
                ).json()
                differing += row.get("description") != api["description"]
                expected_differing += modified(index)
                timed["model"].seconds += time.perf_counter() - t0
                timed["model"].requests += 1
                timed["model"].done += 1
            t0 = time.perf_counter()
            listed: dict[str, dict[str, Any]] = {}
            for family in ("custom_api", "mcp_server"):
                rows = client.get(f"{CONSOLE_BASE}/{family}", headers={"Authorization": f"Bearer {CONSOLE_KEY}"})
                for row in rows.json()["data"]:
                    listed[row["config"]["name"]] = row["config"]
                console.requests += 1
            for c in range(sizes.channels):
                want = channel(c, modified(c))
                have = listed.get(want["name"], {})
                url_key = "base_url" if want["family"] == "custom_api" else "server_url"
                differing += have.get(url_key) != want[url_key]
                expected_differing += modified(c)
            console.seconds = time.perf_counter() - t0
        measured = time.perf_counter() - started
        seconds = token_s + console.seconds
        requests = 1.0 + console.requests
        for t in timed.values():
            s, r = t.extrapolated()
            seconds += s
            requests += r
        if differing != expected_differing:
            self.problems.append(
                f"baseline plan round {number + 1}: found {differing} differing resources, "
                f"expected {expected_differing}"
            )
        return seconds, requests, measured, sum(t.done for t in timed.values())


def job_plan(
    sandbox: Sandbox,
    workdir: Path,
    changed: Sequence[Path],
    live: Sequence[Path],
    sizes: Sizes,
    res: Results,
    loop: PlanLoop | None,
) -> None:
    """Rounds of: the plan (subprocess), the tight floor, the C-loader floor, a loop sample."""
    expected = expected_plan_changes(sizes)
    walls: list[float] = []
    cpus: list[float] = []
    server_cpus: list[float] = []
    peaks: list[float] = []
    tight: list[float] = []
    loader: list[float] = []
    loops: list[tuple[float, float, float, int]] = []
    requests: dict[str, int] = {}
    for n in range(sizes.runs):
        sandbox.latency(sizes.latency_ms)
        sandbox.clear_stats()
        server_cpu = sandbox.cpu()
        run = cli_ok(cli(["plan", *files(changed), "--format", "json"], workdir), f"plan run {n + 1}")
        server_cpus.append(sandbox.cpu() - server_cpu)
        requests = per_server(sandbox.stats())
        walls.append(run.wall_s)
        cpus.append(run.cpu_s)
        peaks.append(run.peak_mb)
        found = count_actionable(run.stdout)
        if found != expected:
            res.problems.append(f"the large plan shows {found} changes, expected {expected}")
        del run
        tight.append(tight_floor(changed, live))
        loader.append(loader_floor(changed, live))
        if loop is not None:
            loops.append(loop.round(n))
    num = res.numbers
    num["plan_wall_s"] = median(walls)
    num["plan_wall_min_s"] = min(walls)
    num["plan_wall_max_s"] = max(walls)
    num["plan_cpu_s"] = median(cpus)
    num["plan_server_cpu_s"] = median(server_cpus)
    num["plan_peak_mb"] = max(peaks)
    num["tight_floor_s"] = median(tight)
    num["floor_s"] = median(loader)
    num["plan_vs_tight_floor"] = ratio(num["plan_wall_s"], num["tight_floor_s"])
    num["plan_vs_floor"] = ratio(num["plan_wall_s"], num["floor_s"])
    num["plan_requests"] = sum(requests.values())
    num["plan_requests_max_per_server"] = max(requests.values())
    num["plan_changes"] = expected
    res.notes["plan_requests"] = ", ".join(f"{k} {v}" for k, v in requests.items())
    n_res = sizes.plan_resources
    num["plan_us_per_resource"] = num["plan_wall_s"] / n_res * 1e6
    if "tiny_plan_peak_mb" in num:
        # Memory beyond what a 21-resource plan needs (interpreter, imports, buffers).
        num["plan_kib_per_resource"] = (num["plan_peak_mb"] - num["tiny_plan_peak_mb"]) * 1e6 / 1024 / n_res
    if loop is not None:
        res.problems += loop.problems
        num["baseline_plan_s"] = median([r[0] for r in loops])
        num["baseline_plan_requests"] = loops[-1][1]
        num["plan_speedup"] = ratio(num["baseline_plan_s"], num["plan_wall_s"])
        whole = loops[-1][3] == sum(loop.totals.values())
        res.notes["baseline_plan_s"] = (
            "measured in full"
            if whole
            else f"{len(loops)} round(s) of {loops[-1][3]} GETs + the console lists "
            f"({median([r[2] for r in loops]):.1f} s each), extrapolated per kind; median"
        )


# -- job 2: the large apply, alternating with the two scripts ------------------------------


def apply_once(
    sandbox: Sandbox, workdir: Path, desired: Sequence[Path], what: str, expected: Mapping[str, int], res: Results
) -> tuple[CliRun, float, dict[str, int]] | None:
    """One `reconciler apply`, checked against the expected summary, then a plan that must be
    clean. Returns the run, the server's CPU seconds and the requests by server."""
    sandbox.clear_stats()
    server_cpu = sandbox.cpu()
    run = cli(["apply", *files(desired), "--auto-approve", "--format", "json"], workdir)
    server_cpu = sandbox.cpu() - server_cpu
    stats = per_server(sandbox.stats())
    try:
        document = json.loads(run.stdout)
    except json.JSONDecodeError:
        res.problems.append(f"{what}: exit {run.code}, no JSON result: {run.stderr.strip()[-300:]}")
        return None
    summary = document.get("summary", {})
    if run.code != 0 or not document.get("ok") or any(summary.get(k) != v for k, v in expected.items()):
        res.problems.append(f"{what}: exit {run.code}, summary {summary}, expected {dict(expected)}")
    check = cli(["plan", *files(desired), "--format", "json", "--detailed-exitcode"], workdir)
    if check.code != 0:
        left = count_actionable(check.stdout) if check.code == 2 else "?"
        res.problems.append(f"after the {what}, a plan still shows changes (exit {check.code}, {left} changes)")
    return run, server_cpu, stats


def job_apply_changes(sandbox: Sandbox, workdir: Path, changed: Sequence[Path], sizes: Sizes, res: Results) -> None:
    """Informational: applying the 10% of job 1 (updates, and replaces of console channels)."""
    sandbox.latency(sizes.latency_ms)
    replaced = sum(1 for c in range(sizes.channels) if modified(c))
    expected = {"changed": expected_plan_changes(sizes) - replaced, "replaced": replaced, "added": 0}
    done = apply_once(sandbox, workdir, changed, "apply of the plan's changes", expected, res)
    if done is None:
        return
    run, server_cpu, stats = done
    res.numbers["changes_apply_wall_s"] = run.wall_s
    res.numbers["changes_apply_cpu_s"] = run.cpu_s
    res.numbers["changes_apply_server_cpu_s"] = server_cpu
    res.numbers["changes_apply_requests"] = sum(stats.values())
    res.notes["changes_apply_requests"] = ", ".join(f"{k} {v}" for k, v in stats.items())


# The apply baseline as a competent user would script it, run as its own process like the tool.
BASELINE_SCRIPT = '''\
"""Creates the Kubiya integrations of a desired file that do not exist yet: one list, then the
POSTs from a pool of PARALLELISM threads sharing one httpx.Client (it is thread-safe).
Usage: python baseline_apply.py URL DESIRED.yaml PARALLELISM [LIMIT]; prints JSON timings."""
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import yaml

PATH = @PATH@
MANAGED_TAG = @TAG@

url, desired, parallelism = sys.argv[1], sys.argv[2], int(sys.argv[3])
limit = int(sys.argv[4]) if len(sys.argv) > 4 else None
with open(desired, encoding="utf-8") as handle:
    specs = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))["integrations"]
headers = {"Authorization": "Bearer " + os.environ["BENCH_KUBIYA_TOKEN"]}
limits = httpx.Limits(max_connections=parallelism, max_keepalive_connections=parallelism)
with httpx.Client(base_url=url, headers=headers, limits=limits, timeout=60) as client:
    listed = client.get(PATH)
    listed.raise_for_status()
    existing = {row["name"] for row in listed.json()}
    missing = [spec for spec in specs if spec["name"] not in existing]
    todo = missing[:limit]

    def create(spec):
        body = {
            "name": spec["name"],
            "integration_type": spec["type"],
            "description": spec.get("description", ""),
            "config": spec.get("config", {}),
            "tags": sorted({*spec.get("tags", []), MANAGED_TAG}),
        }
        client.post(PATH, json=body).raise_for_status()

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=parallelism) as pool:
        for _ in pool.map(create, todo):
            pass
    posts_s = time.perf_counter() - started
print(json.dumps({"missing": len(missing), "posted": len(todo), "posts_s": posts_s}))
'''


def baseline_script(workdir: Path) -> Path:
    path = workdir / "baseline_apply.py"
    text = BASELINE_SCRIPT.replace("@PATH@", repr(KUBIYA_BASE)).replace("@TAG@", repr(MANAGED_TAG))
    path.write_text(text, encoding="utf-8")
    return path


def kubiya_count(sandbox: Sandbox) -> int:
    response = sandbox.admin.get(KUBIYA_BASE, headers={"Authorization": f"Bearer {KUBIYA_TOKEN}"})
    response.raise_for_status()
    return len(response.json())


def run_baseline(
    sandbox: Sandbox,
    workdir: Path,
    script: Path,
    desired: Path,
    parallelism: int,
    limit: int | None,
    latency_ms: float,
    what: str,
) -> tuple[CliRun, dict[str, Any], int]:
    """The script from an empty server: its run, its JSON report, the requests it made."""
    sandbox.reset()
    sandbox.latency(latency_ms)
    sandbox.clear_stats()
    args = [sys.executable, str(script), sandbox.url, str(desired), str(parallelism)]
    run = cli_ok(run_process([*args, *([str(limit)] if limit is not None else [])], workdir), what)
    requests = sum(per_server(sandbox.stats()).values())
    report: dict[str, Any] = json.loads(run.stdout)
    created = kubiya_count(sandbox)
    if created != report["posted"] or (limit is None and created != report["missing"]):
        raise BenchError(f"{what}: {created} integrations on the server after posting {report['posted']}")
    return run, report, requests


def job_apply(sandbox: Sandbox, workdir: Path, desired: Sequence[Path], sizes: Sizes, res: Results) -> None:
    """Rounds of: the tool, the pool script (same parallelism), the script with one worker on
    a sample (extrapolated), each from an empty server at the same latency."""
    script = baseline_script(workdir)
    sample = max(1, min(sizes.apply_integrations, sizes.baseline_sample // sizes.runs))
    tool: list[tuple[CliRun, float, dict[str, int]]] = []
    pool: list[tuple[CliRun, int]] = []
    loop: list[tuple[float, int]] = []
    for n in range(sizes.runs):
        sandbox.reset()
        sandbox.latency(sizes.latency_ms)
        done = apply_once(sandbox, workdir, desired, f"apply run {n + 1}", {"added": sizes.apply_integrations}, res)
        if done is None:
            return
        tool.append(done)
        run, _, requests = run_baseline(
            sandbox, workdir, script, desired[0], sizes.parallelism, None, sizes.latency_ms, f"pool script run {n + 1}"
        )
        pool.append((run, requests))
        run, report, requests = run_baseline(
            sandbox, workdir, script, desired[0], 1, sample, sizes.latency_ms, f"loop run {n + 1}"
        )
        # Wall time of the whole script, its POST phase scaled from the sample to all creates.
        posts = report["posts_s"] * report["missing"] / report["posted"]
        loop.append((run.wall_s - report["posts_s"] + posts, 1 + report["missing"]))
    num = res.numbers
    num["apply_wall_s"] = median([r[0].wall_s for r in tool])
    num["apply_wall_min_s"] = min(r[0].wall_s for r in tool)
    num["apply_wall_max_s"] = max(r[0].wall_s for r in tool)
    num["apply_cpu_s"] = median([r[0].cpu_s for r in tool])
    num["apply_server_cpu_s"] = median([r[1] for r in tool])
    num["apply_peak_mb"] = max(r[0].peak_mb for r in tool)
    stats = tool[-1][2]
    num["apply_requests"] = sum(stats.values())
    res.notes["apply_requests"] = ", ".join(f"{k} {v}" for k, v in stats.items() if v)
    # What no client can beat: every request waits the injected latency, `parallelism` at a time.
    num["apply_latency_floor_s"] = num["apply_requests"] / sizes.parallelism * sizes.latency_ms / 1000
    num["apply_vs_latency_floor"] = ratio(num["apply_wall_s"], num["apply_latency_floor_s"])
    num["apply_cpu_ms_per_request"] = num["apply_cpu_s"] / num["apply_requests"] * 1000
    num["pool_apply_s"] = median([r[0].wall_s for r in pool])
    num["pool_apply_cpu_s"] = median([r[0].cpu_s for r in pool])
    num["pool_apply_requests"] = pool[-1][1]
    num["pool_vs_latency_floor"] = ratio(
        num["pool_apply_s"], num["pool_apply_requests"] / sizes.parallelism * sizes.latency_ms / 1000
    )
    num["apply_speedup_pool"] = ratio(num["pool_apply_s"], num["apply_wall_s"])
    num["baseline_apply_s"] = median([r[0] for r in loop])
    num["baseline_apply_requests"] = loop[-1][1]
    num["apply_speedup"] = ratio(num["baseline_apply_s"], num["apply_wall_s"])
    res.notes["baseline_apply_s"] = (
        "measured in full"
        if sample >= sizes.apply_integrations
        else f"{sample} POSTs per round, extrapolated to {sizes.apply_integrations}; median of {len(loop)}"
    )


# -- profiles ------------------------------------------------------------------------------


def hotspots(profile: Path, top: int) -> list[dict[str, Any]]:
    """The reconciler's functions by cumulative time, then every function by own time.

    Under asyncio the cumulative times of the event loop's frames cover everything and say
    nothing; the project's own frames and the own-time list are the useful views.
    """
    stats = pstats.Stats(str(profile))
    rows = []
    for (file, line, func), (_cc, calls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append(
            {"function": f"{short_path(file)}:{line}({func})", "calls": calls, "tottime": tottime, "cumtime": cumtime}
        )
    own_code = [r for r in rows if r["function"].startswith("reconciler/")]
    by_cum = sorted(own_code, key=lambda r: r["cumtime"], reverse=True)[:top]
    by_own = sorted(rows, key=lambda r: r["tottime"], reverse=True)[:top]
    return [dict(r, view="cumulative") for r in by_cum] + [dict(r, view="own") for r in by_own]


def short_path(file: str) -> str:
    """`reconciler/x.py`, `httpx/_client.py`, `asyncio/events.py`: paths people can read."""
    match = re.search(r"/(?:site-packages|python3\.\d+)/(.*)$", file)
    if match:
        return match.group(1)
    marker = "/reconciler/"
    if marker in file:
        return "reconciler/" + file.rsplit(marker, 1)[1]
    return file


def profile(
    sandbox: Sandbox, workdir: Path, args: Sequence[str], name: str, sizes: Sizes, res: Results, top: int, out: Path
) -> None:
    """One more run of a job under cProfile (`OUT/NAME.prof`, for snakeviz or pstats)."""
    out.mkdir(parents=True, exist_ok=True)
    sandbox.latency(sizes.latency_ms)
    target = out / f"{name}.prof"
    cli_ok(cli(args, workdir, profile=target), f"profiled {name}")
    res.profiles[name] = hotspots(target, top)


# -- report --------------------------------------------------------------------------------


def ratio(a: float, b: float) -> float:
    return a / b if b else float("inf")


def machine_state() -> dict[str, Any]:
    """When and where: UTC date, cores, load averages, interpreter, the checkout's commit."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "?"
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count() or 0,
        "load_start": os.getloadavg(),
        "python": sys.version.split()[0],
        "commit": commit,
    }


def state_line(state: Mapping[str, Any]) -> str:
    def load(values: Sequence[float]) -> str:
        return " ".join(f"{v:.2f}" for v in values)

    end = f", {load(state['load_end'])} at the end" if "load_end" in state else ""
    return (
        f"{state['date']}, commit {state['commit']}, Python {state['python']}; nproc {state['nproc']}; "
        f"load average (1/5/15 min) {load(state['load_start'])} at the start{end}"
    )


def table(res: Results, check_targets: bool, state: Mapping[str, Any]) -> str:
    n = res.numbers
    s = res.sizes
    goals = {t.key: t for t in targets(s)}
    rows: list[tuple[str, str, str, str]] = []

    def row(label: str, value: str, key: str | None = None) -> None:
        target, status = "", ""
        if key is not None and key in goals and key in n:
            target = goals[key].text
            status = ("PASS" if goals[key].ok(n[key]) else "MISS") if check_targets else "(not checked)"
        rows.append((label, value, target, status))

    def section(label: str) -> None:
        rows.append((label, "", "", ""))

    def clean(what: str) -> str:
        return "NO" if any(f"after the {what}" in p for p in res.problems) else "yes"

    def spread(key: str) -> str:
        return f"{n[key + '_s']:.2f} s ({n[key + '_min_s']:.2f}-{n[key + '_max_s']:.2f})"

    section(f"headline: ratios, medians of {s.runs} alternating round(s)")
    row("   plan / tight floor (own YAML reader + orjson)", f"{n['plan_vs_tight_floor']:.1f}x", "plan_vs_tight_floor")
    row("   plan / C-loader floor (CSafeLoader + json)", f"{n['plan_vs_floor']:.1f}x")
    row("   plan: speed-up over the one-at-a-time loop", f"{n['plan_speedup']:.0f}x", "plan_speedup")
    row("   apply / its latency floor", f"{n['apply_vs_latency_floor']:.1f}x", "apply_vs_latency_floor")
    row(f"   apply: speed-up over a pool script ({s.parallelism} threads)", f"{n['apply_speedup_pool']:.2f}x")
    row("   apply: speed-up over a one-at-a-time script", f"{n['apply_speedup']:.0f}x", "apply_speedup")
    section(f"0. cold start (medians of {s.startup_runs} alternating runs)")
    row("   reconciler --help", f"{n['help_s']:.3f} s", "help_s")
    row(
        f"   reconciler plan of {TINY.plan_resources} resources (all creates)",
        f"{n['tiny_plan_s']:.3f} s",
        "tiny_plan_s",
    )
    row(
        "   of which: bare interpreter / importing what a plan loads", f"{n['python_s']:.3f} s / {n['imports_s']:.3f} s"
    )
    row("   peak memory of that plan", f"{n['tiny_plan_peak_mb']:.0f} MB")
    section(f"1. plan of {s.plan_resources:,} resources ({expected_plan_changes(s):,} differ)")
    row("   wall time, median (min-max)", spread("plan_wall"), "plan_wall_s")
    row("   per resource", f"{n['plan_us_per_resource']:.0f} us")
    row("   CPU: the plan process / the sandbox", f"{n['plan_cpu_s']:.2f} s / {n['plan_server_cpu_s']:.2f} s")
    row(
        "   requests: total / most on one server",
        f"{n['plan_requests']:.0f} / {n['plan_requests_max_per_server']:.0f}",
        "plan_requests_max_per_server",
    )
    row("   peak memory (maxrss of the plan process, max)", f"{n['plan_peak_mb']:.0f} MB", "plan_peak_mb")
    if "plan_kib_per_resource" in n:
        row(
            "   memory per resource beyond the tiny plan",
            f"{n['plan_kib_per_resource']:.2f} KiB",
            "plan_kib_per_resource",
        )
    row(f"   tight floor: safeyaml.parse + {JSON_READER}", f"{n['tight_floor_s']:.3f} s")
    row("   C-loader floor: CSafeLoader + json", f"{n['floor_s']:.3f} s")
    row("   the same, collector running (a plain script)", f"{n['floor_gc_s']:.3f} s")
    row(
        "   one-at-a-time loop (plain httpx GETs)",
        f"{n['baseline_plan_s']:.1f} s, {n['baseline_plan_requests']:.0f} requests",
    )
    if "changes_apply_wall_s" in n:
        section(f"1b. apply of those {expected_plan_changes(s):,} changes (information)")
        row("   wall time", f"{n['changes_apply_wall_s']:.2f} s")
        row(
            "   CPU: the apply process / the sandbox",
            f"{n['changes_apply_cpu_s']:.2f} s / {n['changes_apply_server_cpu_s']:.2f} s",
        )
        row("   requests", f"{n['changes_apply_requests']:.0f}")
        row("   plan afterwards shows no changes", clean("apply of the plan's changes"))
    section(f"2. apply of {s.apply_integrations:,} Kubiya creates on an empty server")
    row("   wall time, median (min-max)", spread("apply_wall"))
    row(
        f"   latency floor: {n['apply_requests']:.0f} requests / {s.parallelism} x {s.latency_ms:g} ms",
        f"{n['apply_latency_floor_s']:.3f} s",
    )
    row("   apply / latency floor", f"{n['apply_vs_latency_floor']:.1f}x", "apply_vs_latency_floor")
    row("   CPU: the apply process / the sandbox", f"{n['apply_cpu_s']:.2f} s / {n['apply_server_cpu_s']:.2f} s")
    row("   client CPU per request", f"{n['apply_cpu_ms_per_request']:.2f} ms", "apply_cpu_ms_per_request")
    row("   peak memory", f"{n['apply_peak_mb']:.0f} MB", "apply_peak_mb")
    row("   plan afterwards shows no changes", clean("apply run"))
    row(
        f"   pool script, {s.parallelism} threads: wall (CPU)",
        f"{n['pool_apply_s']:.2f} s ({n['pool_apply_cpu_s']:.2f} s), {n['pool_apply_requests']:.0f} requests",
    )
    row("   pool script / its latency floor", f"{n['pool_vs_latency_floor']:.1f}x")
    row("   one-at-a-time script", f"{n['baseline_apply_s']:.1f} s, {n['baseline_apply_requests']:.0f} requests")

    header = ("measure", "value", "target", "status")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = [
        f"reconciler bench: {state_line(state)}",
        "",
        "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    models = s.providers * s.models_per_provider
    notes = [
        f"latency injected on every API request: {s.latency_ms:g} ms; desired files tuned with parallelism "
        f"{s.parallelism} (all three servers) and batch_size {s.batch_size} (Conductor)",
        f"plan: {s.integrations:,} Kubiya integrations, {s.providers:,} Conductor providers x "
        f"{s.models_per_provider} models ({models:,}), {s.channels:,} console channels on one agent; "
        f"requests by server: {res.notes.get('plan_requests', '?')}",
        "each round runs the plan, then the tight floor, the C-loader floor and a sample of the loop; "
        "floors run in this process with the collector paused, the parsed values freed after the clock stops",
        f"1b: requests by server: {res.notes.get('changes_apply_requests', '?')}",
        f"apply: a file declaring only the Kubiya server; requests: {res.notes.get('apply_requests', '?')}; "
        "each round runs the tool, then the pool script, then the one-worker script, each from an empty server",
        "the scripts (bench writes them to baseline_apply.py) read the same YAML with CSafeLoader, list once and "
        "POST the missing integrations, with the managed tag, and no retries, checks or secret handling",
        f"baseline plan: {res.notes.get('baseline_plan_s', '')}",
        f"baseline apply (one worker): {res.notes.get('baseline_apply_s', '')}",
        "tool and script times are wall times of subprocesses, start-up and imports included",
    ]
    return "\n".join([*lines, "", *("- " + note for note in notes)])


def print_profiles(res: Results) -> None:
    for name, rows in res.profiles.items():
        for view, title in (("cumulative", "reconciler functions, cumulative"), ("own", "all functions, own time")):
            print(f"\n== cProfile of the {name}: {title} ==")
            print(f"{'cumtime':>8} {'tottime':>8} {'calls':>9}  function")
            for r in rows:
                if r["view"] == view:
                    print(f"{r['cumtime']:8.3f} {r['tottime']:8.3f} {r['calls']:9d}  {r['function']}")


# -- scaling: the plan alone at several sizes ----------------------------------------------


def scaling(sandbox: Sandbox, workdir: Path, base: Sizes, totals: Sequence[int], problems: list[str]) -> list[str]:
    """The plan job (rounds of plan + tight floor) at each size, from a freshly seeded server;
    the table's lines. Per-resource figures are counted beyond a 21-resource plan, and the
    slope columns compare each size with the one before (flat slopes: linear scaling)."""
    url = sandbox.url
    sandbox.reset()
    sandbox.latency(base.latency_ms)
    tiny = write_desired(workdir, "tiny", plan_document(url, TINY, with_changes=False))
    fixed = [cli_ok(cli(["plan", *files(tiny), "--format", "json"], workdir), "tiny plan") for _ in range(3)]
    tiny_wall, tiny_peak = median([r.wall_s for r in fixed]), median([r.peak_mb for r in fixed])
    header = (
        "N",
        "plan wall",
        "peak RSS",
        "KiB/resource",
        "us/resource",
        "slope KiB",
        "slope us",
        "tight floor",
        "plan/tight",
        "requests",
    )
    rows: list[tuple[str, ...]] = []
    previous: tuple[int, float, float] | None = None
    for total in totals:
        sizes = scaled(base, total)
        n = sizes.plan_resources
        log(f"scaling: {n:,} resources")
        sandbox.reset()
        res = Results(sizes)
        res.numbers["tiny_plan_peak_mb"] = tiny_peak
        try:
            seed_docs = write_desired(workdir, "scale-base", plan_document(url, sizes, with_changes=False))
            changed = write_desired(workdir, "scale-changed", plan_document(url, sizes, with_changes=True))
            seed_plan_state(sandbox, workdir, seed_docs, sizes)
            check_clean(workdir, seed_docs, f"the seeded state of {n:,} resources")
            sandbox.latency(0)
            live = fetch_raw_lists(url, workdir)
            job_plan(sandbox, workdir, changed, live, sizes, res, loop=None)
        except BenchError as exc:
            problems.append(f"scaling at {n:,}: {exc}")
            break
        finally:
            for path in workdir.glob("scale-*.yaml"):
                path.unlink()
        problems += res.problems
        num = res.numbers
        wall, peak = num["plan_wall_s"], num["plan_peak_mb"]
        slope_kib = slope_us = "-"
        if previous is not None:
            dn = n - previous[0]
            slope_kib = f"{(peak - previous[2]) * 1e6 / 1024 / dn:.2f}"
            slope_us = f"{(wall - previous[1]) / dn * 1e6:.0f}"
        previous = (n, wall, peak)
        rows.append(
            (
                f"{n:,}",
                f"{wall:.2f} s",
                f"{peak:.0f} MB",
                f"{(peak - tiny_peak) * 1e6 / 1024 / n:.2f}",
                f"{(wall - tiny_wall) / n * 1e6:.0f}",
                slope_kib,
                slope_us,
                f"{num['tight_floor_s']:.3f} s",
                f"{num['plan_vs_tight_floor']:.1f}x",
                f"{num['plan_requests']:.0f}",
            )
        )
        # Each row as soon as it is measured: a run stopped at a large size keeps the others.
        log("scaling: " + ", ".join(f"{h} {c}" for h, c in zip(header, rows[-1], strict=True)))
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    lines = [
        "  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    notes = [
        f"plan wall: median of {base.runs} rounds (each: the plan, then the tight floor); peak RSS: the largest",
        f"per resource: beyond a {TINY.plan_resources}-resource plan ({tiny_wall:.2f} s, {tiny_peak:.0f} MB); "
        "slopes: the change from the size above, per added resource",
        f"latency {base.latency_ms:g} ms on every request, parallelism {base.parallelism}, 10% of resources differ",
    ]
    return [*lines, "", *("- " + note for note in notes)]


# -- main ----------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--small", action="store_true", help="CI size: seconds, no timing targets checked")
    parser.add_argument("--size", type=int, default=None, help="resources in the large plan (every kind scaled)")
    parser.add_argument(
        "--scaling", type=sizes_list, default=None, help="only the plan, at each of these sizes: 1000,10000,50000"
    )
    parser.add_argument("--runs", type=int, default=None, help="alternating rounds of the plan and apply jobs")
    parser.add_argument("--latency-ms", type=float, default=None, help="latency injected on every request")
    parser.add_argument("--json", dest="json_file", type=Path, help="also write the numbers to this file")
    parser.add_argument("--parallelism", type=int, default=None, help="servers' parallelism (1-64)")
    parser.add_argument("--batch-size", type=int, default=None, help="Conductor providers per bulk save")
    parser.add_argument("--baseline-sample", type=int, default=None, help="resources per baseline loop, all rounds")
    parser.add_argument("--profile", type=Path, default=None, help="also profile plan and apply; .prof files here")
    parser.add_argument("--top", type=int, default=25, help="hotspots shown per profile")
    parser.add_argument("--keep", action="store_true", help="keep the temp directory (files, logs, database)")
    args = parser.parse_args(argv)
    for name in ("size", "runs", "parallelism", "batch_size", "baseline_sample"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def sizes_list(text: str) -> list[int]:
    try:
        values = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of sizes: {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"sizes must be positive: {text!r}")
    return values


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = SMALL if args.small else FULL
    if args.size is not None:
        sizes = scaled(sizes, args.size)
    overrides: dict[str, Any] = {
        key: value
        for key, value in (
            ("latency_ms", args.latency_ms),
            ("parallelism", args.parallelism),
            ("batch_size", args.batch_size),
            ("baseline_sample", args.baseline_sample),
            ("runs", args.runs),
        )
        if value is not None
    }
    sizes = replace(sizes, **overrides)
    state = machine_state()
    res = Results(sizes)
    workdir = Path(tempfile.mkdtemp(prefix="reconciler-bench-"))
    sandbox: Sandbox | None = None
    started = time.perf_counter()
    scaling_lines: list[str] = []
    most_channels = max([sizes.channels, *(scaled(sizes, n).channels for n in args.scaling or ())])
    try:
        sandbox = Sandbox(workdir, most_channels)
        log(f"sandbox on {sandbox.url}; files in {workdir}")
        if args.scaling:
            scaling_lines = scaling(sandbox, workdir, sizes, args.scaling, res.problems)
        else:
            run_all(sandbox, workdir, sizes, res, args)
    except BenchError as exc:
        res.problems.append(str(exc))
    finally:
        if sandbox is not None:
            sandbox.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    res.numbers["bench_total_s"] = time.perf_counter() - started
    state["load_end"] = os.getloadavg()

    goals = targets(sizes)
    misses = [t.key for t in goals if t.key in res.numbers and not t.ok(res.numbers[t.key])]
    complete = "apply_speedup" in res.numbers
    if scaling_lines:
        print(f"reconciler bench --scaling: {state_line(state)}\n")
        print("\n".join(scaling_lines))
    elif complete:
        print(table(res, check_targets=not args.small, state=state))
        print_profiles(res)
    if args.json_file is not None:
        document = {
            "machine": state,
            "sizes": asdict(sizes),
            "numbers": res.numbers,
            "notes": res.notes,
            "targets": {t.key: t.text for t in goals},
            "misses": [] if args.small else misses,
            "problems": res.problems,
            "profiles": res.profiles,
            "scaling": scaling_lines,
        }
        args.json_file.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    checked = complete and not args.small and not scaling_lines
    print(
        f"\nbench finished in {res.numbers['bench_total_s']:.1f} s"
        + (f"; targets missed: {len(misses)} of {len(goals)}" if checked else "")
    )
    for problem in res.problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if res.problems or not (complete or scaling_lines) else 0


def run_all(sandbox: Sandbox, workdir: Path, sizes: Sizes, res: Results, args: argparse.Namespace) -> None:
    url = sandbox.url
    tiny = write_desired(workdir, "tiny", plan_document(url, TINY, with_changes=False))
    base = write_desired(workdir, "plan-base", plan_document(url, sizes, with_changes=False))
    changed = write_desired(workdir, "plan-changed", plan_document(url, sizes, with_changes=True))
    apply_file = write_desired(workdir, "apply", apply_document(url, sizes))

    log("job 0: cold start")
    job_startup(sandbox, workdir, tiny, sizes, res)

    log(f"seeding {sizes.plan_resources:,} live resources")
    res.numbers["seed_s"] = seed_plan_state(sandbox, workdir, base, sizes)
    check_clean(workdir, base, "the seeded state")

    log(f"job 1: large plan, {sizes.runs} round(s) with the floors and the loop baseline")
    sandbox.latency(0)
    live = fetch_raw_lists(url, workdir)
    loop = PlanLoop(sandbox, sizes)
    job_plan(sandbox, workdir, changed, live, sizes, res, loop)
    res.numbers["floor_gc_s"] = loader_floor(changed, live, collect=True)
    if args.profile is not None:
        log("profiling the plan")
        plan_args = ["plan", *files(changed), "--format", "json"]
        profile(sandbox, workdir, plan_args, "plan", sizes, res, args.top, args.profile)
    log("job 1b: applying the plan's changes")
    job_apply_changes(sandbox, workdir, changed, sizes, res)

    log(f"job 2: large apply, {sizes.runs} round(s) with the pool and loop scripts")
    job_apply(sandbox, workdir, apply_file, sizes, res)
    if args.profile is not None:
        log("profiling the apply")
        sandbox.reset()
        apply_args = ["apply", *files(apply_file), "--auto-approve", "--format", "json"]
        profile(sandbox, workdir, apply_args, "apply", sizes, res, args.top, args.profile)


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
