"""Drawing charts: a process pool for the CLI, one lock in a server, and a cache by content.

plotnine takes 0.1-0.5 s per chart and threads give no speed-up (they also race on
matplotlib's global state), so the CLI draws in ``spawn``-ed worker processes (fork would copy
the parent's DuckDB threads) and a server draws in-process under one lock. Images are cached by
:attr:`~fmd_profiler.report.model.ChartSpec.key`, so an unchanged chart is never drawn twice.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from fmd_profiler.report.model import ChartSpec

log = logging.getLogger("fmd_profiler")

#: A pool pays ~1.5 s per worker to import plotnine: not worth it for a few charts.
MIN_CHARTS_FOR_POOL = 8
_draw_lock = threading.Lock()


def default_processes() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else (os.cpu_count() or 1))


def _draw(kind: str, data: Any, options: dict[str, Any], width: float,
          height: float) -> bytes:
    from fmd_profiler.report.charts import render_png

    return render_png(kind, data, options, width, height)


def _draw_spec(spec: ChartSpec) -> bytes:
    return _draw(spec.kind, spec.data, dict(spec.options), spec.width, spec.height)


class ChartCache:
    """Rendered PNGs by chart key, least recently used dropped beyond ``max_bytes``."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            png = self._items.get(key)
            if png is not None:
                self._items.move_to_end(key)
            return png

    def put(self, key: str, png: bytes) -> None:
        with self._lock:
            if key in self._items:
                return
            self._items[key] = png
            self._size += len(png)
            while self._size > self.max_bytes and len(self._items) > 1:
                _, dropped = self._items.popitem(last=False)
                self._size -= len(dropped)

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return key in self._items


class ChartRenderer:
    """Turns chart specs into PNG bytes; ``processes`` > 1 draws in a worker pool."""

    def __init__(self, processes: int = 1, cache: ChartCache | None = None) -> None:
        self.processes = processes
        self.cache = cache if cache is not None else ChartCache()
        self.failed: dict[str, str] = {}

    def render(self, specs: Iterable[ChartSpec],
               progress: Callable[[int], None] | None = None) -> dict[str, bytes]:
        """Every chart's PNG by key; a chart that fails is logged and left out."""
        unique = {spec.key: spec for spec in specs}
        missing = [s for k, s in unique.items() if k not in self.cache]
        # Big charts first, so the last worker to finish is not stuck with the largest one.
        missing.sort(key=lambda s: -len(s.data))
        if self.processes > 1 and len(missing) >= MIN_CHARTS_FOR_POOL:
            self._render_in_pool(missing, progress)
        else:
            self._render_here(missing, progress)
        out = {}
        for key in unique:
            png = self.cache.get(key)
            if png is not None:
                out[key] = png
        return out

    def _render_in_pool(self, specs: list[ChartSpec],
                        progress: Callable[[int], None] | None) -> None:
        context = multiprocessing.get_context("spawn")
        workers = min(self.processes, len(specs))
        done: set[str] = set()
        try:
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                futures = {pool.submit(_draw, s.kind, s.data, dict(s.options), s.width,
                                       s.height): s for s in specs}
                for future in as_completed(futures):
                    spec = futures[future]
                    if isinstance(future.exception(), BrokenProcessPool):
                        raise BrokenProcessPool(str(future.exception()))
                    self._store(spec, future.result)
                    done.add(spec.key)
                    if progress:
                        progress(1)
        except BrokenProcessPool as exc:
            # A worker died (out of memory, or a script without ``if __name__ == "__main__"``
            # re-running itself under spawn): draw what is left here, slower but complete.
            log.warning("fmd_profiler: the chart processes stopped (%s); drawing the remaining "
                        "charts in this process", exc)
            self._render_here([s for s in specs if s.key not in done], progress)

    def _render_here(self, specs: list[ChartSpec],
                     progress: Callable[[int], None] | None) -> None:
        for spec in specs:
            with _draw_lock:
                self._store(spec, functools.partial(_draw_spec, spec))
            if progress:
                progress(1)

    def _store(self, spec: ChartSpec, draw: Callable[[], bytes]) -> None:
        try:
            png = draw()
        except Exception as exc:
            self.failed[spec.key] = f"{type(exc).__name__}: {exc}"
            log.warning("fmd_profiler: the chart %r (%s) could not be drawn: %s: %s",
                        spec.title, spec.kind, type(exc).__name__, exc)
            return
        self.cache.put(spec.key, png)
