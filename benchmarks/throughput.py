"""Requests per second under a real server: gunicorn on 127.0.0.1 and wrk, contenders interleaved.

The contenders are measured in small groups: the app without profiler and two others, whose
gunicorns are started and warmed up together (lazy starts and the first ingestion into DuckDB
are one-time costs, not throughput) and stay up while each round runs wrk for a fixed time
against each of them in turn (rotating the order), once with the demo app's realistic mix
(``mix.lua``: JSON list and item lookups, a template page, a call-heavy endpoint) and once with
the cheapest endpoint alone (the worst case for any per-request cost). Short runs interleaved this
way see the same machine weather, and every ratio is to the no-profiler run of the same round and
group. Each timed run follows a second of untimed load and a group is small, so no server waits
long: on this machine kind the kernel (DAMON reclaim) pages out what an idle process has not
touched for a few seconds, and with nine servers up a server's first seconds after waiting ran
at half speed. p99 latency comes from wrk's ``--latency`` report. The servers are stopped with
SIGTERM at the end of their group. gunicorn runs with ``--reuse-port`` so the kernel spreads
wrk's keep-alive connections over the workers (without it one worker can end up with most of
them, and the figure halves at random).
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
from benchmarks.contenders import BARE, Contender
from benchmarks.latency import middle_half

MIX = Path(__file__).with_name("mix.lua")
#: name -> (path, wrk script or None)
WORKLOADS = {"mix": ("/", MIX), "/api/items": ("/api/items", None)}
#: Contenders per group besides the app without profiler.
GROUP_SIZE = 2
#: Pause after each timed run: longer than the writer's 1 s flush interval.
SETTLE_S = 1.2
#: Untimed load right before each timed run.
REWARM_S = 1.0


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
            warmup_s: float = 2.0) -> dict[str, ThroughputResult]:
    """One result per workload; the contenders are timed in groups with the bare app."""
    results = {name: ThroughputResult(rounds, seconds, workers, threads, connections)
               for name in WORKLOADS}
    if shutil.which("wrk") is None:
        for result in results.values():
            result.skipped = ("wrk is not installed (Debian: apt-get install wrk; make bench "
                              "does it)")
        return results
    others = [c for c in contenders if c != BARE]
    for i in range(0, len(others), GROUP_SIZE):
        _measure_group([BARE, *others[i:i + GROUP_SIZE]], results, root, work, rounds=rounds,
                       seconds=seconds, workers=workers, threads=threads,
                       connections=connections, warmup_s=warmup_s)
    return results


def _measure_group(group: list[Contender], results: dict[str, ThroughputResult], root: Path,
                   work: Path, *, rounds: int, seconds: float, workers: int, threads: int,
                   connections: int, warmup_s: float) -> None:
    with contextlib.ExitStack() as all_servers:
        servers: dict[str, tuple[str, contextlib.ExitStack]] = {}

        def fail(contender: Contender, why: str) -> None:
            for result in results.values():
                result.failures.setdefault(contender.name, why)
            if contender.name in servers:  # a stalled server must not take CPU from the rest
                servers.pop(contender.name)[1].close()

        for contender in group:
            own = all_servers.enter_context(contextlib.ExitStack())
            folder = gunicorn.folder_for(work, "throughput", contender)
            try:
                url = own.enter_context(gunicorn.serve(contender, root, work, folder,
                                                       workers=workers, threads=threads))
                servers[contender.name] = (url, own)
                for path, script in WORKLOADS.values():  # lazy starts, first ingestion, caches
                    run_wrk(url + path, warmup_s, connections, script)
            except (RuntimeError, ValueError, subprocess.TimeoutExpired) as exc:
                fail(contender, f"{exc}; the server's log: {gunicorn.log_summary(folder)}")
        for r in range(rounds):
            order = group[r % len(group):] + group[:r % len(group)]
            for name, (path, script) in WORKLOADS.items():
                figures: dict[str, Run] = {}
                for contender in order:
                    if contender.name not in servers:
                        continue
                    base = servers[contender.name][0]
                    try:
                        cpu0 = gunicorn.workers_cpu_s(base)
                        warm_rps, _ = run_wrk(base + path, REWARM_S, connections, script)
                        rps, p99 = run_wrk(base + path, seconds, connections, script)
                        # The writer flushes what it buffered within a second: before the next
                        # server is timed, and into this server's CPU figure.
                        time.sleep(SETTLE_S)
                        served = warm_rps * REWARM_S + rps * seconds
                        cpu_us = (gunicorn.workers_cpu_s(base) - cpu0) / served * 1e6
                        figures[contender.name] = Run(rps, p99, cpu_us)
                    except (ValueError, subprocess.TimeoutExpired, OSError) as exc:
                        folder = gunicorn.folder_for(work, "throughput", contender)
                        fail(contender, f"wrk failed on {name}: {exc}; the server's log: "
                                        f"{gunicorn.log_summary(folder)}")
                baseline = figures.get(BARE.name)
                if baseline is None:
                    continue  # without this round's baseline there is no ratio to take
                for contender_name, run in figures.items():
                    results[name].add(contender_name, run, baseline)
