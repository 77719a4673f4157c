"""The sampler's CPU budget: how long its interval must be for its passes to cost at most
PROFILER_BUDGET_PCT of the process's CPU time.

The sampler reports what its passes cost (the CPU time of its thread, wake-ups included, and the
time its timer-signal handler runs); once per window :class:`CpuBudget` sets that against the
CPU time the whole process used meanwhile and stretches the interval when the share is above the
budget, or brings it back towards SAMPLING_INTERVAL_MS when it is below. A pass costs about the
same whatever the interval, so the share falls in proportion as the interval grows. Samples
keep the real time since the previous pass as their weight, so a stretched interval gives fewer
samples, not different shares.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

#: How often the share is measured and the interval decided (seconds of monotonic time).
WINDOW_S = 1.0
#: The interval never grows past this: a profile keeps at least a sample a second per request
#: in flight.
MAX_INTERVAL_S = 1.0
#: Aim below the budget, so that the share's noise from window to window stays under it.
HEADROOM = 0.8
#: At most this factor shorter per window: a burst of light traffic between two busy ones
#: does not send the interval back to the floor at once.
MAX_SHRINK = 2.0
#: A process that used less than this share of one CPU over a window was idle in it: the
#: window says nothing about what passes cost under load, and the interval stays as it is (a
#: pause between two bursts does not send it back to the floor). After IDLE_WINDOWS of them in
#: a row the process is lightly loaded, and its few requests are sampled at SAMPLING_INTERVAL_MS
#: (the passes cost it a few milliseconds a second, which take no capacity from anyone).
IDLE_CPU_SHARE = 0.05
IDLE_WINDOWS = 10
#: A process that used less than this share of one CPU over a window had CPU to spare: its
#: passes took capacity from no request, so the window may bring the interval back but never
#: stretches it. A lightly loaded app (mostly waiting on I/O, a few requests a second) keeps
#: SAMPLING_INTERVAL_MS, and a short request, an outlier among them, keeps its samples.
BUSY_CPU_SHARE = 0.5


class CpuBudget:
    """Decides the sampling interval from the measured cost of the passes.

    ``process_cpu`` is the process's CPU clock (``time.process_time``), ``perf`` the monotonic
    clock; both injected so tests decide what happened. ``budget_pct`` 0 means no budget: the
    interval stays ``base_s``. Callers add the cost of their passes with :meth:`add_thread_cost`
    (the sampler thread) and :meth:`add_signal_cost` (the signal handler, on the main thread):
    two counters, each with one writer, so neither update can be lost to the other.
    """

    def __init__(self, base_s: float, budget_pct: float, *, perf: Callable[[], float],
                 process_cpu: Callable[[], float], window_s: float | None = None,
                 max_interval_s: float | None = None) -> None:
        self.base_s = base_s
        self.budget = budget_pct / 100.0
        self.interval_s = base_s
        ceiling = MAX_INTERVAL_S if max_interval_s is None else max_interval_s
        self.max_interval_s = max(ceiling, base_s)
        self.window_s = WINDOW_S if window_s is None else window_s
        self._perf = perf
        self._process_cpu = process_cpu
        self._thread_cost = 0.0
        self._signal_cost = 0.0
        self._window_start: float | None = None
        self._window_cost = 0.0
        self._window_cpu = 0.0
        self._deciding = threading.Lock()
        #: The last window's measured share of the process's CPU (0-1), for counters.
        self.last_share = 0.0
        self.windows = 0
        self.stretched_windows = 0
        self._idle_windows = 0

    @property
    def enabled(self) -> bool:
        return self.budget > 0.0

    def add_thread_cost(self, seconds: float) -> None:
        self._thread_cost += seconds

    def add_signal_cost(self, seconds: float) -> None:
        self._signal_cost += seconds

    @property
    def cost(self) -> float:
        """CPU seconds the passes have cost so far."""
        return self._thread_cost + self._signal_cost

    def update(self) -> float:
        """The interval to use from now; decides anew once a window has passed.

        Safe to call from the sampler thread and from the signal handler: a caller that finds
        the other one deciding returns the current interval (never waits: the handler may have
        interrupted the very thread that holds the lock).
        """
        if not self.enabled:
            return self.interval_s
        now = self._perf()
        start = self._window_start
        if start is not None and now - start < self.window_s:
            return self.interval_s
        if not self._deciding.acquire(blocking=False):
            return self.interval_s
        try:
            self._decide(now)
        finally:
            self._deciding.release()
        return self.interval_s

    def restart(self) -> None:
        """Forget the window in progress (the sampler slept: its cost and the process's CPU
        meanwhile say nothing about sampling)."""
        self._window_start = None

    def _decide(self, now: float) -> None:
        cost, cpu = self.cost, self._process_cpu()
        start, cost0, cpu0 = self._window_start, self._window_cost, self._window_cpu
        self._window_start, self._window_cost, self._window_cpu = now, cost, cpu
        if start is None:
            return
        self.interval_s = self.decide(cost - cost0, cpu - cpu0, now - start)

    def decide(self, spent: float, used: float, elapsed: float) -> float:
        """The next interval, given one window: the passes cost ``spent`` CPU seconds, the
        process used ``used`` (theirs included) over ``elapsed`` seconds."""
        self.windows += 1
        interval = self.interval_s
        if used <= 0.0 or elapsed <= 0.0:
            return interval
        share = spent / used
        self.last_share = share
        if used < IDLE_CPU_SHARE * elapsed:
            self._idle_windows += 1
            if self._idle_windows < IDLE_WINDOWS:
                return interval
            wanted = self.base_s
        else:
            self._idle_windows = 0
            # The cost of passes is proportional to their rate, so the interval that meets the
            # budget is the current one scaled by how far over (or under) it the share is.
            wanted = interval * share / (self.budget * HEADROOM)
            if used < BUSY_CPU_SHARE * elapsed:
                wanted = min(wanted, interval)
        wanted = max(wanted, interval / MAX_SHRINK, self.base_s)
        wanted = min(wanted, self.max_interval_s)
        if wanted > self.base_s:
            self.stretched_windows += 1
        return wanted
