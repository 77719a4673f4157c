"""Exact mode: yappi's deterministic profile, per endpoint (and test), in wall-clock time.

yappi hooks every thread at the C level and counts every call. Each (endpoint, version, test)
gets a yappi tag from 1 up (tag 0 is "everything else"); the tag lives in a ContextVar whose C
``get`` method is yappi's tag callback, so tagging costs no Python call per function call and
follows async views into their event-loop thread. Statistics are pulled in batches from a
background thread as differences from the previous pull - and only at a moment when no tagged
request is running (pulling pauses yappi, which would lose the calls in flight; a request that
starts during a pull waits for it), unless none came for :data:`MAX_STALE_S`.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from fmd_profiler.profiling.coexist import profile_hook_owner
from fmd_profiler.profiling.stacks import FrameInfo, frame_id

log = logging.getLogger("fmd_profiler")

#: Pull even with requests in flight when no quiet moment came for this long.
MAX_STALE_S = 30.0

ExactKey = tuple[str, str, "str | None"]  # endpoint, version, test_id


@dataclass(frozen=True)
class ExactRow:
    """What one function did for one (endpoint, version, test) since the previous pull."""

    endpoint: str
    version: str
    test_id: str | None
    frame: FrameInfo
    calls: int
    primitive_calls: int
    own_s: float
    total_s: float


class ExactProfiler:
    """Owns yappi while exact mode is on in this process."""

    def __init__(self) -> None:
        self._tag: ContextVar[int] = ContextVar("fmd_profiler_exact_tag", default=0)
        self._tags: dict[ExactKey, int] = {}
        self._keys: list[ExactKey | None] = [None]  # tag -> key
        self._lock = threading.Lock()
        self._inflight = 0
        self._entered = 0  # tagged requests begun so far
        self._pulled_at: tuple[int, int] | None = None  # (entered, inflight) at the last pull
        self._seen: dict[tuple[int, str], tuple[int, int, float, float]] = {}
        self._modules: dict[str, str] = {}
        self._last_pull = 0.0
        self.running = False
        self.unavailable: str | None = None  # why exact mode could not start

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, now: float) -> bool:
        """Start yappi for every thread; False (and a warning) when another profiler is active."""
        import yappi

        owner = profile_hook_owner()
        if owner is not None:
            self.unavailable = owner
            log.warning("fmd_profiler: EXACT_MODE is on but another profiler (%s) is active in "
                        "process %d; exact mode stays off here (sampled call stacks are still "
                        "recorded)", owner, os.getpid())
            return False
        yappi.clear_stats()  # the clock type can only change without stats
        yappi.set_clock_type("wall")  # the CPU clock is a system call per event: far costlier
        yappi.set_tag_callback(self._tag.get)
        yappi.start(builtins=False, profile_threads=True)
        self.running = True
        self._last_pull = now
        self._pulled_at = None
        return True

    def stop(self) -> list[ExactRow]:
        """Final pull, then release yappi."""
        if not self.running:
            return []
        import yappi

        rows = self.pull(now=0.0, force=True)
        yappi.stop()
        yappi.set_tag_callback(None)
        yappi.clear_stats()
        self.running = False
        self._seen.clear()
        return rows

    # -- request threads -------------------------------------------------------------------

    def enter(self, key: ExactKey) -> int:
        """Tag what the calling context runs from now on; returns the tag."""
        tag = self._tags.get(key)
        with self._lock:  # waits only while a pull is running
            if tag is None:
                tag = self._tags.get(key)
                if tag is None:
                    tag = len(self._keys)
                    self._keys.append(key)
                    self._tags[key] = tag
            self._inflight += 1
            self._entered += 1
        self._tag.set(tag)
        return tag

    def leave(self) -> None:
        self._tag.set(0)
        with self._lock:
            self._inflight -= 1

    # -- background ------------------------------------------------------------------------

    def pull(self, now: float, *, force: bool = False) -> list[ExactRow]:
        """The change since the last pull, when no tagged request runs (or ``force``)."""
        if not self.running:
            return []
        with self._lock:
            if self._inflight and not force and now - self._last_pull < MAX_STALE_S:
                return []
            if not force and self._pulled_at == (self._entered, 0):
                # Nothing tagged ran since a pull that saw no request in flight: walking
                # yappi's whole table for no change would keep an idle server busy.
                return []
            if self._inflight:
                log.info("fmd_profiler: exact-mode statistics pulled with %d requests in flight; "
                         "their calls so far may be missing", self._inflight)
            self._last_pull = now
            self._pulled_at = (self._entered, self._inflight)
            return self._collect()

    def _collect(self) -> list[ExactRow]:
        import yappi

        descriptors: dict[str, Any] = getattr(yappi, "_fn_descriptor_dict", {})
        rows = []
        for tag in range(1, len(self._keys)):
            key = self._keys[tag]
            assert key is not None
            for stat in yappi.get_func_stats(tag=tag):
                seen_key = (tag, stat.full_name)
                now = (stat.ncall, stat.nactualcall, stat.tsub, stat.ttot)
                before = self._seen.get(seen_key, (0, 0, 0.0, 0.0))
                if now[0] == before[0]:
                    continue
                self._seen[seen_key] = now
                rows.append(ExactRow(
                    key[0], key[1], key[2],
                    self._frame(stat, descriptors.get(stat.full_name)),
                    now[0] - before[0], now[1] - before[1],
                    max(0.0, now[2] - before[2]), max(0.0, now[3] - before[3])))
        return rows

    def _frame(self, stat: Any, code: Any) -> FrameInfo:
        """The same identity the sampler gives a function: module:qualname and first line."""
        qualname = getattr(code, "co_qualname", None) or stat.name
        module = self._module_of(stat.module)
        function = f"{module}:{qualname}"
        return FrameInfo(frame_id(function, stat.lineno), function, stat.module, stat.lineno)

    def _module_of(self, filename: str) -> str:
        name = self._modules.get(filename)
        if name is None:
            self._modules.update(_module_files())
            name = self._modules.setdefault(
                filename, os.path.splitext(os.path.basename(filename))[0] or "?")
        return name


def _module_files() -> dict[str, str]:
    files = {}
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str):
            files[path] = name
    return files
