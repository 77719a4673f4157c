"""Added latency measured in pairs: the profiled app and a bare twin in one process, alternating.

The latency section puts every contender in its own fresh process and interleaves short blocks.
On this machine kind that cannot resolve differences of about 1 %: the host's speed drifts
between blocks, and processes differ from each other by 1-3 % (memory layout). Here one
process builds the demo app twice, once without profiler and once as the contender, and serves
their requests one by one in ABBA order (profiled, bare, bare, profiled, ...): drift and the
process's layout then touch both alike, and each round's ratio of medians (or of trimmed means)
is the profiler's own cost. Several fresh processes, several rounds each.

What keeps the twin's figures clean: its requests run with SIGPROF blocked in the main thread,
so level 2's timer signal only lands in the profiled app's requests (one that comes due during
the twin's request is handled in the untimed gap after it); the profiled app's buffered rows are
written between rounds, untimed, as in the latency section. Contenders whose work spills into
the twin's requests are left out: the sampler thread keeps ticking for a second after the last
monitored request (it would take the GIL in the twin's requests) and exact mode's yappi profiles
every thread. What can still spill is small and falls on the twin, so it makes the profiler
look cheaper only by that: garbage collections its allocations trigger.

``python -m benchmarks.paired FOLDER CONTENDER ROUNDS N`` is one process (prints one JSON
line); :func:`measure` runs several, one after another.
"""

from __future__ import annotations

import json
import signal
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.contenders import (
    BARE,
    BY_NAME,
    OURS_L1,
    OURS_L2,
    OURS_L2_40MS,
    OURS_L3,
    Contender,
    build_app,
    folder_for,
    run_unless_failed,
)
from benchmarks.latency import ENDPOINTS, middle_half, trimmed_mean

#: The contenders whose work stays inside their own requests (see the module docstring).
PAIRED = (OURS_L1, OURS_L2, OURS_L2_40MS, OURS_L3)
STATS = ("median", "mean")


@dataclass
class PairedResult:
    processes: int
    rounds: int  # per process
    requests: int  # pairs per round and endpoint
    #: contender -> endpoint -> stat -> one (profiled, bare) pair of figures per round, in µs
    pairs: dict[str, dict[str, dict[str, list[tuple[float, float]]]]] = field(
        default_factory=dict)
    samples: dict[str, int] = field(default_factory=dict)  # level 2-3: samples taken
    failures: dict[str, str] = field(default_factory=dict)

    def ratios(self, name: str, path: str, stat: str) -> list[float]:
        return [p / b for p, b in self.pairs.get(name, {}).get(path, {}).get(stat, [])]

    def ratio(self, name: str, path: str, stat: str) -> float | None:
        ratios = self.ratios(name, path, stat)
        return statistics.median(ratios) if ratios else None

    def ratio_quartiles(self, name: str, path: str, stat: str) -> tuple[float, float] | None:
        return middle_half(self.ratios(name, path, stat))

    def added_us(self, name: str, path: str, stat: str) -> float | None:
        pairs = self.pairs.get(name, {}).get(path, {}).get(stat, [])
        return statistics.median(p - b for p, b in pairs) if pairs else None

    def baseline_us(self, path: str, stat: str) -> float | None:
        bare = [b for endpoints in self.pairs.values()
                for b in (p[1] for p in endpoints.get(path, {}).get(stat, []))]
        return statistics.median(bare) if bare else None


def measure(contenders: list[Contender], root: Path, work: Path, *, processes: int,
            rounds: int, requests: int) -> PairedResult:
    """Pairs for each contender of :data:`PAIRED` in ``contenders``, ``processes`` processes each
    (taken in turn across contenders, so that a slow spell of the host is spread over them)."""
    result = PairedResult(processes, rounds, requests)
    chosen = [c for c in PAIRED if c in contenders]
    for i in range(processes):
        for contender in chosen:
            run = run_unless_failed(result.failures, root, "benchmarks.paired", contender,
                                    folder_for(work, "paired", contender, f"-{i}"),
                                    str(rounds), str(requests))
            if run is None:
                continue
            mine = result.pairs.setdefault(contender.name, {})
            for path, stats in run["pairs"].items():
                for stat, pairs in stats.items():
                    mine.setdefault(path, {}).setdefault(stat, []).extend(
                        (p, b) for p, b in pairs)
            result.samples[contender.name] = result.samples.get(contender.name, 0) + run["samples"]
    return result


def _one(folder: Path, contender: Contender, rounds: int, requests: int) -> dict[str, Any]:
    from benchmarks.worker import _call, environ_for, settle
    from fmd_profiler.profiling.observer import engine_of

    bare = build_app(BARE, folder / "bare")
    profiled = build_app(contender, folder / "profiled")
    perf = time.perf_counter
    block, unblock = signal.SIG_BLOCK, signal.SIG_UNBLOCK
    sigprof = {signal.SIGPROF}
    mask = signal.pthread_sigmask
    pairs: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for path in ENDPOINTS:
        environ = environ_for(path)
        for _ in range(300):  # warm-up: lazy starts, caches
            _call(profiled, environ)
            _call(bare, environ)
        settle(profiled, ingest=True)
        for _ in range(rounds):
            mine: list[float] = []
            twin: list[float] = []
            for i in range(requests):
                for profiled_turn in ((False, True) if i % 2 else (True, False)):
                    if profiled_turn:
                        t0 = perf()
                        _call(profiled, environ)
                        mine.append(perf() - t0)
                    else:
                        mask(block, sigprof)
                        t0 = perf()
                        _call(bare, environ)
                        elapsed = perf() - t0
                        mask(unblock, sigprof)
                        twin.append(elapsed)
            settle(profiled)
            stats = pairs.setdefault(path, {})
            stats.setdefault("median", []).append(
                (statistics.median(mine) * 1e6, statistics.median(twin) * 1e6))
            stats.setdefault("mean", []).append(
                (trimmed_mean(mine) * 1e6, trimmed_mean(twin) * 1e6))
    engine = engine_of(profiled.extensions["fmd_profiler"].runtime)
    return {"pairs": pairs, "samples": engine.sampler.samples if engine is not None else 0}


if __name__ == "__main__":
    print(json.dumps(_one(Path(sys.argv[1]), BY_NAME[sys.argv[2]], int(sys.argv[3]),
                          int(sys.argv[4]))))
