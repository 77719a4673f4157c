"""Test doubles for the parts the profiler lets us inject: the clock."""

from __future__ import annotations


class FakeClock:
    """Time that moves only when a test says so. Like the real clocks, the monotonic one starts
    near zero (so durations are exact in floating point) and wall time moves with it."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.start = start
        self.elapsed = 0.0
        self.cpu = 0.0
        self.cpu_reads = 0  # the real thread CPU clock is a system call: tests count them

    def wall(self) -> float:
        return self.start + self.elapsed

    def perf(self) -> float:
        return self.elapsed

    def thread_cpu(self) -> float:
        self.cpu_reads += 1
        return self.cpu

    def advance(self, seconds: float, cpu: float | None = None) -> None:
        self.elapsed += seconds
        self.cpu += seconds if cpu is None else cpu
