"""Level 2 with and without its CPU budget under gunicorn: throughput, and the sampler's share.

``python -m benchmarks.budget_cost [--rounds N]`` runs the throughput measurement
(:mod:`benchmarks.throughput`: gunicorn on 127.0.0.1, wrk, ABBA blocks against a bare server)
for level 1, level 2 (PROFILER_BUDGET_PCT at its default), level 2 without a budget and (threaded
only) level 2 with Python's switch interval left alone and with the app's own 2 ms interval (its
price; its accuracy is in the accuracy section), with 4 threads per worker and with sync
workers, and meanwhile has every worker log what its sampler's
passes cost (:mod:`benchmarks.sampler_log`). Per server it then reports the sampler's share of
the worker's CPU in each busy second (the worker used at least 30 % of a CPU in it) and the
interval the sampler ran at. Prints a Markdown section and writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any

from benchmarks import contenders as C
from benchmarks import throughput
from benchmarks.contenders import folder_for

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / ".work"
#: A second in which a worker used less of a CPU than this is not a second under load.
BUSY = 0.3
SAMPLED = (C.OURS_L2, C.OURS_L2_NO_BUDGET)


def shares(folder: Path) -> dict[str, Any]:
    """The sampler's share of its worker's CPU in each busy second, over every worker."""
    per_second: list[float] = []
    intervals: list[float] = []
    cost = cpu = 0.0
    for path in sorted(folder.glob("sampler-*.jsonl")):
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        for a, b in itertools.pairwise(lines):
            used, elapsed = b["cpu"] - a["cpu"], b["t"] - a["t"]
            if elapsed <= 0 or used < BUSY * elapsed:
                continue
            per_second.append((b["cost"] - a["cost"]) / used)
            intervals.append(b["interval"])
            cost += b["cost"] - a["cost"]
            cpu += used
    if not per_second:
        return {"busy_seconds": 0}
    ordered = sorted(per_second)
    return {"busy_seconds": len(per_second),
            "share_pct": 100 * cost / cpu,
            "median_pct": 100 * statistics.median(per_second),
            "p90_pct": 100 * ordered[int(0.9 * (len(ordered) - 1))],
            "max_pct": 100 * ordered[-1],
            "over_1pct": sum(1 for s in per_second if s > 0.01) / len(per_second),
            "interval_ms": 1000 * statistics.median(intervals)}


def run(rounds: int, seconds: float) -> dict[str, Any]:
    os.environ["BENCH_SAMPLER_LOG"] = "1"
    out: dict[str, Any] = {"load": os.getloadavg()}
    # The switch interval left alone (with the budget): how much of what is left it costs.
    for threads, chosen in ((4, [C.BARE, C.OURS_L1, *SAMPLED, C.OURS_L2_SWI0,
                                 C.OURS_L2_APP_SWI2]),
                            (1, [C.BARE, *SAMPLED])):
        results = throughput.measure(chosen, ROOT, WORK, rounds=rounds, seconds=seconds,
                                     threads=threads, control=threads == 4)
        part: dict[str, Any] = {}
        for workload, result in results.items():
            part[workload] = {c.name: {"ratio": result.ratio(c.name),
                                       "quartiles": result.ratio_quartiles(c.name),
                                       "rps": result.median_rps(c.name),
                                       "cpu_us": result.median_cpu_us(c.name),
                                       "added_cpu_us": result.added_cpu_us(c.name),
                                       "failure": result.failures.get(c.name)}
                              for c in [C.BARE_TWIN, *chosen] if c.name in result.rps
                              or c.name in result.failures}
        # Each contender's server folder is reused by the next measure(): read it now.
        part["sampler"] = {c.name: shares(folder_for(WORK, "throughput", c)) for c in chosen
                           if c.level >= 2}
        out[f"threads={threads}"] = part
    out["load_after"] = os.getloadavg()
    return out


def markdown(figures: dict[str, Any]) -> str:
    lines = [f"Load average (1/5/15 min) before: {' / '.join(f'{x:.2f}' for x in figures['load'])}"
             f"; after: {' / '.join(f'{x:.2f}' for x in figures['load_after'])}.", ""]
    for key in ("threads=4", "threads=1"):
        part = figures[key]
        lines += [f"**gunicorn -w 2 --threads {key.split('=')[1]}**", "",
                  "| contender | mix: req/s ratio (middle half) | mix: added worker CPU/request "
                  "| /api/items: req/s ratio (middle half) | /api/items: added worker "
                  "CPU/request |", "| --- | --- | --- | --- | --- |"]
        names = list(part["mix"])
        for name in names:
            cells = []
            for workload in ("mix", "/api/items"):
                f = part[workload].get(name, {})
                if f.get("failure"):
                    cells += [f"failed: {f['failure'][:80]}", ""]
                    continue
                q = f.get("quartiles")
                spread = f"; {q[0]:.3f}–{q[1]:.3f}" if q else ""
                cells += [f"{f['ratio']:.3f}×{spread}",
                          f"{f['added_cpu_us']:+.0f} µs of {f['cpu_us']:.0f}"]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines += ["", "| sampler of | busy seconds | share of worker CPU (all busy seconds) "
                  "| median second | 90th percentile | worst second | seconds over 1 % "
                  "| median interval |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for name, s in part["sampler"].items():
            if not s.get("busy_seconds"):
                lines.append(f"| {name} | 0 | | | | | | |")
                continue
            lines.append(f"| {name} | {s['busy_seconds']} | {s['share_pct']:.2f} % "
                         f"| {s['median_pct']:.2f} % | {s['p90_pct']:.2f} % "
                         f"| {s['max_pct']:.2f} % | {100 * s['over_1pct']:.0f} % "
                         f"| {s['interval_ms']:.1f} ms |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.budget_cost")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--json", default=str(WORK / "budget_cost.json"))
    args = parser.parse_args(argv)
    figures = run(args.rounds, args.seconds)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(figures, indent=1))
    print(markdown(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
