"""Living with other tools: other profile hooks and gevent.

A thread has one profile hook. Detailed profiles (``sys.setprofile``) and exact mode (yappi, which
hooks every thread) must neither evict a hook someone else installed (cProfile, pyinstrument,
yappi run by hand) nor be evicted silently: :func:`profile_hook_owner` names the current owner, so
callers can warn once and skip. From Python 3.12 tools may also watch every call through
``sys.monitoring`` (PEP 669: cProfile itself, coverage 7.4+'s sysmon core, debuggers); a tool
registered there counts as an owner too, since our hook would distort what it measures or slow
what it steps through. Trace hooks (``sys.settrace``: classic coverage, pdb) are a different slot
and do not conflict. Under gevent monkey-patching a sampler thread is a greenlet and
``sys._current_frames`` does not see the other greenlets, so sampling is turned off there.
"""

from __future__ import annotations

import sys
import threading


def profile_hook_owner(own: object = None) -> str | None:
    """Who holds the profile hook of this thread or of new threads; None when free or ``own``."""
    yappi = sys.modules.get("yappi")
    # yappi installs its hook at the C level, invisible to sys.getprofile().
    if yappi is not None and own is not yappi and _yappi_running(yappi):
        return "yappi"
    current = sys.getprofile()
    if current is not None and current is not own:
        return _describe(current)
    new_threads = threading.getprofile()
    if new_threads is not None and new_threads is not own:
        return _describe(new_threads) + " (set for new threads)"
    return monitoring_tool()


#: The tool ids ``sys.monitoring`` hands out (0-5; 6 and 7 are setprofile/settrace themselves).
MONITORING_TOOL_IDS = range(6)


def monitoring_tool() -> str | None:
    """The first tool registered with ``sys.monitoring`` (Python 3.12+), as 'name (sys.monitoring
    tool N)'; None before 3.12 or when none is."""
    monitoring = getattr(sys, "monitoring", None)
    if monitoring is None:
        return None
    for tool_id in MONITORING_TOOL_IDS:
        name = monitoring.get_tool(tool_id)
        if name is not None:
            return f"{name} (sys.monitoring tool {tool_id})"
    return None


def _yappi_running(yappi: object) -> bool:
    try:
        return bool(yappi.is_running())  # type: ignore[attr-defined]
    except Exception:  # a broken third-party module is not our concern
        return False


def _describe(hook: object) -> str:
    """'module.name' of a hook: a function, or the object a bound method belongs to."""
    owner = getattr(hook, "__self__", None)
    if owner is None or isinstance(owner, type(sys)):
        module = getattr(hook, "__module__", None)
        name = getattr(hook, "__qualname__", None) or type(hook).__qualname__
    else:
        module, name = type(owner).__module__, type(owner).__qualname__
    return f"{module}.{name}" if module else str(name)


def gevent_patched() -> bool:
    """Whether gevent has monkey-patched ``threading`` in this process."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is None:
        return False
    try:
        return bool(monkey.is_module_patched("threading"))  # type: ignore[attr-defined]
    except Exception:
        return True
