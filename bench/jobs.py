"""The measured jobs: cold start, the large plan (alternating with its floors and the loop
baseline), applying its changes, the large apply (alternating with the two scripts), the
profiles, and `--scaling` (the plan alone at several sizes).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from bench.baseline import (
    PlanLoop,
    baseline_script,
    fetch_raw_lists,
    loader_floor,
    run_baseline,
    run_raw_client,
    tight_floor,
)
from bench.harness import BenchError, CliRun, Sandbox, cli, cli_ok, files, log, median, per_server, ratio, run_process
from bench.report import Results, hotspots
from bench.workloads import (
    APPLY_ROUND_TRIPS_IN_TURN,
    TINY,
    Sizes,
    apply_document,
    check_clean,
    expected_plan_changes,
    modified,
    plan_document,
    scaled,
    seed_plan_state,
    write_desired,
)


def count_actionable(plan_json: str) -> int:
    document = json.loads(plan_json)
    return sum(1 for c in document["changes"] if c["action"] != "no-op")


# -- job 0: cold start ---------------------------------------------------------------------


# What a JSON plan imports (the other commands' and views' modules are imported when used).
STARTUP_IMPORTS = "import reconciler.cli, reconciler.cli.plan, reconciler.engine, reconciler.views.jsonview"


def compile_bytecode() -> str:
    """Compile the tool's modules, as installing a package does. An editable install (the
    bench runs the checkout) has no bytecode, and with PYTHONDONTWRITEBYTECODE set (as in
    many CI images) every run would compile the whole package again: ~60 ms of each cold
    start that an installed tool never pays."""
    import compileall

    import reconciler

    package = Path(reconciler.__file__).parent
    ok = compileall.compile_dir(str(package), quiet=1)
    return f"bytecode of {package} compiled first ({'ok' if ok else 'with errors'}), as an installed package has it"


def job_startup(sandbox: Sandbox, workdir: Path, tiny: Sequence[Path], sizes: Sizes, res: Results) -> None:
    """`reconciler --help`, `reconciler plan` of the 21-resource file (the server is empty, so
    every resource is a create), the bare interpreter, and the imports of a plan, alternating;
    medians. The tiny plan's peak RSS is the fixed part the large plan's per-resource memory
    is counted beyond."""
    res.notes["bytecode"] = compile_bytecode()
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


# -- job 1: the large plan, alternating with the floors and the loop baseline --------------


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


def job_apply(sandbox: Sandbox, workdir: Path, desired: Sequence[Path], sizes: Sizes, res: Results) -> None:
    """Rounds of: the tool, the pool script (same parallelism), the script with one worker on
    a sample (extrapolated), the creates from raw sockets, each from an empty server at the
    same latency."""
    script = baseline_script(workdir)
    sample = max(1, min(sizes.apply_integrations, sizes.baseline_sample // sizes.runs))
    tool: list[tuple[CliRun, float, dict[str, int]]] = []
    still: list[tuple[CliRun, float, dict[str, int]]] = []
    pool: list[tuple[CliRun, int]] = []
    loop: list[tuple[float, int]] = []
    raw: list[float] = []
    for n in range(sizes.runs):
        sandbox.reset()
        sandbox.latency(sizes.latency_ms)
        done = apply_once(sandbox, workdir, desired, f"apply run {n + 1}", {"added": sizes.apply_integrations}, res)
        if done is None:
            return
        tool.append(done)
        # The same apply with no latency injected: what the tool and the one-process sandbox
        # take in processing alone.
        sandbox.reset()
        sandbox.latency(0)
        expected = {"added": sizes.apply_integrations}
        done = apply_once(sandbox, workdir, desired, f"apply run {n + 1}, no latency", expected, res)
        if done is None:
            return
        still.append(done)
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
        raw.append(run_raw_client(sandbox, desired[0], sizes.parallelism, sizes.latency_ms))
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
    num["apply_no_latency_s"] = median([r[0].wall_s for r in still])
    num["apply_no_latency_server_cpu_s"] = median([r[1] for r in still])
    num["apply_no_latency_vs_latency_floor"] = ratio(num["apply_no_latency_s"], num["apply_latency_floor_s"])
    num["server_cpu_ms_per_request"] = num["apply_no_latency_server_cpu_s"] / num["apply_requests"] * 1000
    # Beside the issue's floor: the creates' floor plus the round trips made in turn.
    creates_floor = sizes.apply_integrations / sizes.parallelism * sizes.latency_ms / 1000
    num["apply_path_floor_s"] = creates_floor + APPLY_ROUND_TRIPS_IN_TURN * sizes.latency_ms / 1000
    num["apply_vs_path_floor"] = ratio(num["apply_wall_s"], num["apply_path_floor_s"])
    num["raw_posts_s"] = median(raw)
    num["raw_vs_creates_floor"] = ratio(num["raw_posts_s"], creates_floor)
    num["apply_beyond_raw_s"] = num["apply_wall_s"] - num["raw_posts_s"]
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


def profile(
    sandbox: Sandbox, workdir: Path, args: Sequence[str], name: str, sizes: Sizes, res: Results, top: int, out: Path
) -> None:
    """One more run of a job under cProfile (`OUT/NAME.prof`, for snakeviz or pstats)."""
    out.mkdir(parents=True, exist_ok=True)
    sandbox.latency(sizes.latency_ms)
    target = out / f"{name}.prof"
    cli_ok(cli(args, workdir, profile=target), f"profiled {name}")
    res.profiles[name] = hotspots(target, top)


# -- scaling: the plan alone at several sizes ----------------------------------------------


def scaling(sandbox: Sandbox, workdir: Path, base: Sizes, totals: Sequence[int], problems: list[str]) -> list[str]:
    """The plan job (rounds of plan + tight floor) at each size, from a freshly seeded server;
    the table's lines. Per-resource figures are counted beyond a 21-resource plan, and the
    slope columns compare each size with the one before (flat slopes: linear scaling)."""
    url = sandbox.url
    compile_bytecode()
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


# -- all jobs --------------------------------------------------------------------------------


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
