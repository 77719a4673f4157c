"""Requests per second under a real server: gunicorn on 127.0.0.1 and wrk, in ABBA blocks.

Each contender is measured against a server of the app without profiler started beside it: both
are warmed up together (lazy starts and the first ingestion into DuckDB are one-time costs, not
throughput), then each round runs, per workload, one block of four short wrk runs in ABBA order
(bare, contender, contender, bare; the next round BAAB). The host's speed changes from second to
second on this machine kind; runs a second apart see nearly the same weather, and the ABBA order
cancels a steady drift within a block. A block's ratio is the contender's requests over the bare
server's; the figure is the median over rounds. A second server of the app without profiler is
measured the same way (the control row): how far two identical servers read apart is the
measurement's own noise. Workloads: the demo app's realistic mix (``mix.lua``: JSON list and
item lookups, a template page, a call-heavy endpoint) and the cheapest endpoint alone (the worst
case for any per-request cost). Only two servers are up at a time and neither waits more than a
few seconds: on this machine kind the kernel (DAMON reclaim) pages out what an idle process has
not touched for a few seconds, and with nine servers up a server's first seconds after waiting
ran at half speed. p99 latency comes from wrk's ``--latency`` report. gunicorn runs with
``--reuse-port`` so the kernel spreads wrk's keep-alive connections over the workers (without it
one worker can end up with most of them, and the figure halves at random).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import gunicorn
from benchmarks.contenders import BARE, BARE_TWIN, Contender, folder_for
from benchmarks.latency import middle_half

MIX = Path(__file__).with_name("mix.lua")
#: name -> (path, wrk script or None)
WORKLOADS = {"mix": ("/", MIX), "/api/items": ("/api/items", None)}
#: Pause after each block: longer than the writer's 1 s flush interval, so what a block's
#: requests buffered is written within the block's CPU figure.
SETTLE_S = 1.2


@dataclass(frozen=True)
class Run:
    """One timed wrk run against one server."""

    rps: float
    p99_ms: float
    cpu_us: float  # the server's worker CPU per request, its writer's flush included


@dataclass
class ThroughputResult:
    rounds: int
    seconds: float
    workers: int
    threads: int
    connections: int
    rps: dict[str, list[float]] = field(default_factory=dict)
    #: for each contender, the no-profiler figure of the same round and group, run by run
    baseline_rps: dict[str, list[float]] = field(default_factory=dict)
    p99_ms: dict[str, list[float]] = field(default_factory=dict)
    #: worker CPU per request (µs), and the no-profiler figure of the same round and group
    cpu_us: dict[str, list[float]] = field(default_factory=dict)
    baseline_cpu_us: dict[str, list[float]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    skipped: str | None = None

    def add(self, name: str, run: Run, baseline: Run) -> None:
        self.rps.setdefault(name, []).append(run.rps)
        self.p99_ms.setdefault(name, []).append(run.p99_ms)
        self.baseline_rps.setdefault(name, []).append(baseline.rps)
        self.cpu_us.setdefault(name, []).append(run.cpu_us)
        self.baseline_cpu_us.setdefault(name, []).append(baseline.cpu_us)

    def median_cpu_us(self, name: str) -> float | None:
        values = self.cpu_us.get(name, [])
        return statistics.median(values) if values else None

    def added_cpu_us(self, name: str) -> float | None:
        pairs = list(zip(self.cpu_us.get(name, []), self.baseline_cpu_us.get(name, []),
                         strict=False))
        return statistics.median(a - b for a, b in pairs) if pairs else None

    def ratios(self, name: str) -> list[float]:
        """Requests/s over the same round's no-profiler figure, round by round."""
        return [a / b for a, b in zip(self.rps.get(name, []), self.baseline_rps.get(name, []),
                                      strict=False)]

    def ratio(self, name: str) -> float | None:
        ratios = self.ratios(name)
        return statistics.median(ratios) if ratios else None

    def ratio_quartiles(self, name: str) -> tuple[float, float] | None:
        return middle_half(self.ratios(name))

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
    if done.returncode != 0 or not done.stdout.strip():
        raise ValueError(f"wrk exited with {done.returncode}: "
                         f"{(done.stderr or done.stdout).strip()[-300:] or 'no output'}")
    return parse_wrk(done.stdout)


