"""Performance benchmark of `reconciler plan` and `reconciler apply` against a served sandbox.

Starts `reconciler sandbox serve` on a free loopback port (temp database, a generated seed
whose console agent allows thousands of channels), injects the same latency into every request
of every timed job (`PUT /_sandbox/faults`), and prints one table:

1. large plan: 10,000 desired resources across the three APIs, 10% of them differing from the
   live state (wall time best of 3, CPU, peak RSS of the plan process, requests per server);
   1b (information, no target): applying those 10%, then a plan that must be clean;
2. large apply: 1,000 Kubiya creates plus 100 Conductor providers carrying 900 models, from an
   empty server (best of 3); then a plan must show no changes;
3. baseline: the same two jobs done as a script would without the tool (plain `httpx.Client`,
   one request at a time), on a sample when the full loop would take minutes, extrapolated
   linearly per kind of resource;
4. floor: parsing the desired YAML (C loader) plus the raw live list responses (JSON), and the
   ratio plan / floor.

The tool always runs as a subprocess (`python -m reconciler.cli`), as a user would run it, so
its times include interpreter start-up and imports. The targets are reported (PASS/MISS), never
enforced: the exit status is 1 only when something is functionally wrong (a seeded state that
does not plan clean, a plan with the wrong number of changes, an apply that fails or leaves
changes behind). `--small` is the CI variant: a few hundred resources, 5 ms latency, well under
a minute, targets not checked. `--profile DIR` also runs the plan and the apply once more under
cProfile (`DIR/plan.prof`, `DIR/apply.prof`) and prints their hotspots.

Run from a checkout after `pip install -e .`:  python bench/bench.py [--small] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import pstats
import random
import re
import shutil
import socket
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

from reconciler.model import MANAGED_TAG

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


@dataclass(frozen=True)
class Sizes:
    """What one run measures. `integrations`, `providers` × `models_per_provider` and
    `channels` make the large plan; `apply_*` the large apply (models per provider as above);
    `baseline_sample`: resources a baseline loop may touch before it is extrapolated;
    `plan_runs`/`apply_runs`: runs of which the fastest counts (the machine may be shared)."""

    integrations: int
    providers: int
    models_per_provider: int
    channels: int
    apply_integrations: int
    apply_providers: int
    latency_ms: float
    baseline_sample: int
    plan_runs: int
    apply_runs: int
    parallelism: int = 64
    batch_size: int = 50

    @property
    def plan_resources(self) -> int:
        return self.integrations + self.providers * (1 + self.models_per_provider) + self.channels

    @property
    def apply_resources(self) -> int:
        return self.apply_integrations + self.apply_providers * (1 + self.models_per_provider)


FULL = Sizes(5000, 400, 9, 1000, 1000, 100, latency_ms=25.0, baseline_sample=500, plan_runs=3, apply_runs=3)
SMALL = Sizes(150, 10, 9, 50, 50, 5, latency_ms=5.0, baseline_sample=60, plan_runs=1, apply_runs=1)

# Targets of the full-size run: (metric key, description, predicate on the value).
TARGETS: dict[str, tuple[str, Callable[[float], bool]]] = {
    "plan_wall_s": ("< 1.5 s", lambda v: v < 1.5),
    "plan_requests_max_per_server": ("<= 5 per server", lambda v: v <= 5),
    "plan_peak_mb": ("< 200 MB", lambda v: v < 200),
    "plan_vs_floor": ("<= 3x", lambda v: v <= 3.0),
    "plan_speedup": (">= 10x", lambda v: v >= 10.0),
    "apply_wall_s": ("< 3 s", lambda v: v < 3.0),
    "apply_peak_mb": ("< 200 MB", lambda v: v < 200),
    "apply_speedup": (">= 10x", lambda v: v >= 10.0),
}


class BenchError(Exception):
    """Something is functionally wrong: the numbers would mean nothing."""


# -- the served sandbox --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed_yaml() -> str:
    seed = {
        "kubiya": {"tokens": {KUBIYA_TOKEN: "bench"}},
        "conductor": {
            "keys": [{"id": ORKES_KEY_ID, "secret": ORKES_KEY_SECRET, "organization": "bench"}],
            "token_ttl_seconds": 2700,
        },
        "console": {
            "api_keys": [{"key": CONSOLE_KEY, "team": "bench", "scopes": ["integrations:read", "integrations:write"]}],
            # The default agents allow 25 channels; the large plan needs thousands.
            "agents": [{"id": AGENT, "team": "bench", "workflow": True, "channel_limit": 1_000_000}],
            "idempotency_window_seconds": 86400,
        },
    }
    return yaml.safe_dump(seed, sort_keys=False)


class Sandbox:
    """`reconciler sandbox serve` in a subprocess, with its admin endpoints."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        seed = workdir / "seed.yaml"
        seed.write_text(seed_yaml(), encoding="utf-8")
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


