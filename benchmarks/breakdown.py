"""Where level 1's cost goes: level 1 with one part switched off at a time, in one process.

One process builds the demo app several times: without profiler, with the minimal recorder (the
floor, see :mod:`benchmarks.contenders`), at level 1, and at level 1 with one part taken out
through a seam the library has: no ``get_group_by`` (the profiler's attribute set to None), a
thread-CPU clock that is the monotonic one (an injected
:class:`~fmd_profiler.recording.clock.Clock`; the
real one is a system call), or no Flask hook (``process_response`` unwrapped, so every row stays
in the unmatched bucket). One request thread calls the apps in chunks, their order shuffled every
round; a chunk's figure is the process's CPU per request minus the same round's bare chunk. The
writer's flush is left out (it runs after each chunk, untimed): a chunk's 300 rows would carry
the fixed cost of a segment file that a worker's once-a-second flush spreads over thousands; the
storage section measures it per row. Switching every 30 ms, the apps see the same host,
which is what makes a part of a microsecond visible. Only on ``/api/items``: the demo's 0.1 ms
endpoint is where level 1's cost weighs most, and in the mix the heavier requests' CPU time
varies from chunk to chunk by more than the parts measured here.

``python -m benchmarks.breakdown FOLDER ROUNDS`` is one process (one JSON line);
:func:`measure` runs several.
"""

from __future__ import annotations

import gc
import json
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.contenders import BARE, MINIMAL, OURS_L1, ChildFailed, build_app, run_child
from benchmarks.latency import middle_half
from fmd_profiler.recording.clock import SystemClock

LEVEL_1 = "level 1"
NO_GROUP_BY = "level 1 without get_group_by"
NO_CPU_CLOCK = "level 1 without the thread-CPU clock"
NO_HOOK = "level 1 without the Flask hook"
#: In the order the report lists them.
VARIANTS = (MINIMAL.name, LEVEL_1, NO_GROUP_BY, NO_CPU_CLOCK, NO_HOOK)
PATH = "/api/items"
#: Requests per chunk: about 30 ms of work.
CHUNK = 300


@dataclass
class BreakdownResult:
    processes: int
    rounds: int  # per process
    #: variant -> CPU µs per request added over the bare app, one per round
    added: dict[str, list[float]] = field(default_factory=dict)
    #: the bare app's CPU µs per request, one per round
    bare: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def added_us(self, variant: str) -> float | None:
        values = self.added.get(variant)
        return statistics.median(values) if values else None

    def added_quartiles(self, variant: str) -> tuple[float, float] | None:
        return middle_half(self.added.get(variant, []))

    def bare_us(self) -> float | None:
        return statistics.median(self.bare) if self.bare else None

    def part_us(self, without: str) -> float | None:
        """What the part ``without`` leaves out costs: level 1 minus that variant."""
        whole, rest = self.added_us(LEVEL_1), self.added_us(without)
        return None if whole is None or rest is None else whole - rest


def measure(root: Path, work: Path, *, processes: int, rounds: int) -> BreakdownResult:
    result = BreakdownResult(processes, rounds)
    for i in range(processes):
        try:
            run = run_child(root, "benchmarks.breakdown", str(work / f"breakdown-{i}"),
                            str(rounds))
        except ChildFailed as exc:
            result.failures.append(str(exc))
            continue
        result.bare.extend(run["bare"])
        for variant, values in run["added"].items():
            result.added.setdefault(variant, []).extend(values)
    return result


class _MonotonicAsThreadCPU(SystemClock):
    """The system's clocks, but the thread CPU reading is the monotonic clock (a vDSO read, no
    system call)."""

    thread_cpu = staticmethod(time.perf_counter)


def _apps(folder: Path) -> dict[str, Any]:
    no_group_by = build_app(OURS_L1, folder / "no-group-by")
    no_group_by.extensions["fmd_profiler"].profiler.get_group_by = None
    no_hook = build_app(OURS_L1, folder / "no-hook")
    no_hook.process_response = no_hook.process_response.__wrapped__
    return {"bare": build_app(BARE, folder / "bare"),
            MINIMAL.name: build_app(MINIMAL, folder / "minimal"),
            LEVEL_1: build_app(OURS_L1, folder / "level-1"),
            NO_GROUP_BY: no_group_by,
            NO_CPU_CLOCK: build_app(OURS_L1, folder / "no-cpu-clock",
                                    clock=_MonotonicAsThreadCPU()),
            NO_HOOK: no_hook}


def one_process(folder: Path, rounds: int) -> dict[str, Any]:
    """``bare``: its CPU µs per request each round; ``added``: each variant's µs over it."""
    from benchmarks.worker import _call, environ_for, settle

    apps = _apps(folder)
    environ = environ_for(PATH)
    for app in apps.values():  # warm-up: lazy starts, caches; then the first ingestion
        for _ in range(20 * CHUNK):
            _call(app, environ)
        settle(app, ingest=True)
    order = list(apps)
    shuffle = random.Random(0).shuffle  # the same orders every run
    cpu = time.process_time
    per_request: dict[str, list[float]] = {name: [] for name in apps}
    for _ in range(rounds):
        shuffle(order)
        for name in order:
            app = apps[name]
            # Every chunk starts from an empty young generation, so a collection the previous
            # app's garbage was due for does not land in this one (in a trial on the mix it
            # narrowed the middle half of the rounds from about +-8 to +-6 us).
            gc.collect(0)
            c0 = cpu()
            for _ in range(CHUNK):
                _call(app, environ)
            per_request[name].append((cpu() - c0) / CHUNK * 1e6)
            settle(app)  # untimed: the writer stays quiet during the next chunks
    bare = per_request.pop("bare")
    return {"bare": bare,
            "added": {name: [c - b for c, b in zip(values, bare, strict=True)]
                      for name, values in per_request.items()}}


if __name__ == "__main__":
    print(json.dumps(one_process(Path(sys.argv[1]), int(sys.argv[2]))))
