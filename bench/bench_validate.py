"""Benchmark of `reconciler.desired.load()` on a generated 10,000-resource desired state.

    python bench/bench_validate.py [--resources N] [--profile]

Writes one YAML file with a mix of Kubiya integrations, Conductor providers (one model
each) and console channels, loads it three times and reports the best time. `--profile`
prints the top of a cProfile run instead. The target is well under a second for 10,000.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reconciler.desired import load

ENVIRON = {"KUBIYA_TOKEN": "t", "ORKES_KEY_ID": "i", "ORKES_KEY_SECRET": "s", "CONSOLE_KEY": "k"}


def generate(resources: int) -> str:
    """A desired state of about `resources` resources: a quarter of each kind."""
    quarter = max(1, resources // 4)
    lines = [
        "version: 1",
        "servers:",
        "  kubiya: {kind: kubiya, url: 'https://kubiya.example.com', token: '${env:KUBIYA_TOKEN}'}",
        "  orkes:",
        "    kind: conductor",
        "    url: https://orkes.example.com",
        "    key_id: ${env:ORKES_KEY_ID}",
        "    key_secret: ${env:ORKES_KEY_SECRET}",
        "  console: {kind: console, url: 'https://console.example.com', api_key: '${env:CONSOLE_KEY}'}",
        "integrations:",
    ]
    for i in range(quarter):
        lines += [
            f"  - name: integration-{i:05d}",
            "    server: kubiya",
            f"    type: {('postgres', 'redis', 'http', 'mysql')[i % 4]}",
            f"    description: Generated integration number {i}",
            "    config:",
            "      env_vars:",
            f"        HOST: host-{i}.internal",
            '        PORT: "5432"',
            "      secrets: [DB_PASSWORD]",
            "      connection_test: {command: pg_isready, timeout: 5}",
            f"    tags: [team-{i % 7}, generated]",
        ]
    lines.append("providers:")
    for i in range(quarter):
        if i % 2:
            config = ["      endpoint: http://ollama.internal:11434"]
            ptype = "ollama"
        else:
            config = [
                "      endpoint: kafka.internal:9092",
                "      connectionType: PLAINTEXT",
                "      protocol: kafka",
            ]
            ptype = "kafka"
        lines += [
            f"  - name: provider-{i:05d}",
            "    server: orkes",
            f"    type: {ptype}",
            f"    description: Generated provider {i}",
            "    configuration:",
            *config,
            f"    tags: {{team: team-{i % 7}}}",
            "    apis:",
            f"      - name: model-{i}",
            "        description: A model",
        ]
    lines.append("channels:")
    for i in range(quarter):
        if i % 2:
            lines += [
                "  - server: console",
                "    agent: agt_demo",
                "    family: mcp_server",
                f"    name: mcp-{i:05d}",
                f"    server_url: https://mcp-{i}.example.com",
            ]
        else:
            lines += [
                "  - server: console",
                "    agent: agt_demo",
                "    family: custom_api",
                f"    name: api-{i:05d}",
                f"    base_url: https://api-{i}.example.com",
                "    auth_type: bearer",
                "    auth_config: {token: '${env:CONSOLE_KEY}'}",
            ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resources", type=int, default=10_000)
    parser.add_argument("--profile", action="store_true", help="print a cProfile summary")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.yaml"
        path.write_text(generate(args.resources), encoding="utf-8")
        size = path.stat().st_size
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            load([path], environ=ENVIRON)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
            return
        best = float("inf")
        count = 0
        for _ in range(3):
            start = time.perf_counter()
            state = load([path], environ=ENVIRON)
            best = min(best, time.perf_counter() - start)
            count = len(state.resources)
            del state
    print(f"resources: {count}")
    print(f"file size: {size / 1024 / 1024:.1f} MiB")
    print(f"seconds (best of 3): {best:.3f}")
    print(f"resources/s: {count / best:,.0f}")


if __name__ == "__main__":
    main()
