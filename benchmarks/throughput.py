"""Requests per second under a real server: gunicorn on 127.0.0.1 and wrk, contenders interleaved.

Each round starts every contender's gunicorn in turn (rotating the order), warms it up, runs wrk
for a fixed time and stops the server with SIGTERM, once with the demo app's realistic mix
(``mix.lua``: JSON list and item lookups, a template page, a call-heavy endpoint) and once with
the cheapest endpoint alone (the worst case for any per-request cost). Ratios are to the
no-profiler server of the same round; p99 latency comes from wrk's ``--latency`` report.
gunicorn runs with ``--reuse-port`` so the kernel spreads wrk's keep-alive connections over the
workers (without it one worker can end up with most of them, and the figure halves at random).
"""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import gunicorn
from benchmarks.contenders import BARE, Contender

MIX = Path(__file__).with_name("mix.lua")
#: name -> (path, wrk script or None)
WORKLOADS = {"mix": ("/", MIX), "/api/items": ("/api/items", None)}


@dataclass
class ThroughputResult:
    rounds: int
    seconds: float
    workers: int
    threads: int
    connections: int
    rps: dict[str, list[float]] = field(default_factory=dict)
    p99_ms: dict[str, list[float]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    skipped: str | None = None

    def ratio(self, name: str) -> float | None:
        pairs = list(zip(self.rps.get(name, []), self.rps.get(BARE.name, []), strict=False))
        return statistics.median(a / b for a, b in pairs) if pairs else None

    def median_rps(self, name: str) -> float | None:
        values = self.rps.get(name, [])
        return statistics.median(values) if values else None

    def median_p99(self, name: str) -> float | None:
        values = self.p99_ms.get(name, [])
        return statistics.median(values) if values else None


_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
_P99 = re.compile(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)


_ERRORS = re.compile(r"Non-2xx or 3xx responses: (\d+)")


def parse_wrk(text: str) -> tuple[float, float]:
    """(requests/s, p99 in ms) from wrk's output; error answers make the run invalid."""
    errors = _ERRORS.search(text)
    if errors:
        raise ValueError(f"{errors.group(1)} answers were errors")
    rps = _RPS.search(text)
    p99 = _P99.search(text)
    if rps is None or p99 is None:
        raise ValueError(f"unexpected wrk output: {text[-300:]}")
    value, unit = float(p99.group(1)), p99.group(2)
    return float(rps.group(1)), value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(url: str, seconds: float, connections: int,
            script: Path | None = None) -> tuple[float, float]:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:.0f}s", "--latency"]
    if script is not None:
        argv += ["-s", str(script)]
    done = subprocess.run([*argv, url], capture_output=True, text=True, timeout=seconds + 60)
    return parse_wrk(done.stdout)


def measure(contenders: list[Contender], root: Path, work: Path, *, rounds: int,
            seconds: float, workers: int = 2, threads: int = 4,
            connections: int = 64) -> dict[str, ThroughputResult]:
    """One result per workload; each round starts each contender's server once for all."""
    results = {name: ThroughputResult(rounds, seconds, workers, threads, connections)
               for name in WORKLOADS}
    if shutil.which("wrk") is None:
        for result in results.values():
            result.skipped = ("wrk is not installed (Debian: apt-get install wrk; make bench "
                              "does it)")
        return results
    failures: dict[str, str] = {}
    for r in range(rounds):
        order = contenders[r % len(contenders):] + contenders[:r % len(contenders)]
        for contender in order:
            if contender.name in failures:
                continue
            try:
                figures = _one_server(contender, root, work, seconds, workers, threads,
                                      connections)
            except RuntimeError as exc:
                failures[contender.name] = str(exc)
                for result in results.values():
                    result.failures[contender.name] = str(exc)
                continue
            for name, (rps, p99) in figures.items():
                results[name].rps.setdefault(contender.name, []).append(rps)
                results[name].p99_ms.setdefault(contender.name, []).append(p99)
    return results


def _one_server(contender: Contender, root: Path, work: Path, seconds: float, workers: int,
                threads: int, connections: int) -> dict[str, tuple[float, float]]:
    folder = gunicorn.folder_for(work, "throughput", contender)
    figures = {}
    with gunicorn.serve(contender, root, work, folder, workers=workers, threads=threads) as url:
        try:
            for i, (name, (path, script)) in enumerate(WORKLOADS.items()):
                if i == 0:  # warm-up: lazy starts, first ingestion, caches
                    run_wrk(url + path, 2, connections, script)
                figures[name] = run_wrk(url + path, seconds, connections, script)
        except (ValueError, subprocess.TimeoutExpired) as exc:
            raise RuntimeError(f"wrk failed: {exc}") from None
    return figures
