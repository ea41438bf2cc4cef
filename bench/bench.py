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
2. large apply: 1,000 Kubiya creates on an empty server; in each round the tool (and the tool
   again with no latency injected: processing alone, the tool's and the sandbox's), a thread-pool
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
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

# `python bench/bench.py` puts bench/ first on the path; the bench package and the served-sandbox
# harness it shares with the tests (`tests.served`) are imported from the checkout.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import BenchError, Sandbox, log
from bench.jobs import run_all, scaling
from bench.report import Results, json_document, machine_state, missed, print_profiles, state_line, table, targets
from bench.workloads import FULL, SMALL, scaled


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
    misses = missed(res)
    complete = "apply_speedup" in res.numbers
    if scaling_lines:
        print(f"reconciler bench --scaling: {state_line(state)}\n")
        print("\n".join(scaling_lines))
    elif complete:
        print(table(res, check_targets=not args.small, state=state))
        print_profiles(res)
    if args.json_file is not None:
        document = json_document(res, state, check_targets=not args.small, scaling_lines=scaling_lines)
        args.json_file.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    checked = complete and not args.small and not scaling_lines
    print(
        f"\nbench finished in {res.numbers['bench_total_s']:.1f} s"
        + (f"; targets missed: {len(misses)} of {len(goals)}" if checked else "")
    )
    for problem in res.problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if res.problems or not (complete or scaling_lines) else 0


if __name__ == "__main__":
    sys.exit(main())
