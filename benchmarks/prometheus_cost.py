"""What ``PROMETHEUS = true`` costs a request at level 1: paired with level 1 without it.

Same protocol as :mod:`benchmarks.paired`, with level 1 as the twin instead of the bare app:
one process builds the demo app twice (level 1, and level 1 with Prometheus metrics), serves
their requests one by one in ABBA order, and each round's ratio of medians (and of trimmed
means) is what the metrics add. Both apps run their own writer thread as in production (the
metrics are counted there, not in the request); buffered rows are written between rounds,
untimed, for both alike. Several fresh processes, several rounds each.

``python -m benchmarks.prometheus_cost [--processes 4] [--rounds 5] [--requests 200]`` prints a
Markdown table (the figure in benchmarks/RESULTS.md comes from it); ``python -m
benchmarks.prometheus_cost --one FOLDER ROUNDS N`` is one process (prints one JSON line).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.contenders import OURS_L1, OURS_L1_PROMETHEUS, build_app, run_child
from benchmarks.latency import ENDPOINTS, middle_half, trimmed_mean

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / ".work" / "prometheus"


def one_process(folder: Path, rounds: int, requests: int) -> dict[str, Any]:
    from benchmarks.worker import _call, environ_for, settle

    plain = build_app(OURS_L1, folder / "plain")
    metered = build_app(OURS_L1_PROMETHEUS, folder / "metered")
    perf = time.perf_counter
    pairs: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for path in ENDPOINTS:
        environ = environ_for(path)
        for _ in range(300):  # warm-up: lazy starts, caches
            _call(metered, environ)
            _call(plain, environ)
        settle(metered, ingest=True)
        settle(plain, ingest=True)
        for _ in range(rounds):
            mine: list[float] = []
            twin: list[float] = []
            for i in range(requests):
                for metered_turn in ((False, True) if i % 2 else (True, False)):
                    app, into = (metered, mine) if metered_turn else (plain, twin)
                    t0 = perf()
                    _call(app, environ)
                    into.append(perf() - t0)
            settle(metered)
            settle(plain)
            stats = pairs.setdefault(path, {})
            stats.setdefault("median", []).append(
                (statistics.median(mine) * 1e6, statistics.median(twin) * 1e6))
            stats.setdefault("mean", []).append(
                (trimmed_mean(mine) * 1e6, trimmed_mean(twin) * 1e6))
    return {"pairs": pairs}


def measure(processes: int, rounds: int, requests: int) -> dict[str, dict[str, list[Any]]]:
    merged: dict[str, dict[str, list[Any]]] = {}
    for i in range(processes):
        run = run_child(ROOT, "benchmarks.prometheus_cost", "--one", str(WORK / f"p{i}"),
                        str(rounds), str(requests))
        for path, stats in run["pairs"].items():
            for stat, found in stats.items():
                merged.setdefault(path, {}).setdefault(stat, []).extend(found)
    return merged


def table(merged: dict[str, dict[str, list[Any]]]) -> str:
    lines = ["| endpoint | level 1 median µs | ratio of medians (middle half) | "
             "ratio of trimmed means (middle half) | added µs (median) |",
             "|---|---:|---:|---:|---:|"]
    for path in ENDPOINTS:
        cells = [f"`{path}`",
                 f"{statistics.median(b for _, b in merged[path]['median']):.0f}"]
        for stat in ("median", "mean"):
            ratios = [m / b for m, b in merged[path][stat]]
            spread = middle_half(ratios)
            around = f" ({spread[0]:.3f}-{spread[1]:.3f})" if spread else ""
            cells.append(f"{statistics.median(ratios):.3f}{around}")
        cells.append(f"{statistics.median(m - b for m, b in merged[path]['median']):+.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def storage_costs(rows: int = 1000, series: int = 30, processes: int = 3,
                  repeats: int = 20) -> dict[str, float]:
    """The two designs for several workers, timed on the writer's side (count ``rows`` request
    rows spread over ``series`` label sets, then persist) and the scraper's (merge
    ``processes`` processes' files): per-process JSON files of our own against
    prometheus_client's multiprocess mode (mmap files per process and metric type). Each in a
    fresh process, since prometheus_client reads PROMETHEUS_MULTIPROC_DIR at import."""
    return run_child(ROOT, "benchmarks.prometheus_cost", "--storage-one", str(WORK / "storage"),
                     str(rows), str(series), str(processes), str(repeats))


def _storage_one(folder: Path, rows: int, series: int, processes: int,
                 repeats: int) -> dict[str, float]:
    import os
    import shutil

    from fmd_profiler.metrics.counters import BUCKETS_S, RequestCounters
    from fmd_profiler.metrics.files import ProcessFile, ProcessIdentity, read_merged

    shutil.rmtree(folder, ignore_errors=True)
    ours, theirs = folder / "ours", folder / "prometheus_client"
    theirs.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(theirs)
    import prometheus_client
    from prometheus_client import multiprocess

    batch = [(f"endpoint_{i % series}", "/x", "GET", 200, 0.5 + i % 40, 0.1, 1.8e9, "v", None,
              None, None, None) for i in range(rows)]
    perf = time.perf_counter
    figures: dict[str, float] = {}

    counters = RequestCounters()
    files = [ProcessFile(ours, ProcessIdentity("bench", 10_000 + p, None, f"t{p}"))
             for p in range(processes)]
    t0 = perf()
    for _ in range(repeats):
        counters.observe(batch)
        files[0].write(counters.totals)
    figures["ours: count and write, per row (µs)"] = (perf() - t0) / repeats / rows * 1e6
    for extra in files[1:]:
        extra.write(counters.totals)
    t0 = perf()
    for _ in range(repeats):
        read_merged(ours, alive=lambda pid, started: True)
    figures["ours: scrape merge (ms)"] = (perf() - t0) / repeats * 1e3

    registry = prometheus_client.CollectorRegistry()
    requests_total = prometheus_client.Counter(
        "requests", "r", ["endpoint", "method", "status_class"], registry=registry)
    durations = prometheus_client.Histogram(
        "duration_seconds", "d", ["endpoint", "method", "status_class"], buckets=BUCKETS_S,
        registry=registry)
    t0 = perf()
    for _ in range(repeats):
        for row in batch:
            labels = (row[0], row[2], "2xx")
            requests_total.labels(*labels).inc()
            durations.labels(*labels).observe(float(row[4]) / 1000.0)  # type: ignore[arg-type]
    figures["prometheus_client multiprocess: count, per row (µs)"] = (
        (perf() - t0) / repeats / rows * 1e6)
    for p in range(1, processes):  # other workers' files, as their own processes would leave
        for name in os.listdir(theirs):
            if name.endswith(f"_{os.getpid()}.db"):
                shutil.copy(theirs / name, theirs / name.replace(f"_{os.getpid()}.db",
                                                                 f"_{os.getpid() + p}.db"))
    reader = prometheus_client.CollectorRegistry()
    multiprocess.MultiProcessCollector(reader)
    t0 = perf()
    for _ in range(repeats):
        prometheus_client.generate_latest(reader)
    figures["prometheus_client multiprocess: scrape merge (ms)"] = (perf() - t0) / repeats * 1e3
    figures["prometheus_client multiprocess: files per worker"] = float(
        sum(1 for n in os.listdir(theirs) if n.endswith(f"_{os.getpid()}.db")))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.prometheus_cost")
    parser.add_argument("--one", nargs=3, metavar=("FOLDER", "ROUNDS", "N"))
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--storage", action="store_true",
                        help="time the per-process file designs instead (own files against "
                             "prometheus_client's multiprocess mode)")
    parser.add_argument("--storage-one", nargs=5, metavar=("FOLDER", "ROWS", "SERIES",
                                                          "PROCESSES", "REPEATS"))
    args = parser.parse_args(argv)
    if args.storage_one:
        folder, *numbers = args.storage_one
        print(json.dumps(_storage_one(Path(folder), *map(int, numbers))))
        return 0
    if args.storage:
        for name, value in storage_costs().items():
            print(f"| {name} | {value:.3g} |")
        return 0
    if args.one:
        folder, rounds, requests = args.one
        print(json.dumps(one_process(Path(folder), int(rounds), int(requests))))
        return 0
    merged = measure(args.processes, args.rounds, args.requests)
    print(f"{args.processes} processes x {args.rounds} rounds x {args.requests} pairs per "
          "endpoint; ratio = level 1 with PROMETHEUS = true / level 1 without")
    print(table(merged))
    return 0


if __name__ == "__main__":
    sys.exit(main())
