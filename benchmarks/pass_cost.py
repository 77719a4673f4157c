"""What one sampling pass costs the request it lands in (level 2, in-process).

A level-2 process serves one endpoint again and again; each request is put in one of two groups
by whether the sampler took a sample while it ran (its pass counter moved). The difference of
the two groups' medians is what a pass costs the request it lands in: for the sampler thread the
GIL handed over and back and the pass itself; for the timer signal (the requests run in the main
thread) the interruption and the handler. With the share of requests a pass lands in, it tells
how much of level 2's added latency is sampling and how much is the request hooks.

``python -m benchmarks.pass_cost FOLDER PATH N CONTENDER`` is one process (prints one JSON
line); :func:`measure` runs a few of them, one after another.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.contenders import (
    BY_NAME,
    OURS_L2,
    OURS_L2_THREAD,
    ChildFailed,
    Contender,
    build_app,
    run_child,
)

ENDPOINTS = ("/page", "/compute")
#: Requests between two untimed flushes, so that the writer's work stays out of the timings.
BLOCK = 170


#: Who samples: the timer signal (level 2's default for the main thread), the sampler thread.
SAMPLERS = {"timer signal": OURS_L2, "sampler thread": OURS_L2_THREAD}


def measure(root: Path, work: Path, *, processes: int = 3, requests: int = 2000,
            endpoints: tuple[str, ...] = ENDPOINTS) -> dict[str, Any]:
    """Per sampler and endpoint: medians over ``processes`` fresh processes of their figures."""
    out: dict[str, Any] = {"processes": processes, "requests": requests, "contenders": {}}
    for label, contender in SAMPLERS.items():
        rows = out["contenders"][label] = {}
        for path in endpoints:
            runs = []
            for i in range(processes):
                folder = work / "pass_cost" / f"{contender.signal}-{path.strip('/')}-{i}"
                try:
                    runs.append(run_child(root, "benchmarks.pass_cost", str(folder), path,
                                          str(requests), contender.name, timeout=600))
                except ChildFailed as exc:
                    rows[path] = {"failure": str(exc)}
                    break
            else:
                rows[path] = {
                    key: statistics.median(run[key] for run in runs)
                    for key in ("with_pass_us", "without_pass_us", "pass_cost_us", "share")}
    return out


def _one(folder: Path, path: str, requests: int, contender: Contender) -> dict[str, float]:
    from benchmarks.worker import _call, environ_for, settle
    from fmd_profiler.profiling.observer import engine_of

    app = build_app(contender, folder)
    environ = environ_for(path)
    for _ in range(300):
        _call(app, environ)
    settle(app, ingest=True)
    engine = engine_of(app.extensions["fmd_profiler"].runtime)
    assert engine is not None
    sampler = engine.sampler
    perf = time.perf_counter
    with_pass: list[float] = []
    without: list[float] = []
    for done in range(1, requests + 1):
        before = sampler.ticks
        t0 = perf()
        _call(app, environ)
        elapsed = perf() - t0
        (with_pass if sampler.ticks != before else without).append(elapsed * 1e6)
        if done % BLOCK == 0:
            settle(app)
    if not with_pass or not without:
        raise SystemExit(f"no comparison: {len(with_pass)} requests with a pass, "
                         f"{len(without)} without")
    with_us, without_us = statistics.median(with_pass), statistics.median(without)
    return {"with_pass_us": with_us, "without_pass_us": without_us,
            "pass_cost_us": with_us - without_us, "share": len(with_pass) / requests}


if __name__ == "__main__":
    print(json.dumps(_one(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]),
                          BY_NAME[sys.argv[4]])))
