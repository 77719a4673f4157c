"""Test doubles for the parts the profiler lets us inject: the clock, and the frames the
sampler walks (scripted code objects and frames)."""

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


class Code:
    """A scripted code object: what the stack walker reads of one."""

    def __init__(self, qualname: str, filename: str = "/app/views.py", line: int = 1) -> None:
        self.co_qualname = qualname
        self.co_name = qualname.rpartition(".")[2]
        self.co_filename = filename
        self.co_firstlineno = line


class Frame:
    """A scripted frame: ``f_code``, ``f_back`` and ``f_globals``."""

    def __init__(self, code: Code, module: str, back: Frame | None = None) -> None:
        self.f_code = code
        self.f_globals = {"__name__": module}
        self.f_back = back


def frames(*spec: tuple[Code, str]) -> Frame:
    """Build a stack from (code, module) pairs listed root first; returns the leaf."""
    leaf = None
    for code, module in spec:
        leaf = Frame(code, module, leaf)
    assert leaf is not None
    return leaf
