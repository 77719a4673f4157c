"""A periodic timer that interrupts the main thread with a signal: the sampler's clock there.

A sampler *thread* has to take the GIL from the request thread for every pass and give it back,
which costs the request it lands in several times what this timer's pass costs (figures:
docs/performance.md, "What a sampling pass costs"). A request served by the main thread
(gunicorn's default sync worker, uWSGI without threads, a test client) can instead be
interrupted where it runs: a POSIX timer (``timer_create`` with ``SIGEV_THREAD_ID``, Linux)
sends ``SIGPROF`` to the main thread alone, and Python runs the handler there between two
bytecodes, with the interrupted frame in hand. Other threads never see the signal, and
``siginterrupt(False)`` makes the interrupted system calls restart instead of failing.

The standard library has ``signal.setitimer`` but its signal goes to the whole process and its
``ITIMER_REAL`` is shared with ``signal.alarm`` and pytest-timeout, so the two libc calls are
reached through :mod:`ctypes`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

SIGNAL = signal.SIGPROF

_CLOCK_MONOTONIC = 1
_SIGEV_THREAD_ID = 4  # Linux: deliver to the thread named in sigev_notify_thread_id


class _Sigevent(ctypes.Structure):
    # struct sigevent (64 bytes on Linux): sigval, signo, notify, then a union of which
    # only the thread id is used here; the padding covers the rest of the union.
    _fields_ = [("sigev_value", ctypes.c_void_p),
                ("sigev_signo", ctypes.c_int),
                ("sigev_notify", ctypes.c_int),
                ("sigev_notify_thread_id", ctypes.c_int),
                ("_pad", ctypes.c_int * 12)]


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


@functools.cache
def _libc() -> Any:
    """libc's timer functions (in librt before glibc 2.34). ``PyDLL`` keeps the GIL through
    the call: releasing it in the handler would invite the very handover avoided here.

    Called on a request thread (the first request in the main thread installs the timer), so
    librt is only looked for when the process's own symbols lack the functions:
    ``find_library`` runs ``ldconfig`` in a subprocess, too slow for a request thread.
    """
    for name in _candidates():
        try:
            lib = ctypes.PyDLL(name, use_errno=True)
        except OSError:
            continue
        if hasattr(lib, "timer_create") and hasattr(lib, "timer_settime"):
            lib.timer_create.argtypes = [ctypes.c_int, ctypes.POINTER(_Sigevent),
                                         ctypes.POINTER(ctypes.c_void_p)]
            lib.timer_settime.argtypes = [ctypes.c_void_p, ctypes.c_int,
                                          ctypes.POINTER(_Itimerspec), ctypes.c_void_p]
            lib.timer_delete.argtypes = [ctypes.c_void_p]
            return lib
    return None


def _candidates() -> Iterator[str | None]:
    yield None  # the process itself: glibc >= 2.34 has the timer functions
    yield ctypes.util.find_library("rt")


def unavailable_reason() -> str | None:
    """Why this process cannot use the timer signal, or None when it can (checked on the main
    thread, where the handler has to be installed)."""
    if not sys.platform.startswith("linux"):
        return "per-thread timer signals need Linux"
    if threading.current_thread() is not threading.main_thread():
        return "the handler can only be installed from the main thread"
    current = signal.getsignal(SIGNAL)
    if current is None:
        return f"{SIGNAL.name} has a handler installed outside Python (another profiler?)"
    if current not in (signal.SIG_DFL, signal.SIG_IGN) and _timer_of(current) is None:
        return f"{SIGNAL.name} is already handled by {current!r} (another profiler?)"
    return None


def _timer_of(handler: object) -> MainThreadTimer | None:
    """The timer whose handler this is: one a profiler left behind (an app not stopped, the
    parent of a fork) is replaced, not taken for a stranger's."""
    owner = getattr(handler, "__self__", None)
    return owner if isinstance(owner, MainThreadTimer) else None


class MainThreadTimer:
    """``handler(frame)`` runs on the main thread ``arm(first, period)`` after arming, then
    every ``period``.

    Build it on the main thread (see :func:`unavailable_reason`); raises OSError when the
    kernel refuses a timer. :meth:`close` deletes the timer and gives the signal back.
    """

    def __init__(self, handler: Callable[[FrameType | None], None]) -> None:
        lib = _libc()
        if lib is None:
            raise OSError("timer_create is not available in this libc")
        self._lib = lib
        self._handler = handler
        left_behind = _timer_of(signal.getsignal(SIGNAL))
        if left_behind is not None:
            left_behind.close()  # its timer stops; after a fork it was the parent's (EINVAL)
        current = signal.getsignal(SIGNAL)
        stale = _timer_of(current)  # one closed off the main thread keeps its handler
        self._previous: Any = stale._previous if stale is not None else current
        self._timer = ctypes.c_void_p()
        self._spec = _Itimerspec()
        event = _Sigevent()
        event.sigev_signo = SIGNAL
        event.sigev_notify = _SIGEV_THREAD_ID
        event.sigev_notify_thread_id = threading.main_thread().native_id or 0
        signal.signal(SIGNAL, self._on_signal)
        # Interrupted reads, writes and waits restart instead of failing with EINTR (those with
        # a timeout are retried by Python itself, PEP 475).
        signal.siginterrupt(SIGNAL, False)
        if lib.timer_create(_CLOCK_MONOTONIC, ctypes.byref(event), ctypes.byref(self._timer)):
            errno = ctypes.get_errno()
            signal.signal(SIGNAL, self._previous)
            raise OSError(errno, f"timer_create failed (errno {errno})")
        self._open = True

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._handler(frame)

    def arm(self, first_s: float, period_s: float = 0.0) -> None:
        """Fire ``first_s`` from now, then every ``period_s`` (0: once); ``arm(0)`` disarms.

        Arming is costly on a VM (the call, and the hypervisor reprogramming a timer), which is
        why the timer is periodic rather than re-armed after each signal.
        """
        if not self._open:
            return
        _set(self._spec.it_value, first_s)
        _set(self._spec.it_interval, period_s if first_s else 0.0)
        self._lib.timer_settime(self._timer, 0, ctypes.byref(self._spec), None)

    def owns_signal(self) -> bool:
        """False once someone else has installed a handler for the signal."""
        return signal.getsignal(SIGNAL) == self._on_signal

    def close(self) -> None:
        """Delete the timer; give the signal back when called on the main thread."""
        if not self._open:
            return
        self._open = False
        self._lib.timer_delete(self._timer)
        if threading.current_thread() is threading.main_thread() and self.owns_signal():
            # Ignoring first discards a signal still pending, which the default action (for
            # SIGPROF: terminate) would otherwise meet.
            signal.signal(SIGNAL, signal.SIG_IGN)
            signal.signal(SIGNAL, self._previous)
        # Elsewhere the handler stays installed; with the timer gone, it is never called.


def _set(spec: _Timespec, seconds: float) -> None:
    whole = int(seconds)
    spec.tv_sec = whole
    spec.tv_nsec = int((seconds - whole) * 1e9)
