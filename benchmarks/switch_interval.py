"""What a lowered switch interval costs a threaded worker, with no profiler at all.

Level 2's sampler thread lowers Python's switch interval (``SAMPLER_SWITCH_INTERVAL_MS``) while at
most one monitored request runs, so that it gets the GIL soon enough to see short CPU-bound
requests where they run. Every thread waiting for the GIL then wakes once per (shorter)
interval. This measures that price alone: four threads call the bare demo app's ``/api/items``
through WSGI in one process, in phases that alternate Python's default interval (5 ms) and the
lowered one (ABAB, then BABA), and each phase's process CPU time per request is read.

``python -m benchmarks.switch_interval [--intervals-ms 0.2 1] [--rounds 10]`` prints one line per
interval: the median CPU per request against the default's, and every phase's figure.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from typing import Any

DEFAULT_S = 0.005
THREADS = 4
REQUESTS = 600  # per thread and phase


def _caller() -> Any:
    from werkzeug.test import EnvironBuilder

    from fmd_profiler.demo.app import create_app

    app = create_app(profile=False)
    environ = EnvironBuilder(path="/api/items", base_url="http://127.0.0.1/").get_environ()

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        return lambda data: None

    def call() -> None:
        body = app(dict(environ), start_response)
        for _ in body:
            pass
        getattr(body, "close", lambda: None)()

    return call


def cpu_per_request(call: Any, requests: int) -> float:
    """Process CPU µs per request while :data:`THREADS` threads make ``requests`` calls each."""
    def worker() -> None:
        for _ in range(requests):
            call()

    started = time.process_time()
    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return 1e6 * (time.process_time() - started) / (THREADS * requests)


def measure(interval_s: float, rounds: int) -> dict[str, list[float]]:
    call = _caller()
    for _ in range(300):  # imports, caches, the sqlite connection
        call()
    phases: dict[str, list[float]] = {"default": [], "lowered": []}
    saved = sys.getswitchinterval()
    try:
        for r in range(rounds):
            order = (("default", DEFAULT_S), ("lowered", interval_s))
            for name, seconds in (order if r % 2 == 0 else order[::-1]):
                sys.setswitchinterval(seconds)
                phases[name].append(cpu_per_request(call, REQUESTS))
    finally:
        sys.setswitchinterval(saved)
    return phases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.switch_interval",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--intervals-ms", type=float, nargs="+", default=[0.2, 1.0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args(argv)
    for ms in args.intervals_ms:
        phases = measure(ms / 1000, args.rounds)
        default, lowered = (statistics.median(phases[k]) for k in ("default", "lowered"))
        print(f"{ms:g} ms: {lowered:.0f} µs of CPU a request against {default:.0f} µs at 5 ms "
              f"({lowered / default:.2f}×); phases: default "
              f"{[round(x) for x in phases['default']]}, lowered "
              f"{[round(x) for x in phases['lowered']]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
