"""A clock for the demo: real durations, simulated dates, so one run shows a week of history.

The profiler reads the time of day only through its clock's ``wall()``; the demo moves that
clock to a simulated hour before each burst of (real) traffic. Durations and CPU times come from
the real clocks, so every figure in the demo report is measured; only the dates are simulated.
"""

from __future__ import annotations

import threading
import time


class SimulatedClock:
    """``wall()`` runs from a settable simulated instant; ``perf``/``thread_cpu`` are real."""

    perf = staticmethod(time.perf_counter)
    thread_cpu = staticmethod(time.thread_time)

    def __init__(self, start: float | None = None) -> None:
        self._lock = threading.Lock()
        self._base = time.time() if start is None else start
        self._anchor = time.perf_counter()

    def move_to(self, when: float) -> None:
        """From now on, ``wall()`` reads ``when`` plus the real time elapsed since this call."""
        with self._lock:
            self._base = when
            self._anchor = time.perf_counter()

    def wall(self) -> float:
        with self._lock:
            return self._base + (time.perf_counter() - self._anchor)
