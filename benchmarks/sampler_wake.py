"""Where the sampler thread's own CPU goes under GIL contention: the pass, or waking up for it.

``python -m benchmarks.sampler_wake [--seconds S]``: N threads run CPU-bound Python while the
sampler thread samples them every 10 ms (its real ``tick``, as a level-2 worker's sampler does),
with Python's switch interval lowered to 0.2 ms (as the sampler does while at most one monitored
request runs) or left at 5 ms. The thread's CPU clock is read around each ``tick`` and over the
whole run: per pass, the pass itself and the rest (sleeping and waking up, waiting for the GIL).
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time

from fmd_profiler.profiling.sampler import Sampler, Slot
from fmd_profiler.profiling.stacks import StackTable


def _busy(stop: threading.Event) -> None:
    def work(n: int) -> int:
        return sum(i * i for i in range(n))

    while not stop.is_set():
        work(200)


def measure(threads: int, switch_ms: float | None, seconds: float) -> dict[str, float]:
    stop = threading.Event()
    workers = [threading.Thread(target=_busy, args=(stop,), daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()
    sampler = Sampler(StackTable([]), lambda *args: None, interval_s=0.01)
    for worker in workers:
        sampler.add(Slot("busy", "1", 2, worker.ident or 0, 0.0))
    saved = sys.getswitchinterval()
    if switch_ms is not None:
        sys.setswitchinterval(switch_ms / 1000)
    try:
        sampler.restart_clock()
        in_tick = 0.0
        passes = 0
        cpu0, process0, start = time.thread_time(), time.process_time(), time.perf_counter()
        while time.perf_counter() - start < seconds:
            time.sleep(0.01)
            before = time.thread_time()
            sampler.tick()
            in_tick += time.thread_time() - before
            passes += 1
        total = time.thread_time() - cpu0
        process = time.process_time() - process0
    finally:
        sys.setswitchinterval(saved)
        stop.set()
        for worker in workers:
            worker.join()
    return {"passes": passes, "total_us": 1e6 * total / passes, "tick_us": 1e6 * in_tick / passes,
            "share_pct": 100 * total / process}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sampler_wake")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    print("| busy threads | switch interval | passes | sampler CPU per pass | of which the pass "
          "| of which waking up | sampler's share of process CPU |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for _ in range(args.repeats):  # interleaved, so the host's load touches each alike
        for threads, switch_ms in ((1, 0.2), (1, None), (4, 0.2), (4, None)):
            f = measure(threads, switch_ms, args.seconds)
            label = f"{switch_ms} ms (lowered)" if switch_ms else "5 ms (Python's)"
            print(f"| {threads} | {label} | {f['passes']:.0f} | {f['total_us']:.0f} µs "
                  f"| {f['tick_us']:.0f} µs | {f['total_us'] - f['tick_us']:.0f} µs "
                  f"| {f['share_pct']:.2f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
