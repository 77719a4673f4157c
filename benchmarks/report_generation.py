"""Report generation time and the dashboard's overview time, on synthetic stores.

``python -m benchmarks.report_generation [--requests 100000 1000000] [--endpoints 50]`` writes a
synthetic store of each size (Zipf-like traffic over ``--endpoints`` endpoints, 14 days, 3
versions, with the profiler's tables for every endpoint as at level 3: sampled stacks, three
outliers and two detailed profiles each; not timed), then times:

- ``report_s``: ``python -m fmd_profiler.report`` end to end in this process (queries, every
  chart drawn in the process pool, the site written atomically), and ``report_cpu_s``, the CPU
  seconds it took including the chart workers (on a shared machine, wall time depends on the
  neighbours; CPU seconds / cores is what an idle machine would need), and ``rerun_s``, the same
  report written again over the first (unchanged data: every chart is taken from it);
- the dashboard's overview page through a real Flask app and its test client: ``cold_s`` (first
  view: imports, queries, charts), ``warm_s`` (median of repeated views of unchanged
  data, served from the page cache) and ``rebuild_s`` (median after the store changed: queries
  run again, unchanged charts come from the chart cache).

:func:`measure` returns the figures as a dict for the lead's harness; nothing asserts a budget.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

WORK = Path(__file__).resolve().parent / ".work" / "report_generation"
ADMIN_PASSWORD = "benchmark"


def measure(requests: int, *, endpoints: int = 50, jobs: int | None = None,
            rounds: int = 5, work: Path | None = None) -> dict[str, Any]:
    """Time the report and the overview page for a store of ``requests`` requests."""
    from fmd_profiler.demo.synthetic import write_synthetic_store
    from fmd_profiler.report.report_cli import main as report_main

    folder = Path(tempfile.mkdtemp(prefix=f"store-{requests}-", dir=_work(work)))
    try:
        started = time.perf_counter()
        store = write_synthetic_store(folder / "bench.duckdb", requests=requests,
                                      endpoints=endpoints, days=14, versions=3,
                                      end=time.time(), profiles=True)
        generate_s = time.perf_counter() - started
        out = folder / "report"
        args = ["--db", str(store.database), "--out", str(out)]
        if jobs:
            args += ["--jobs", str(jobs)]
        started, cpu_before = time.perf_counter(), _cpu_seconds()
        if report_main(args) != 0:
            raise RuntimeError("the report failed; see the message above")
        report_s = time.perf_counter() - started
        # CPU seconds of this process and its chart workers: on a busy shared machine the
        # wall time says more about the neighbours than about the report.
        report_cpu_s = _cpu_seconds() - cpu_before
        started = time.perf_counter()
        if report_main(args) != 0:
            raise RuntimeError("the second report failed; see the message above")
        rerun_s = time.perf_counter() - started
        pages = sum(1 for _ in out.rglob("*.html"))
        charts = sum(1 for _ in (out / "charts").glob("*.png"))
        overview = overview_times(store.database, rounds)
        return {"requests": requests, "endpoints": endpoints, "generate_store_s": generate_s,
                "report_s": report_s, "report_cpu_s": report_cpu_s, "rerun_s": rerun_s,
                "pages": pages,
                "charts": charts, "overview": overview}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def overview_times(database: Path, rounds: int) -> dict[str, float]:
    """Cold, warm and rebuild times of GET /dashboard/ on ``database``."""
    from flask import Flask

    from fmd_profiler import Profiler
    from fmd_profiler.dashboard import cache
    from fmd_profiler.store import StoreLocation
    from fmd_profiler.store.control import write_level_overrides

    app = Flask("report_benchmark")  # no routes of its own: it writes nothing to the store
    Profiler(app, DATABASE=str(database), PASSWORD=ADMIN_PASSWORD,
             SECRET_KEY="benchmark-secret", MONITOR_LEVEL=0)
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      client.get("/dashboard/login").text).group(1)  # type: ignore[union-attr]
    client.post("/dashboard/login", data={"username": "admin", "password": ADMIN_PASSWORD,
                                          "csrf_token": token})

    def view() -> float:
        started = time.perf_counter()
        response = client.get("/dashboard/")
        elapsed = time.perf_counter() - started
        if response.status_code != 200 or "Overview" not in response.text:
            raise RuntimeError(f"the overview answered {response.status_code}")
        return elapsed

    cold = view()
    warm = [view() for _ in range(rounds)]
    location = StoreLocation(database)
    fresh_for = cache.FRESH_FOR_S
    cache.FRESH_FOR_S = 0.0  # measure a rebuild on every change, not the 10 s reuse
    try:
        rebuild = []
        for i in range(rounds):
            write_level_overrides(location.levels_path, {"benchmark.round": i % 4})
            rebuild.append(view())
    finally:
        cache.FRESH_FOR_S = fresh_for
        app.extensions["fmd_profiler"].runtime.stop()
    return {"cold_s": cold, "warm_s": statistics.median(warm),
            "rebuild_s": statistics.median(rebuild)}


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # reaped chart workers
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _work(work: Path | None) -> Path:
    folder = work or WORK
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report_generation",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--endpoints", type=int, default=50)
    parser.add_argument("--jobs", type=int, help="chart processes (default: one per core)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    args = parser.parse_args(argv)
    results = []
    for requests in args.requests:
        figures = measure(requests, endpoints=args.endpoints, jobs=args.jobs,
                          rounds=args.rounds)
        results.append(figures)
        o = figures["overview"]
        print(f"{requests:>9,} requests / {figures['endpoints']} endpoints: report "
              f"{figures['report_s']:.1f} s, {figures['report_cpu_s']:.1f} CPU-s "
              f"({figures['pages']} pages, {figures['charts']} charts), again over it "
              f"{figures['rerun_s']:.1f} s; overview cold {o['cold_s']:.2f} s, "
              f"warm {o['warm_s'] * 1000:.1f} ms, "
              f"rebuild {o['rebuild_s']:.2f} s", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":  # the chart pool spawns processes that import this module
    sys.exit(main())
