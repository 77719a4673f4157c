"""Scripted stand-ins for the profiler tests: a fake clock and scripted frames."""

from __future__ import annotations


class FakeClock:
    """Wall, perf and thread CPU clocks that move only when told to."""

    def __init__(self, wall: float = 1_700_000_000.0) -> None:
        self.now = 0.0
        self.wall0 = wall

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def perf(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.wall0 + self.now

    def thread_cpu(self) -> float:
        return self.now


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
