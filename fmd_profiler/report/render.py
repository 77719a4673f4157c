"""Drawing charts: a process pool for the CLI, one lock in a server, and a cache by content.

plotnine takes 0.1-0.5 s per chart and threads give no speed-up (they also race on
matplotlib's global state), so the CLI draws in ``spawn``-ed worker processes (fork would copy
the parent's DuckDB threads) and a server draws in-process under one lock. The SVG charts
(:mod:`~fmd_profiler.report.svg_charts`) take milliseconds and no lock. Images are cached by
:attr:`~fmd_profiler.report.model.ChartSpec.key`, so an unchanged chart is never drawn twice.
"""

from __future__ import annotations

import functools
import importlib
import logging
import multiprocessing
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from fmd_profiler.report.model import ChartSpec

log = logging.getLogger("fmd_profiler")

#: Each pool worker imports plotnine first, which takes longer than drawing a few charts.
MIN_CHARTS_FOR_POOL = 8
_draw_lock = threading.Lock()
CHARTS_MODULE = "fmd_profiler.report.charts"
_import_lock = threading.Lock()
_import_started = False


def prepare_drawing() -> None:
    """Start importing the drawing code (plotnine, matplotlib, pandas) in a background thread,
    once per process. A server calls this as its first page is asked for: the import then runs
    while that page's queries run in DuckDB (which releases the GIL), not after them."""
    global _import_started
    with _import_lock:
        if _import_started:
            return
        _import_started = True
    threading.Thread(target=_import_charts, name="fmd_profiler-charts-import",
                     daemon=True).start()


def _import_charts() -> None:
    try:
        charts = importlib.import_module(CHARTS_MODULE)
        with _draw_lock:  # the first drawing in a process loads fonts and builds caches
            charts.warm_up()
    except Exception as exc:  # the first chart imports it again and reports what fails
        log.debug("fmd_profiler: importing the chart code ahead failed: %s", exc)


def default_processes() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else (os.cpu_count() or 1))


def _draw(kind: str, data: Any, options: dict[str, Any], width: float,
          height: float) -> bytes:
    from fmd_profiler.report import svg_charts

    if kind in svg_charts.CHARTS:
        return svg_charts.render_svg(kind, data, options, width, height)
    from fmd_profiler.report.charts import render_png

    return render_png(kind, data, options, width, height)


def _draw_spec(spec: ChartSpec) -> bytes:
    return _draw(spec.kind, spec.data, dict(spec.options), spec.width, spec.height)


def _draw_locked(spec: ChartSpec) -> bytes:
    """:func:`_draw_spec` under the drawing lock when plotnine draws it (matplotlib's state
    is global); an SVG chart does not wait for the plotnine charts."""
    if spec.media_type != "image/png":
        return _draw_spec(spec)
    with _draw_lock:
        return _draw_spec(spec)


class ChartCache:
    """Drawn images by chart key, least recently used dropped beyond ``max_bytes``."""

    def __init__(self, max_bytes: int | None = 64 * 1024 * 1024) -> None:
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
            while (self.max_bytes is not None and self._size > self.max_bytes
                   and len(self._items) > 1):
                _, dropped = self._items.popitem(last=False)
                self._size -= len(dropped)

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return key in self._items


