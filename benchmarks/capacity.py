"""A worker's capacity without the network: CPU per request, request threads switched in pairs.

The throughput section's figures carry a few % of noise (its control row shows how much): wrk,
the kernel's network stack and two servers share two cores. Here one process builds the demo app
twice, without profiler and as the contender, and request threads call them: four, as a threaded
gunicorn worker's pool would, with the Global Interpreter Lock contended as it is there, or one,
as a sync worker. The main thread switches the threads from one app to the other in ABBA phases
of half a second and reads the process's CPU time per request of each phase; a block's figure is
the bare phases' CPU per request over the contender's (the share of a worker's capacity that is
left). A second bare app in the contender's place is the control row; a minimal recorder (two
clocks read around each request and a tuple kept, nothing else) is the floor under level 1: what
recording each request's duration and thread CPU time costs in Python before any of the rest.

Only level 1 is measured: its work stays inside its requests (the writer's flush is forced at the
end of each of its phases, inside the phase). Level 2's sampler thread keeps ticking into the
bare app's phases, so its cost would land on the wrong side.

``python -m benchmarks.capacity FOLDER CONTENDER WORKLOAD THREADS BLOCKS`` is one process (one
JSON line); :func:`measure` runs several.
"""

from __future__ import annotations

import json
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.contenders import (
    BARE,
    BARE_TWIN,
    BY_NAME,
    MINIMAL,
    OURS_L1,
    Contender,
    build_app,
    folder_for,
    run_unless_failed,
)
from benchmarks.latency import middle_half

#: name -> the paths the request threads cycle through (the mix is mix.lua's rotation).
WORKLOADS = {
    "mix": ("/api/items", "/api/items/7", "/api/items", "/page", "/api/items/42", "/api/items",
            "/compute"),
    "/api/items": ("/api/items",),
}
CONTENDERS = (BARE_TWIN, MINIMAL, OURS_L1)
#: A threaded worker's pool (the throughput section's ``--threads 4``) and a sync worker.
THREADS = (4, 1)
PHASE_S = 0.5
#: Between phases: the requests still running in the other app finish before the next phase.
GAP_S = 0.05


@dataclass
class CapacityResult:
    processes: int
    blocks: int  # per process
    threads: int
    #: contender -> workload -> one (contender, bare) pair of CPU µs per request per block
    pairs: dict[str, dict[str, list[tuple[float, float]]]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    def ratios(self, name: str, workload: str) -> list[float]:
        """The bare app's CPU per request over the contender's: capacity left, block by block."""
        return [b / c for c, b in self.pairs.get(name, {}).get(workload, [])]

    def ratio(self, name: str, workload: str) -> float | None:
        ratios = self.ratios(name, workload)
        return statistics.median(ratios) if ratios else None

    def ratio_quartiles(self, name: str, workload: str) -> tuple[float, float] | None:
        return middle_half(self.ratios(name, workload))

    def added_us(self, name: str, workload: str) -> float | None:
        pairs = self.pairs.get(name, {}).get(workload, [])
        return statistics.median(c - b for c, b in pairs) if pairs else None

    def bare_us(self, name: str, workload: str) -> float | None:
        pairs = self.pairs.get(name, {}).get(workload, [])
        return statistics.median(b for _, b in pairs) if pairs else None


def measure(root: Path, work: Path, *, processes: int, blocks: int) -> list[CapacityResult]:
    """One result per entry of :data:`THREADS`."""
    return [_measure(root, work, processes=processes, blocks=blocks, threads=threads)
            for threads in THREADS]


def _measure(root: Path, work: Path, *, processes: int, blocks: int,
             threads: int) -> CapacityResult:
    """Pairs for each of :data:`CONTENDERS`, ``processes`` fresh processes each, in turn."""
    result = CapacityResult(processes, blocks, threads)
    for i in range(processes):
        for contender in CONTENDERS:
            for workload in WORKLOADS:
                run = run_unless_failed(result.failures, root, "benchmarks.capacity", contender,
                                        folder_for(work, "capacity", contender, f"-{i}"),
                                        workload, str(threads), str(blocks))
                if run is None:
                    continue
                result.pairs.setdefault(contender.name, {}).setdefault(workload, []).extend(
                    (c, b) for c, b in run["pairs"])
    return result


def one_process(folder: Path, contender: Contender, workload: str, threads: int,
                blocks: int) -> dict[str, Any]:
    """Run the phases in this process; ``pairs``: (contender, bare) CPU µs per request."""
    from benchmarks.worker import _call, environ_for, settle

    apps = {"bare": build_app(BARE, folder / "bare"),
            "contender": build_app(contender, folder / "contender")}
    environs = [environ_for(path) for path in WORKLOADS[workload]]
    for app in apps.values():  # warm-up: lazy starts, caches; then the first ingestion
        for i in range(100 * len(environs)):
            _call(app, environs[i % len(environs)])
    settle(apps["contender"], ingest=True)

    current = ["bare"]
    served = [0] * threads
    stop = threading.Event()

    def serve(slot: int) -> None:
        n = 0
        while not stop.is_set():
            _call(apps[current[0]], environs[n % len(environs)])
            n += 1
            served[slot] = n

    workers = [threading.Thread(target=serve, args=(k,), daemon=True) for k in range(threads)]
    for worker in workers:
        worker.start()
    cpu = time.process_time
    pairs = []
    try:
        for block in range(blocks):
            order = ("bare", "contender", "contender", "bare") if block % 2 == 0 \
                else ("contender", "bare", "bare", "contender")
            per_request: dict[str, list[float]] = {"bare": [], "contender": []}
            for which in order:
                current[0] = which
                time.sleep(GAP_S)
                n0, c0 = sum(served), cpu()
                time.sleep(PHASE_S)
                settle(apps[which])  # level 1's writer flushes its phase's rows inside it
                n1, c1 = sum(served), cpu()
                per_request[which].append((c1 - c0) / max(n1 - n0, 1) * 1e6)
            pairs.append((statistics.mean(per_request["contender"]),
                          statistics.mean(per_request["bare"])))
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=10)
    return {"pairs": pairs}


if __name__ == "__main__":
    print(json.dumps(one_process(Path(sys.argv[1]), BY_NAME[sys.argv[2]], sys.argv[3],
                                 int(sys.argv[4]), int(sys.argv[5]))))