def measure(contenders: list[Contender], root: Path, work: Path, *, rounds: int,
            seconds: float, workers: int = 2, threads: int = 4, connections: int = 64,
            warmup_s: float = 2.0, control: bool = True) -> dict[str, ThroughputResult]:
    """One result per workload; each contender against a bare server started beside it."""
    results = {name: ThroughputResult(rounds, seconds, workers, threads, connections)
               for name in WORKLOADS}
    if shutil.which("wrk") is None:
        for result in results.values():
            result.skipped = ("wrk is not installed (Debian: apt-get install wrk; make bench "
                              "does it)")
        return results
    others = [c for c in contenders if c != BARE]
    for contender in ([BARE_TWIN] if control else []) + others:
        _measure_pair(contender, results, root, work, rounds=rounds, seconds=seconds,
                      workers=workers, threads=threads, connections=connections,
                      warmup_s=warmup_s)
    return results


def _measure_pair(contender: Contender, results: dict[str, ThroughputResult], root: Path,
                  work: Path, *, rounds: int, seconds: float, workers: int, threads: int,
                  connections: int, warmup_s: float) -> None:
    def fail(why: str) -> None:
        for result in results.values():
            result.failures.setdefault(contender.name, why)

    with contextlib.ExitStack() as servers:
        urls: dict[str, str] = {}
        for each in (BARE, contender):
            folder = folder_for(work, "throughput", each)
            try:
                url = servers.enter_context(gunicorn.serve(each, root, work, folder,
                                                           workers=workers, threads=threads))
                for path, script in WORKLOADS.values():  # lazy starts, first ingestion, caches
                    run_wrk(url + path, warmup_s, connections, script)
            except (RuntimeError, ValueError, subprocess.TimeoutExpired) as exc:
                return fail(f"{each.name}: {exc}; the server's log: "
                            f"{gunicorn.log_summary(folder)}")
            urls[each.name] = url
        for r in range(rounds):
            order = [BARE, contender, contender, BARE]
            if r % 2:
                order = [contender, BARE, BARE, contender]
            for name, (path, script) in WORKLOADS.items():
                try:
                    block = _block(order, urls, path, script, seconds, connections)
                except (ValueError, subprocess.TimeoutExpired, OSError) as exc:
                    folder = folder_for(work, "throughput", contender)
                    return fail(f"wrk failed on {name}: {exc}; the server's log: "
                                f"{gunicorn.log_summary(folder)}")
                results[name].add(BARE.name, block[BARE.name], block[BARE.name])
                results[name].add(contender.name, block[contender.name], block[BARE.name])


def _block(order: list[Contender], urls: dict[str, str], path: str, script: Path | None,
           seconds: float, connections: int) -> dict[str, Run]:
    """Run wrk against the servers in ``order``; per server its mean requests/s, median p99
    and worker CPU per request over the block."""
    cpu0 = {name: gunicorn.workers_cpu_s(url) for name, url in urls.items()}
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in urls}
    for contender in order:
        runs[contender.name].append(run_wrk(urls[contender.name] + path, seconds, connections,
                                            script))
    time.sleep(SETTLE_S)  # the writer flushes what it buffered: into this block's CPU figure
    block = {}
    for name, url in urls.items():
        served = sum(rps for rps, _ in runs[name]) * seconds
        if not served:
            raise ValueError(f"the server at {url} answered no request")
        block[name] = Run(statistics.mean(rps for rps, _ in runs[name]),
                          statistics.median(p99 for _, p99 in runs[name]),
                          (gunicorn.workers_cpu_s(url) - cpu0[name]) / served * 1e6)
    return block
