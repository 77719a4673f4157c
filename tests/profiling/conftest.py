"""The profiler tests' guard: no test leaves a profile hook, yappi or the timer signal behind."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator

import pytest

from fmd_profiler.profiling.timer_signal import MainThreadTimer


@pytest.fixture(autouse=True)
def no_profile_hook_left_behind() -> Iterator[None]:
    """Like pyinstrument's suite: a test must not leave a profile hook, yappi or the sampler's
    timer signal running."""
    yield
    leaked = []
    if sys.getprofile() is not None:
        leaked.append(f"sys.getprofile() = {sys.getprofile()!r}")
        sys.setprofile(None)
    if threading.getprofile() is not None:
        leaked.append(f"threading.getprofile() = {threading.getprofile()!r}")
        threading.setprofile(None)
    monitoring = getattr(sys, "monitoring", None)  # Python 3.12+
    for tool_id in range(6) if monitoring is not None else ():
        if monitoring.get_tool(tool_id) is not None:
            leaked.append(f"sys.monitoring tool {tool_id} ({monitoring.get_tool(tool_id)})")
            monitoring.free_tool_id(tool_id)
    yappi = sys.modules.get("yappi")
    if yappi is not None and yappi.is_running():
        leaked.append("yappi is running")
        yappi.stop()
    handler = signal.getsignal(signal.SIGPROF) if hasattr(signal, "SIGPROF") else None
    if isinstance(getattr(handler, "__self__", None), MainThreadTimer):
        leaked.append("the sampler's SIGPROF timer (stop the app's runtime)")
        handler.__self__.close()  # type: ignore[union-attr]
    assert not leaked, "profile hook left behind: " + "; ".join(leaked)
