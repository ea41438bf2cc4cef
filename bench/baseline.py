"""What the tool is compared with: the two floors (parsing what the plan must read anyway), the
plan as a loop of GETs one request at a time, the apply as the script a competent user would
write (a pool of threads of the tool's parallelism, or one worker), and the apply's POSTs sent
by a raw-socket client (what no HTTP client beats against this server).
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.harness import (
    CONDUCTOR_BULK,
    CONSOLE_BASE,
    CONSOLE_KEY,
    KUBIYA_BASE,
    KUBIYA_TOKEN,
    BenchError,
    CliRun,
    Sandbox,
    cli_ok,
    conductor_token,
    per_server,
    run_process,
    timed_parse,
)
from bench.workloads import Sizes, channel, integration, modified, provider
from reconciler.desired import safeyaml
from reconciler.model import MANAGED_TAG

try:
    import orjson

    JSON_READER = "orjson"
    json_loads: Callable[[bytes], Any] = orjson.loads
except ImportError:  # pragma: no cover - orjson is a dependency of the tool
    JSON_READER = "json"
    json_loads = json.loads


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


def loader_floor(desired: Sequence[Path], live: Sequence[Path], collect: bool = False) -> float:
    """The "C loader" floor: the desired YAML with CSafeLoader, the live JSON with json."""

    def parse() -> list[Any]:
        values = [yaml.load(p.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader) for p in desired]
        return values + [json.loads(p.read_bytes()) for p in live]

    return timed_parse(parse, collect)


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

    return timed_parse(parse, collect=False)


# -- the plan as a loop of GETs, one request at a time --------------------------------------


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


# -- the apply as a script: a pool of threads, or one worker ------------------------------


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


# -- the apply's POSTs from raw sockets ------------------------------------------------------


def raw_requests(desired: Path, token: str, host: str) -> list[bytes]:
    """The pool script's POSTs, each encoded once as the bytes of an HTTP/1.1 request."""
    with desired.open(encoding="utf-8") as handle:
        specs = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))["integrations"]
    out = []
    for spec in specs:
        body = json.dumps(
            {
                "name": spec["name"],
                "integration_type": spec["type"],
                "description": spec.get("description", ""),
                "config": spec.get("config", {}),
                "tags": sorted({*spec.get("tags", []), MANAGED_TAG}),
            }
        ).encode()
        head = (
            f"POST {KUBIYA_BASE} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        out.append(head.encode() + body)
    return out


# A lost answer would otherwise hang the bench; the creates take well under a second.
RAW_CLIENT_TIMEOUT_S = 300


async def _raw_posts(port: int, requests: Sequence[bytes], parallelism: int) -> float:
    pending = iter(requests)

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for request in pending:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                if not head.startswith(b"HTTP/1.1 201 "):
                    raise BenchError(f"raw client: {head.splitlines()[0]!r} for a create")
                fields = (line.split(b":", 1) for line in head.split(b"\r\n")[1:] if b":" in line)
                lengths = [int(value) for name, value in fields if name.strip().lower() == b"content-length"]
                if len(lengths) != 1:
                    raise BenchError(f"raw client: an answer without one Content-Length: {head[:200]!r}")
                await reader.readexactly(lengths[0])
        finally:
            writer.close()

    started = time.perf_counter()
    try:
        await asyncio.wait_for(asyncio.gather(*(connection() for _ in range(parallelism))), RAW_CLIENT_TIMEOUT_S)
    except TimeoutError:
        raise BenchError(f"raw client: the creates took over {RAW_CLIENT_TIMEOUT_S} s") from None
    return time.perf_counter() - started


def run_raw_client(sandbox: Sandbox, desired: Path, parallelism: int, latency_ms: float) -> float:
    """From an empty server: the wall time of the creates sent from `parallelism` raw
    connections, each request's bytes made beforehand and each answer's body only counted, so
    all that is left is the round trip and the server's handling."""
    sandbox.reset()
    sandbox.latency(latency_ms)
    requests = raw_requests(desired, KUBIYA_TOKEN, f"127.0.0.1:{sandbox.port}")
    wall = asyncio.run(_raw_posts(sandbox.port, requests, parallelism))
    created = kubiya_count(sandbox)
    if created != len(requests):
        raise BenchError(f"raw client: {created} integrations on the server after posting {len(requests)}")
    return wall
