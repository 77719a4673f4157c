"""Per-process state of one store: recorders, the writer thread, live levels, the route list.

Nothing is opened at import or at ``init_app``: under ``gunicorn --preload`` that would happen
before the fork, and a child writing through its parent's handles loses rows. A :class:`Runtime`
starts on the first request of each process (checked with one attribute read) and forgets
everything in a forked child. It stops, flushing every buffered row, at ``atexit``, at gunicorn's
``worker_exit`` (see :func:`worker_exit`) and on SIGTERM where no server handles it.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import sys
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fmd_profiler.config import Config
from fmd_profiler.fleet.launcher import Uploader
from fmd_profiler.profiling.redact import Redactor
from fmd_profiler.recording.clock import SYSTEM_CLOCK, Clock
from fmd_profiler.recording.exception_log import ExceptionLog
from fmd_profiler.recording.levels import Levels
from fmd_profiler.recording.recorder import Recorder
from fmd_profiler.recording.writer import Source, Writer
from fmd_profiler.schema import EXCEPTION_TRACES, EXCEPTIONS, PROCESS_STATS, REQUESTS, ROUTES
from fmd_profiler.store.control import mtime, read_level_overrides
from fmd_profiler.store.ingestion import Ingestion
from fmd_profiler.store.segments import SegmentWriter, StoreLocation

if TYPE_CHECKING:
    from fmd_profiler.metrics.feed import MetricsFeed

log = logging.getLogger("fmd_profiler")

#: How often a process reports its counters when nothing was dropped.
STATS_EVERY_S = 60.0


@dataclass(frozen=True)
class Route:
    """One URL rule of a monitored app."""

    endpoint: str
    rule: str
    methods: str


RouteLister = Callable[[], "Iterable[Route] | None"]


class Runtime:
    """Everything one process needs to record into one store."""

    def __init__(self, config: Config, clock: Clock = SYSTEM_CLOCK) -> None:
        self.config = config
        self.clock = clock
        self.location = StoreLocation(Path(config.database))
        self.levels = Levels(config)
        self.requests = Recorder(config.max_buffered_rows)
        # Exceptions hold their frames until the next flush: a smaller bound than rows.
        self.exceptions = ExceptionLog(Redactor(config.redact_patterns),
                                       per_hour=config.max_outliers_per_hour,
                                       capacity=max(1000, config.max_buffered_rows // 100),
                                       now=clock.wall)
        self.started = False
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._writer: Writer | None = None
        self._route_listers: list[RouteLister] = []
        self._routes_signature: object = None
        self._levels_mtime: float | None = None
        self._stats_signature: tuple[int, int] | None = None
        self._stats_at = 0.0
        self._pending_routes: list[tuple[object, ...]] = []
        self._pending_stats: list[tuple[object, ...]] = []
        self._version = "unversioned"
        self._extra_sources: list[Callable[[Runtime], Source]] = []
        self._stop_hooks: list[Callable[[], None]] = []
        self._start_hooks: list[Callable[[], None]] = []
        self._counter_sources: list[Callable[[], Mapping[str, float]]] = []
        self._metrics: MetricsFeed | None = None
        _fork_safe(self)

    # -- wiring (done at init_app, in any process) -------------------------------------------

    def add_routes(self, lister: RouteLister, version: str) -> None:
        self._route_listers.append(lister)
        self._version = version

    def add_source(self, factory: Callable[[Runtime], Source]) -> None:
        """Another table written by the writer (the profiler's stack samples, for instance)."""
        self._extra_sources.append(factory)

    def add_counters(self, read: Callable[[], Mapping[str, float]]) -> None:
        """Cumulative counters of another part (the profiler's samples) for the metrics."""
        self._counter_sources.append(read)

    def on_start(self, hook: Callable[[], None]) -> None:
        self._start_hooks.append(hook)

    def on_stop(self, hook: Callable[[], None]) -> None:
        self._stop_hooks.append(hook)

    # -- lifecycle ---------------------------------------------------------------------------

    def ensure_started(self) -> None:
        """Start this process's writer; the request path calls it and it must never raise."""
        if self.started:
            return
        with self._lock:
            if self.started:
                return
            try:
                self._start()
            except Exception:
                log.exception("fmd_profiler: could not start recording in process %d",
                              os.getpid())
            self.started = True

    def _start(self) -> None:
        self._pid = os.getpid()
        lake = self.config.lake
        segments = SegmentWriter(self.location, host=lake.host_name if lake else None)
        drain_requests = self.requests.drain
        if self.config.prometheus:
            # Counted on the writer thread as rows are drained: the request path gains nothing.
            from fmd_profiler.metrics.feed import MetricsFeed

            self._metrics = MetricsFeed(self.location.spool_dir, self._own_counters)
            drain_requests = self._metrics.wrap(drain_requests)
        sources = [Source(REQUESTS, drain_requests),
                   Source(ROUTES, self._take_routes),
                   Source(PROCESS_STATS, self._take_stats),
                   Source(EXCEPTIONS, self.exceptions.take_groups,
                          lambda: self.exceptions.take_groups(everything=True)),
                   Source(EXCEPTION_TRACES, self.exceptions.take_traces)]
        sources += [factory(self) for factory in self._extra_sources]
        ingestion: Ingestion
        if lake is not None:  # fleet mode: upload to the lake instead (maintain prunes there)
            ingestion = Uploader(self.location, lake, interval_s=self.config.upload_interval_s)
        else:
            ingestion = Ingestion(self.location, retention_days=self.config.retention_days)
        self._writer = Writer(sources, segments, ingestion,
                              flush_interval=self.config.flush_interval_s,
                              max_pending_rows=self.config.max_buffered_rows,
                              before_flush=[self._poll_levels, self._inventory_routes,
                                            self._count_stats])
        self._writer.start()
        _register_exit(self)
        for hook in self._start_hooks:
            hook()

    def stop(self) -> None:
        """Flush everything buffered in this process (idempotent, pid-guarded)."""
        with self._lock:
            writer = self._writer
            if writer is None or self._pid != os.getpid():
                return
            self._writer = None
            for hook in self._stop_hooks:
                try:
                    hook()
                except Exception:
                    log.exception("fmd_profiler: error while stopping")
            writer.stop()
            self.started = False

    def flush(self, *, ingest: bool = False) -> None:
        """Write buffered rows now (tests and the report CLI in the same process use it)."""
        writer = self._writer
        if writer is not None:
            writer.flush(ingest=ingest, ingest_timeout=5.0 if ingest else 0.0, complete=True)

    def forget_after_fork(self) -> None:
        """In a forked child: drop the parent's thread, buffer and handles."""
        self._lock = threading.Lock()
        self._writer = None
        self._pid = None
        self.started = False
        self.requests.clear()
        self.exceptions.clear()
        self._routes_signature = None
        self._stats_signature = None
        self._pending_routes = []
        self._pending_stats = []
        self._metrics = None

    # -- work done on the writer thread before each flush ------------------------------------

    def _poll_levels(self) -> None:
        stamp = mtime(self.location.levels_path)
        if stamp == self._levels_mtime:
            return
        self._levels_mtime = stamp
        if self.levels.set_overrides(read_level_overrides(self.location.levels_path)):
            self._routes_signature = None  # re-list routes so the stored levels follow

    def _inventory_routes(self) -> None:
        routes: list[Route] = []
        alive = []
        for lister in self._route_listers:
            listed = lister()
            if listed is not None:  # None: the app is gone (test suites build many apps)
                routes.extend(listed)
                alive.append(lister)
        self._route_listers = alive
        routes.sort(key=lambda r: (r.endpoint, r.rule))
        signature = (tuple(routes), tuple(sorted(self.levels.overrides.items())))
        if signature == self._routes_signature:
            return
        self._routes_signature = signature
        now = self.clock.wall()
        self._pending_routes = [(r.endpoint, r.rule, r.methods, self.levels.of(r.endpoint), now)
                                for r in routes]

    def _count_stats(self) -> None:
        """A process_stats row when rows were dropped, else at most once a minute: a segment
        per flush just to say "still recording" would cost more than it tells."""
        writer = self._writer
        dropped = self.requests.dropped + (writer.dropped.get(REQUESTS.name, 0) if writer else 0)
        recorded = self.requests.recorded + len(self.requests)
        now = self.clock.perf()
        previous = self._stats_signature
        if (recorded, dropped) == previous:
            return
        new_drops = dropped > (previous[1] if previous else 0)
        if not new_drops and previous is not None and now - self._stats_at < STATS_EVERY_S:
            return
        if new_drops:
            log.warning("fmd_profiler: %d request rows dropped so far in process %d: the buffer "
                        "(MAX_BUFFERED_ROWS=%d) was full", dropped, os.getpid(),
                        self.config.max_buffered_rows)
        self._stats_signature = (recorded, dropped)
        self._stats_at = now
        self._pending_stats = [(self.clock.wall(), self._version, recorded, dropped)]

    def _own_counters(self) -> dict[str, float]:
        writer = self._writer
        counters: dict[str, float] = {
            "rows_recorded": self.requests.recorded,
            "rows_dropped": self.requests.dropped + (writer.dropped.get(REQUESTS.name, 0)
                                                     if writer else 0)}
        for read in self._counter_sources:
            counters.update(read())
        return counters

    def _take_routes(self) -> list[tuple[object, ...]]:
        rows, self._pending_routes = self._pending_routes, []
        return rows

    def _take_stats(self) -> list[tuple[object, ...]]:
        rows, self._pending_stats = self._pending_stats, []
        return rows

    @property
    def writer(self) -> Writer | None:
        return self._writer


# -- process-wide registry and shutdown ------------------------------------------------------

_runtimes: dict[Path, Runtime] = {}
_registry_lock = threading.Lock()


def runtime_for(config: Config, clock: Clock = SYSTEM_CLOCK) -> Runtime:
    """The runtime of ``config.database`` in this process (one per store, shared by apps)."""
    key = Path(config.database).resolve()
    with _registry_lock:
        runtime = _runtimes.get(key)
        if runtime is None or runtime.clock is not clock:
            runtime = Runtime(config, clock)
            _runtimes[key] = runtime
        return runtime


def stop_all() -> None:
    """Flush and stop every runtime of this process."""
    for runtime in list(_runtimes.values()):
        runtime.stop()


def flush_all() -> None:
    """Write every runtime's buffered rows now and keep them running (the benchmark harness
    reads a test run between its rounds)."""
    for runtime in list(_runtimes.values()):
        runtime.flush()


def forget_all() -> None:
    """Stop every runtime and forget them (tests use it between apps)."""
    stop_all()
    with _registry_lock:
        _runtimes.clear()


def worker_exit(server: object = None, worker: object = None) -> None:
    """gunicorn hook: in ``gunicorn.conf.py`` write ``from fmd_profiler import worker_exit``."""
    stop_all()


_exit_registered: set[int] = set()


def _register_exit(runtime: Runtime) -> None:
    pid = os.getpid()
    if pid not in _exit_registered:
        _exit_registered.add(pid)
        atexit.register(_stop_all_in, pid)


def _stop_all_in(pid: int) -> None:
    if os.getpid() == pid:  # handlers registered before a fork also run in the child
        stop_all()


def _fork_safe(runtime: Runtime) -> None:
    ref = weakref.ref(runtime)

    def after_fork() -> None:
        alive = ref()
        if alive is not None:
            alive.forget_after_fork()

    os.register_at_fork(after_in_child=after_fork)


def install_sigterm_handler() -> bool:
    """Turn SIGTERM into a normal exit (so atexit flushes) where nobody else handles it.

    Only from the main thread and only while SIGTERM still has its default action: gunicorn and
    uwsgi install their own handlers and already exit cleanly.
    """
    if threading.current_thread() is not threading.main_thread() or "uwsgi" in sys.modules:
        return False
    try:
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return False
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    except (ValueError, OSError):
        return False
    return True


def _exit_on_sigterm(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM kills at once
    raise SystemExit(128 + signum)