class ChartRenderer:
    """Turns chart specs into image bytes; ``processes`` > 1 draws in a worker pool."""

    def __init__(self, processes: int = 1, cache: ChartCache | None = None) -> None:
        self.processes = processes
        self.cache = cache if cache is not None else ChartCache()
        self.failed: dict[str, str] = {}
        self._ahead: list[threading.Thread] = []
        self._ahead_lock = threading.Lock()

    def draw_ahead(self, specs: Iterable[ChartSpec]) -> None:
        """Start drawing ``specs`` in a thread of this process, under the drawing lock, while
        the caller goes on querying (DuckDB releases the GIL); :meth:`render` waits for them."""
        specs = [spec for spec in specs if spec.key not in self.cache]
        if not specs:
            return
        thread = threading.Thread(target=self._draw_in_turn, args=(specs,), daemon=True,
                                  name="fmd_profiler-charts-ahead")
        with self._ahead_lock:
            self._ahead = [t for t in self._ahead if t.is_alive()] + [thread]
        thread.start()

    def _draw_in_turn(self, specs: list[ChartSpec]) -> None:
        for spec in specs:
            if spec.key not in self.cache:
                self._store(spec, functools.partial(_draw_locked, spec))

    def render(self, specs: Iterable[ChartSpec],
               progress: Callable[[int], None] | None = None) -> dict[str, bytes]:
        """Every chart's image by key; a chart that fails is logged and left out."""
        specs = list(specs)
        with self._ahead_lock:
            ahead = list(self._ahead)
        for thread in ahead:  # charts started by draw_ahead are not drawn twice
            thread.join()
        with self.drawing() as drawing:
            drawing.submit(specs)
            drawing.wait(progress)
        return self.collect(specs)

    def drawing(self) -> Drawing:
        """A batch to :meth:`Drawing.submit` charts to while more pages are being built."""
        return Drawing(self)

    def collect(self, specs: Iterable[ChartSpec]) -> dict[str, bytes]:
        out = {}
        for spec in specs:
            png = self.cache.get(spec.key)
            if png is not None:
                out[spec.key] = png
        return out

    def _store(self, spec: ChartSpec, draw: Callable[[], bytes]) -> None:
        try:
            png = draw()
        except Exception as exc:
            self.failed[spec.key] = f"{type(exc).__name__}: {exc}"
            log.warning("fmd_profiler: the chart %r (%s) could not be drawn: %s: %s",
                        spec.title, spec.kind, type(exc).__name__, exc)
            return
        self.cache.put(spec.key, png)


class Drawing:
    """Charts drawn while the pages that need them are still being queried.

    :meth:`submit` queues charts; once enough are queued (and ``processes`` > 1) a pool of
    worker processes starts and takes them, so plotnine's import and the first charts overlap
    the remaining SQL. :meth:`wait` draws what is left and collects everything.
    """

    def __init__(self, renderer: ChartRenderer) -> None:
        self._renderer = renderer
        self._queued: dict[str, ChartSpec] = {}
        self._pool: ProcessPoolExecutor | None = None
        self._futures: dict[Future[bytes], ChartSpec] = {}

    def __enter__(self) -> Drawing:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def submit(self, specs: Iterable[ChartSpec]) -> None:
        for spec in specs:
            if spec.key not in self._renderer.cache and spec.key not in self._queued:
                self._queued[spec.key] = spec
        wants_pool = self._renderer.processes > 1 and len(self._queued) >= MIN_CHARTS_FOR_POOL
        if self._pool is None and wants_pool:
            self._pool = ProcessPoolExecutor(max_workers=self._renderer.processes,
                                             mp_context=multiprocessing.get_context("spawn"))
        if self._pool is not None:
            for spec in self._queued.values():
                self._futures[self._pool.submit(_draw, spec.kind, spec.data,
                                                dict(spec.options), spec.width,
                                                spec.height)] = spec
            self._queued.clear()

    def wait(self, progress: Callable[[int], None] | None = None) -> None:
        renderer = self._renderer
        left = list(self._queued.values())
        self._queued.clear()
        try:
            for future in as_completed(self._futures):
                spec = self._futures.pop(future)
                if isinstance(future.exception(), BrokenProcessPool):
                    left.append(spec)
                    raise BrokenProcessPool(str(future.exception()))
                renderer._store(spec, future.result)
                if progress:
                    progress(1)
        except BrokenProcessPool as exc:
            # A worker died (out of memory, or a script without ``if __name__ == "__main__"``
            # re-running itself under spawn): draw what is left here, slower but complete.
            log.warning("fmd_profiler: the chart processes stopped (%s); drawing the remaining "
                        "charts in this process", exc)
            left += self._futures.values()
            self._futures.clear()
        for spec in left:
            renderer._store(spec, functools.partial(_draw_locked, spec))
            if progress:
                progress(1)
