"""Scripted stand-ins for the profiler tests: scripted frames, and the suite's fake clock."""

from __future__ import annotations

from tests.fakes import FakeClock

__all__ = ["Code", "FakeClock", "Frame", "frames"]


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
