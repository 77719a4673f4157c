"""Where every time reading comes from, so tests can replace it.

The request hooks, the sampler and the writer read time only through a :class:`Clock`; production
uses :data:`SYSTEM_CLOCK`, tests pass a fake one and assert exact figures.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Three clocks: wall time for timestamps, a monotonic one for durations, thread CPU time."""

    def wall(self) -> float:
        """Seconds since the epoch (UTC)."""

    def perf(self) -> float:
        """Monotonic seconds, for measuring durations."""

    def thread_cpu(self) -> float:
        """CPU seconds used by the calling thread."""


class SystemClock:
    """The real clocks. Methods are the C functions themselves, so a call costs nothing extra."""

    wall = staticmethod(time.time)
    perf = staticmethod(time.perf_counter)
    thread_cpu = staticmethod(time.thread_time)


SYSTEM_CLOCK: Clock = SystemClock()