def servers(url: str, sizes: Sizes) -> dict[str, Any]:
    tuning = {"parallelism": sizes.parallelism}
    return {
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
    return {
        "version": 1,
        "servers": servers(url, sizes),
        "integrations": [integration(i) for i in range(sizes.apply_integrations)],
        "providers": [
            provider(p, sizes.models_per_provider, lambda kind, index: False) for p in range(sizes.apply_providers)
        ],
    }


def expected_plan_changes(sizes: Sizes) -> int:
    models = sizes.providers * sizes.models_per_provider
    return sum(
        sum(1 for i in range(n) if modified(i)) for n in (sizes.integrations, sizes.providers, models, sizes.channels)
    )


def write_yaml(path: Path, document: Mapping[str, Any]) -> Path:
    path.write_text(yaml.dump(dict(document), Dumper=yaml.CSafeDumper, sort_keys=False), encoding="utf-8")
    return path


# -- running the tool ----------------------------------------------------------------------


@dataclass(frozen=True)
class CliRun:
    wall_s: float
    peak_mb: float
    cpu_s: float
    code: int
    stdout: str
    stderr: str


def cli(args: Sequence[str], workdir: Path, profile: Path | None = None) -> CliRun:
    """Runs `python -m reconciler.cli ARGS`; wall time and peak RSS of that process alone."""
    prefix = [sys.executable]
    if profile is not None:
        prefix += ["-m", "cProfile", "-o", str(profile)]
    out_path, err_path = workdir / "cli.out", workdir / "cli.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [*prefix, "-m", "reconciler.cli", *args],
            cwd=workdir,
            env={**os.environ, **ENV},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
        # wait4 gives this child's own rusage (RUSAGE_CHILDREN would be the max over all).
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
    return CliRun(
        wall,
        usage.ru_maxrss / 1024.0,
        usage.ru_utime + usage.ru_stime,
        proc.returncode,
        out_path.read_text(encoding="utf-8", errors="replace"),
        err_path.read_text(encoding="utf-8", errors="replace"),
    )


def cli_ok(run: CliRun, what: str, codes: Iterable[int] = (0,)) -> CliRun:
    if run.code not in tuple(codes):
        tail = "\n".join((run.stderr or run.stdout).strip().splitlines()[-15:])
        raise BenchError(f"{what}: exit {run.code}\n{tail}")
    return run


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


def seed_plan_state(sandbox: Sandbox, workdir: Path, base: Path, sizes: Sizes) -> float:
    """Writes the live state of the large plan (latency 0); returns the seconds it took."""
    started = time.perf_counter()
    sandbox.latency(0)
    asyncio.run(_seed_direct(sandbox.url, sizes))
    # Conductor through the tool itself: its bulk save is a handful of requests, and the
    # fingerprint tags of the write-only api_keys come out exactly as the tool computes them.
    run = cli(["apply", str(base), "--server", "orkes", "--auto-approve", "--format", "json"], workdir)
    cli_ok(run, "seeding the Conductor providers (reconciler apply --server orkes)")
    return time.perf_counter() - started


# -- job 1: the large plan -----------------------------------------------------------------


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


def job_plan(sandbox: Sandbox, workdir: Path, changed: Path, sizes: Sizes, res: Results) -> None:
    sandbox.latency(sizes.latency_ms)
    runs: list[tuple[CliRun, float]] = []
    requests: list[dict[str, int]] = []
    expected = expected_plan_changes(sizes)
    for n in range(sizes.plan_runs):
        sandbox.clear_stats()
        server_cpu = sandbox.cpu()
        run = cli_ok(cli(["plan", str(changed), "--format", "json"], workdir), f"plan run {n + 1}")
        runs.append((run, sandbox.cpu() - server_cpu))
        requests.append(per_server(sandbox.stats()))
        found = count_actionable(run.stdout)
        if found != expected:
            res.problems.append(f"the large plan shows {found} changes, expected {expected}")
    best, server_cpu = min(runs, key=lambda r: r[0].wall_s)
    res.numbers["plan_wall_s"] = best.wall_s
    res.numbers["plan_wall_median_s"] = sorted(r.wall_s for r, _ in runs)[len(runs) // 2]
    res.numbers["plan_cpu_s"] = best.cpu_s
    res.numbers["plan_server_cpu_s"] = server_cpu
    res.numbers["plan_peak_mb"] = max(r.peak_mb for r, _ in runs)
    last = requests[-1]
    res.numbers["plan_requests"] = sum(last.values())
    res.numbers["plan_requests_max_per_server"] = max(last.values())
    res.numbers["plan_changes"] = expected
    res.notes["plan_requests"] = ", ".join(f"{k} {v}" for k, v in last.items())


STARTUP_IMPORTS = "import reconciler.cli, reconciler.engine, reconciler.views, reconciler.views.progress"


def startup(workdir: Path, res: Results) -> None:
    """Interpreter start-up plus importing every module a plan or apply loads: time no run can
    avoid however few requests it makes."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", STARTUP_IMPORTS], cwd=workdir, check=True)
        best = min(best, time.perf_counter() - started)
    res.numbers["startup_s"] = best


# -- floor: parsing what the plan must read anyway -----------------------------------------


def fetch_raw_lists(url: str, workdir: Path) -> list[Path]:
    """The live list responses the plan reads, saved as the server sent them."""
    paths: list[Path] = []
    with httpx.Client(base_url=url, timeout=60) as client:
        token = client.post("/api/token", json={"keyId": ORKES_KEY_ID, "keySecret": ORKES_KEY_SECRET}).json()["token"]
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


def floor(desired: Path, live: Sequence[Path], collect: bool) -> float:
    """Best of 3: read and parse the desired YAML (C loader) and the live JSON, nothing else.

    With `collect` false the cyclic garbage collector is paused meanwhile: the hundreds of
    thousands of containers a parse allocates make it rescan the heap again and again (several
    times the parse itself), and the tool may pause it too, so only that is a true floor.
    """
    best = float("inf")
    for _ in range(3):
        gc.collect()
        if not collect:
            gc.disable()
        try:
            started = time.perf_counter()
            yaml.load(desired.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
            for path in live:
                json.loads(path.read_bytes())
            best = min(best, time.perf_counter() - started)
        finally:
            gc.enable()
    return best


# -- baselines: one request at a time with plain httpx -------------------------------------


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


def baseline_plan(sandbox: Sandbox, sizes: Sizes, res: Results) -> None:
    """Per-resource GET of each desired resource and a comparison, as a script would."""
    sandbox.latency(0)
    with httpx.Client(base_url=sandbox.url, timeout=60) as client:
        kub_headers = {"Authorization": f"Bearer {KUBIYA_TOKEN}"}
        # The script knows the ids (say, from a file it keeps); learning them is not timed.
        ids = {row["name"]: row["id"] for row in client.get(KUBIYA_BASE, headers=kub_headers).json()}
    models = sizes.providers * sizes.models_per_provider
    totals = {"integration": sizes.integrations, "provider": sizes.providers, "model": models}
    share = split_sample(sizes.baseline_sample, totals)
    rng = random.Random(1)
    picks = {k: sorted(rng.sample(range(totals[k]), share[k])) for k in totals}
    timed = {k: Timed(totals[k]) for k in totals}
    console = Timed(1)
    differing = expected_differing = 0

    sandbox.latency(sizes.latency_ms)
    started = time.perf_counter()
    with httpx.Client(base_url=sandbox.url, timeout=60) as client:
        t0 = time.perf_counter()
        token = conductor_token(client)
        token_s = time.perf_counter() - t0
        orkes_headers = {"X-Authorization": token}
        for i in picks["integration"]:
            t0 = time.perf_counter()
            want = integration(i, modified(i))
            row = client.get(f"{KUBIYA_BASE}/{ids[want['name']]}", headers=kub_headers).json()
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
            want = provider(p, sizes.models_per_provider, lambda kind, i: kind == "model" and modified(i))["apis"][m]
            row = client.get(
                f"/api/integrations/provider/prov-{p:04d}/integration/{want['name']}", headers=orkes_headers
            ).json()
            differing += row.get("description") != want["description"]
            expected_differing += modified(index)
            timed["model"].seconds += time.perf_counter() - t0
            timed["model"].requests += 1
            timed["model"].done += 1
        # The console has no per-channel GET: one list per family, compared in memory.
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
        console.done = 1
    measured = time.perf_counter() - started

    seconds = token_s + console.seconds
    requests = 1.0 + console.requests
    for t in timed.values():
        s, r = t.extrapolated()
        seconds += s
        requests += r
    sampled = sum(t.done for t in timed.values())
    res.numbers["baseline_plan_s"] = seconds
    res.numbers["baseline_plan_requests"] = requests
    res.numbers["baseline_plan_measured_s"] = measured
    res.numbers["baseline_plan_sampled"] = sampled
    whole = sampled == sum(totals.values())
    res.notes["baseline_plan_s"] = (
        "measured in full"
        if whole
        else f"sample of {sampled} GETs + console lists ({measured:.1f} s), extrapolated per kind"
    )
    if differing != expected_differing:
        res.problems.append(f"baseline plan: found {differing} differing resources, expected {expected_differing}")


def baseline_apply(sandbox: Sandbox, sizes: Sizes, res: Results) -> None:
    """The loop a script would run: for each integration, provider (single endpoint) and
    model, GET it (Kubiya: list and look, it has no lookup by name), then POST it; one
    request at a time."""
    sandbox.reset()
    sandbox.latency(sizes.latency_ms)
    models = sizes.apply_providers * sizes.models_per_provider
    totals = {"integration": sizes.apply_integrations, "provider": sizes.apply_providers, "model": models}
    share = split_sample(sizes.baseline_sample, totals)
    timed = {k: Timed(totals[k]) for k in totals}
    never = lambda kind, index: False  # noqa: E731
    started = time.perf_counter()
    with httpx.Client(base_url=sandbox.url, timeout=60) as client:
        t0 = time.perf_counter()
        token = conductor_token(client)
        token_s = time.perf_counter() - t0
        orkes_headers = {"X-Authorization": token}
        kub_headers = {"Authorization": f"Bearer {KUBIYA_TOKEN}"}
        for i in range(share["integration"]):
            t0 = time.perf_counter()
            spec = integration(i)
            body = {
                "name": spec["name"],
                "integration_type": spec["type"],
                "description": spec["description"],
                "config": spec["config"],
                "tags": spec["tags"],
            }
            # Kubiya has no lookup by name: a script lists (here: the same type) and looks.
            listed = client.get(KUBIYA_BASE, params={"integration_type": spec["type"]}, headers=kub_headers)
            listed.raise_for_status()
            if not any(row.get("name") == spec["name"] for row in listed.json()):
                client.post(KUBIYA_BASE, json=body, headers=kub_headers).raise_for_status()
            timed["integration"].seconds += time.perf_counter() - t0
            timed["integration"].requests += 2
            timed["integration"].done += 1
        # Models go under the providers written so far; sample providers first, then their models.
        model_providers = -(-share["model"] // sizes.models_per_provider)
        for p in range(max(share["provider"], model_providers)):
            spec = provider(p, sizes.models_per_provider, never)
            configuration = {
                k: ENV["BENCH_OPENAI_KEY"] if v == "${env:BENCH_OPENAI_KEY}" else v
                for k, v in spec["configuration"].items()
            }
            t0 = time.perf_counter()
            client.get(f"/api/integrations/provider/{spec['name']}", headers=orkes_headers)
            client.post(
                f"/api/integrations/provider/{spec['name']}",
                json={
                    "type": spec["type"],
                    "category": "AI_MODEL",
                    "description": spec["description"],
                    "enabled": True,
                    "configuration": configuration,
                },
                headers=orkes_headers,
            ).raise_for_status()
            if timed["provider"].done < share["provider"]:
                timed["provider"].seconds += time.perf_counter() - t0
                timed["provider"].requests += 2
                timed["provider"].done += 1
            for api in spec["apis"]:
                if timed["model"].done >= share["model"]:
                    break
                t0 = time.perf_counter()
                path = f"/api/integrations/provider/{spec['name']}/integration/{api['name']}"
                client.get(path, headers=orkes_headers)
                client.post(
                    path,
                    json={"description": api["description"], "enabled": True, "configuration": {}},
                    headers=orkes_headers,
                ).raise_for_status()
                timed["model"].seconds += time.perf_counter() - t0
                timed["model"].requests += 2
                timed["model"].done += 1
    measured = time.perf_counter() - started
    seconds, requests = token_s, 1.0
    for t in timed.values():
        s, r = t.extrapolated()
        seconds += s
        requests += r
    sampled = sum(t.done for t in timed.values())
    res.numbers["baseline_apply_s"] = seconds
    res.numbers["baseline_apply_requests"] = requests
    res.numbers["baseline_apply_measured_s"] = measured
    whole = sampled == sum(totals.values())
    res.notes["baseline_apply_s"] = (
        "measured in full" if whole else f"sample of {sampled} resources ({measured:.1f} s), extrapolated per kind"
    )


# -- job 2: the large apply ----------------------------------------------------------------


def apply_once(
    sandbox: Sandbox, workdir: Path, desired: Path, what: str, expected: Mapping[str, int], res: Results
) -> tuple[CliRun, float, dict[str, int]] | None:
    """One `reconciler apply`, checked against the expected summary, then a plan that must be
    clean. Returns the run, the server's CPU seconds and the requests by server."""
    sandbox.clear_stats()
    server_cpu = sandbox.cpu()
    run = cli(["apply", str(desired), "--auto-approve", "--format", "json"], workdir)
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
    check = cli(["plan", str(desired), "--format", "json", "--detailed-exitcode"], workdir)
    if check.code != 0:
        left = count_actionable(check.stdout) if check.code == 2 else "?"
        res.problems.append(f"after the {what}, a plan still shows changes (exit {check.code}, {left} changes)")
    return run, server_cpu, stats


def job_apply_changes(sandbox: Sandbox, workdir: Path, changed: Path, sizes: Sizes, res: Results) -> None:
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


def job_apply(sandbox: Sandbox, workdir: Path, desired: Path, sizes: Sizes, res: Results) -> None:
    runs: list[tuple[CliRun, float, dict[str, int]]] = []
    for n in range(sizes.apply_runs):
        sandbox.reset()
        sandbox.latency(sizes.latency_ms)
        done = apply_once(sandbox, workdir, desired, f"apply run {n + 1}", {"added": sizes.apply_resources}, res)
        if done is None:
            return
        runs.append(done)
    run, server_cpu, stats = min(runs, key=lambda r: r[0].wall_s)
    res.numbers["apply_wall_s"] = run.wall_s
    res.numbers["apply_wall_median_s"] = sorted(r[0].wall_s for r in runs)[len(runs) // 2]
    res.numbers["apply_cpu_s"] = run.cpu_s
    res.numbers["apply_server_cpu_s"] = server_cpu
    res.numbers["apply_peak_mb"] = max(r[0].peak_mb for r in runs)
    res.numbers["apply_requests"] = sum(stats.values())
    res.notes["apply_requests"] = ", ".join(f"{k} {v}" for k, v in stats.items())


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


def table(res: Results, check_targets: bool) -> str:
    n = res.numbers
    s = res.sizes
    rows: list[tuple[str, str, str, str]] = []

    def row(label: str, value: str, key: str | None = None) -> None:
        target, status = "", ""
        if key is not None and key in TARGETS and key in n:
            target = TARGETS[key][0]
            status = ("PASS" if TARGETS[key][1](n[key]) else "MISS") if check_targets else "(not checked)"
        rows.append((label, value, target, status))

    def section(label: str) -> None:
        rows.append((label, "", "", ""))

    def clean(what: str) -> str:
        return "NO" if any(f"after the {what}" in p for p in res.problems) else "yes"

    section(f"1. plan of {s.plan_resources:,} resources ({expected_plan_changes(s):,} differ)")
    row(
        f"   wall time, best of {s.plan_runs} (median)",
        f"{n['plan_wall_s']:.2f} s ({n['plan_wall_median_s']:.2f})",
        "plan_wall_s",
    )
    row("   CPU: the plan process / the sandbox", f"{n['plan_cpu_s']:.2f} s / {n['plan_server_cpu_s']:.2f} s")
    row("   of which start-up + imports, no work", f"{n['startup_s']:.2f} s")
    row(
        "   requests: total / most on one server",
        f"{n['plan_requests']:.0f} / {n['plan_requests_max_per_server']:.0f}",
        "plan_requests_max_per_server",
    )
    row("   peak memory (maxrss of the plan process)", f"{n['plan_peak_mb']:.0f} MB", "plan_peak_mb")
    if "changes_apply_wall_s" in n:
        section(f"1b. apply of those {expected_plan_changes(s):,} changes (information)")
        row("   wall time", f"{n['changes_apply_wall_s']:.2f} s")
        row(
            "   CPU: the apply process / the sandbox",
            f"{n['changes_apply_cpu_s']:.2f} s / {n['changes_apply_server_cpu_s']:.2f} s",
        )
        row("   requests", f"{n['changes_apply_requests']:.0f}")
        row("   plan afterwards shows no changes", clean("apply of the plan's changes"))
    section(f"2. apply of {s.apply_resources:,} creates on an empty server")
    row(
        f"   wall time, best of {s.apply_runs} (median)",
        f"{n['apply_wall_s']:.2f} s ({n['apply_wall_median_s']:.2f})",
        "apply_wall_s",
    )
    row("   CPU: the apply process / the sandbox", f"{n['apply_cpu_s']:.2f} s / {n['apply_server_cpu_s']:.2f} s")
    row("   requests", f"{n['apply_requests']:.0f}")
    row("   peak memory", f"{n['apply_peak_mb']:.0f} MB", "apply_peak_mb")
    row("   plan afterwards shows no changes", clean("apply run"))
    section("3. baseline: plain httpx, one request at a time")
    row("   plan job", f"{n['baseline_plan_s']:.1f} s, {n['baseline_plan_requests']:.0f} requests")
    row("   plan speed-up (baseline / tool)", f"{n['plan_speedup']:.1f}x", "plan_speedup")
    row("   apply job", f"{n['baseline_apply_s']:.1f} s, {n['baseline_apply_requests']:.0f} requests")
    row("   apply speed-up (baseline / tool)", f"{n['apply_speedup']:.1f}x", "apply_speedup")
    section("4. floor: parse the desired YAML (C loader) + live JSON")
    row("   floor, garbage collector paused", f"{n['floor_s']:.3f} s")
    row("   the same, collector running (plain script)", f"{n['floor_gc_s']:.3f} s")
    row("   plan / floor", f"{n['plan_vs_floor']:.1f}x", "plan_vs_floor")

    header = ("measure", "value", "target", "status")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = [
        "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    models = s.providers * s.models_per_provider
    notes = [
        f"latency injected on every API request: {s.latency_ms:g} ms; desired files tuned with parallelism "
        f"{s.parallelism} (all three servers) and batch_size {s.batch_size} (Conductor)",
        f"plan: {s.integrations:,} Kubiya integrations, {s.providers} Conductor providers x "
        f"{s.models_per_provider} models ({models:,}), {s.channels:,} console channels on one agent; "
        f"requests by server: {res.notes.get('plan_requests', '?')}",
        f"1b: requests by server: {res.notes.get('changes_apply_requests', '?')}",
        f"apply: {s.apply_integrations:,} integrations, {s.apply_providers} providers with "
        f"{s.apply_providers * s.models_per_provider} models; requests by server: "
        f"{res.notes.get('apply_requests', '?')}",
        f"baseline plan: {res.notes.get('baseline_plan_s', '')}",
        f"baseline apply: {res.notes.get('baseline_apply_s', '')}; a GET then a POST per resource, "
        "no tags and no version checks, so the baseline does less than the tool",
        "tool times are wall times of `python -m reconciler.cli` subprocesses, start-up and imports included",
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


# -- main ----------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--small", action="store_true", help="CI size: seconds, no timing targets checked")
    parser.add_argument("--latency-ms", type=float, default=None, help="latency injected on every request")
    parser.add_argument("--json", dest="json_file", type=Path, help="also write the numbers to this file")
    parser.add_argument("--parallelism", type=int, default=None, help="servers' parallelism (1-64)")
    parser.add_argument("--batch-size", type=int, default=None, help="Conductor providers per bulk save")
    parser.add_argument("--baseline-sample", type=int, default=None, help="resources per baseline loop")
    parser.add_argument("--profile", type=Path, default=None, help="also profile plan and apply; .prof files here")
    parser.add_argument("--top", type=int, default=25, help="hotspots shown per profile")
    parser.add_argument("--keep", action="store_true", help="keep the temp directory (files, logs, database)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = SMALL if args.small else FULL
    overrides: dict[str, Any] = {
        key: value
        for key, value in (
            ("latency_ms", args.latency_ms),
            ("parallelism", args.parallelism),
            ("batch_size", args.batch_size),
            ("baseline_sample", args.baseline_sample),
        )
        if value is not None
    }
    sizes = replace(sizes, **overrides)
    res = Results(sizes)
    workdir = Path(tempfile.mkdtemp(prefix="reconciler-bench-"))
    sandbox: Sandbox | None = None
    started = time.perf_counter()
    try:
        sandbox = Sandbox(workdir)
        url = sandbox.url
        base = write_yaml(workdir / "plan-base.yaml", plan_document(url, sizes, with_changes=False))
        changed = write_yaml(workdir / "plan-changed.yaml", plan_document(url, sizes, with_changes=True))
        apply_file = write_yaml(workdir / "apply.yaml", apply_document(url, sizes))
        log(f"sandbox on {url}; files in {workdir}")

        log(f"seeding {sizes.plan_resources:,} live resources")
        res.numbers["seed_s"] = seed_plan_state(sandbox, workdir, base, sizes)
        clean = cli(["plan", str(base), "--format", "json", "--detailed-exitcode"], workdir)
        if clean.code != 0:
            raise BenchError(f"the seeded state does not plan clean (exit {clean.code}): {clean.stderr.strip()[-500:]}")

        log("job 1: large plan")
        startup(workdir, res)
        job_plan(sandbox, workdir, changed, sizes, res)
        sandbox.latency(0)
        live = fetch_raw_lists(url, workdir)
        res.numbers["floor_s"] = floor(changed, live, collect=False)
        res.numbers["floor_gc_s"] = floor(changed, live, collect=True)
        log("baseline of job 1")
        baseline_plan(sandbox, sizes, res)
        if args.profile is not None:
            log("profiling the plan")
            plan_args = ["plan", str(changed), "--format", "json"]
            profile(sandbox, workdir, plan_args, "plan", sizes, res, args.top, args.profile)
        log("job 1b: applying the plan's changes")
        job_apply_changes(sandbox, workdir, changed, sizes, res)

        log("job 2: large apply")
        job_apply(sandbox, workdir, apply_file, sizes, res)
        if args.profile is not None:
            log("profiling the apply")
            sandbox.reset()
            apply_args = ["apply", str(apply_file), "--auto-approve", "--format", "json"]
            profile(sandbox, workdir, apply_args, "apply", sizes, res, args.top, args.profile)
        log("baseline of job 2")
        baseline_apply(sandbox, sizes, res)

        n = res.numbers
        n["plan_speedup"] = ratio(n["baseline_plan_s"], n["plan_wall_s"])
        n["apply_speedup"] = ratio(n["baseline_apply_s"], n["apply_wall_s"])
        n["plan_vs_floor"] = ratio(n["plan_wall_s"], n["floor_s"])
    except BenchError as exc:
        res.problems.append(str(exc))
    finally:
        if sandbox is not None:
            sandbox.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    res.numbers["bench_total_s"] = time.perf_counter() - started

    complete = "plan_vs_floor" in res.numbers
    if complete:
        print(table(res, check_targets=not args.small))
        print_profiles(res)
    misses = [k for k, (_, ok) in TARGETS.items() if k in res.numbers and not ok(res.numbers[k])]
    if args.json_file is not None:
        document = {
            "sizes": asdict(sizes),
            "numbers": res.numbers,
            "notes": res.notes,
            "targets": {k: t for k, (t, _) in TARGETS.items()},
            "misses": [] if args.small else misses,
            "problems": res.problems,
            "profiles": res.profiles,
        }
        args.json_file.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(
        f"\nbench finished in {res.numbers['bench_total_s']:.1f} s"
        + ("" if args.small or not complete else f"; targets missed: {len(misses)} of {len(TARGETS)}")
    )
    for problem in res.problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if res.problems else 0


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
