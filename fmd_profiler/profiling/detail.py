"""Detailed per-request profiles: a ``sys.setprofile`` sampler on the request's own thread.

The thread sampler cannot see a 2 ms request (the GIL lets it run every ~5 ms against busy code);
for a picked request a profile hook runs in the request thread itself and records the current
stack whenever at least :data:`INTERVAL_S` has passed since its last record (pyinstrument's
approach), crediting that time to the stack of the code that was running. Any profile hook slows
call-heavy Python several times over while installed, so only a ``DETAIL_SAMPLE_RATE`` fraction of
level-3 requests is picked, at most ``per_hour`` per endpoint, and those requests are kept out of
the aggregated profile and the outlier baselines.
"""

from __future__ import annotations

import logging
import random
import sys
import threading
from collections.abc import Callable
from typing import Any

from fmd_profiler.profiling.coexist import profile_hook_owner
from fmd_profiler.profiling.stacks import StackTable

log = logging.getLogger("fmd_profiler")

INTERVAL_S = 0.001
#: Distinct stacks kept per request; the rest of the time goes to the root.
MAX_STACKS = 2000


class DetailRecorder:
    """The hook and the samples of one request: stack -> [weight_s, samples]."""

    __slots__ = ("done", "evicted", "hook", "stacks")

    def __init__(self, table: StackTable, perf: Callable[[], float],
                 interval_s: float = INTERVAL_S) -> None:
        stacks: dict[int, list[float]] = {}
        self.stacks = stacks
        self.evicted = False
        self.done = False
        stack_of = table.stack_of
        last = perf()
        recorder = self

        def hook(frame: Any, event: str, arg: Any) -> None:
            nonlocal last
            now = perf()
            elapsed = now - last
            if elapsed < interval_s:
                return
            last = now
            if recorder.done:  # finished on another thread: the hook removes itself
                sys.setprofile(None)
                return
            if event == "call":  # the time before a call was spent in the caller
                frame = frame.f_back
                if frame is None:
                    return
            stack = stack_of(frame)
            entry = stacks.get(stack)
            if entry is not None:
                entry[0] += elapsed
                entry[1] += 1
            elif len(stacks) < MAX_STACKS:
                stacks[stack] = [elapsed, 1]

        self.hook = hook


class DetailProfiler:
    """Picks requests for a detailed profile and installs/removes the hook on their threads."""

    def __init__(self, table: StackTable, *, rate: float, per_hour: int,
                 perf: Callable[[], float], rng: random.Random | None = None) -> None:
        self.table = table
        self.rate = rate
        self.per_hour = per_hour
        self._perf = perf
        self._random = (rng or random.Random()).random
        self._hour = -1.0
        self._taken: dict[str, int] = {}
        self._lock = threading.Lock()
        self._warned: set[str] = set()
        self.enabled = rate > 0

    def pick(self, endpoint: str, wall: float) -> bool:
        """Whether this request gets a detailed profile (request thread: O(1))."""
        if not self.enabled or self._random() >= self.rate:
            return False
        with self._lock:  # rare: only for the picked fraction
            hour = wall - wall % 3600
            if hour != self._hour:
                self._hour, self._taken = hour, {}
            taken = self._taken.get(endpoint, 0)
            if taken >= self.per_hour:
                return False
            self._taken[endpoint] = taken + 1
        return True

    def begin(self) -> DetailRecorder | None:
        """Install the hook on the calling thread; None when another profiler holds it."""
        owner = profile_hook_owner()
        if owner is not None:
            self._warn_once(owner, "fmd_profiler: another profiler (%s) holds the profile hook; "
                                   "detailed request profiles are skipped while it does (the "
                                   "sampled call stacks are not affected)", owner)
            return None
        recorder = DetailRecorder(self.table, self._perf)
        sys.setprofile(recorder.hook)
        return recorder

    def resume(self, recorder: DetailRecorder) -> bool:
        """Install the hook on another thread serving the same request (an async view)."""
        if recorder.done or sys.getprofile() is not None:
            return False
        sys.setprofile(recorder.hook)
        return True

    def suspend(self, recorder: DetailRecorder) -> None:
        """Remove the hook from the calling thread (the request goes on elsewhere)."""
        if sys.getprofile() is recorder.hook:
            sys.setprofile(None)

    def end(self, recorder: DetailRecorder) -> None:
        """Remove the hook from the calling thread (if it is still ours) and close the record."""
        recorder.done = True
        current = sys.getprofile()
        if current is recorder.hook:
            sys.setprofile(None)
        elif current is not None:
            # Someone replaced our hook mid-request: the profile is incomplete. Their hook stays.
            recorder.evicted = True
            self._warn_once("evicted", "fmd_profiler: a profile hook installed by %s replaced "
                                       "the one of a detailed request profile; that profile is "
                                       "dropped", _name(current))

    def _warn_once(self, key: str, message: str, *args: object) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message, *args)


def _name(hook: object) -> str:
    return getattr(hook, "__qualname__", None) or type(hook).__qualname__
