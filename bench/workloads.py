"""What the bench plans and applies: the sizes of a run, the desired-state files at a size, and
the live state of the large plan (90% equal to the desired files, one resource in ten
differing), written to the served sandbox before the plan is measured.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.harness import (
    AGENT,
    CONSOLE_BASE,
    CONSOLE_KEY,
    ENV,
    KUBIYA_BASE,
    KUBIYA_TOKEN,
    BenchError,
    Sandbox,
    cli,
    cli_ok,
    files,
)
from reconciler.desired import safeyaml
from reconciler.model import MANAGED_TAG

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


# The round trips an apply makes one after the other, which no parallelism hides: the lock's
# look and its take, the read (its lists at once), and the release at the end.
APPLY_ROUND_TRIPS_IN_TURN = 4


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
