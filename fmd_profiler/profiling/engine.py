"""The profiler of one process and store: sampler thread, aggregates, outliers, detail, exact mode.

Request threads hand it :class:`~fmd_profiler.profiling.sampler.Slot` records (see
:mod:`fmd_profiler.profiling.observer`); everything else happens on background threads. The
sampler thread adds stack samples to per-minute totals; the writer thread, at each flush, turns
finished requests into coverage rows, outliers and detailed profiles, pulls exact-mode statistics,
and hands the rows of every profile table to the writer (one
:class:`~fmd_profiler.recording.writer.Source`
per table). Per-process state is rebuilt after a fork; nothing starts before the first request.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, cast

from fmd_profiler.config import Config
from fmd_profiler.profiling.aggregate import BucketTotals
from fmd_profiler.profiling.budget import CpuBudget
from fmd_profiler.profiling.coexist import gevent_patched
from fmd_profiler.profiling.detail import DetailProfiler
from fmd_profiler.profiling.exact import ExactProfiler, ExactRow
from fmd_profiler.profiling.outliers import OutlierDetector
from fmd_profiler.profiling.redact import Redactor, snapshot
from fmd_profiler.profiling.sampler import Sampler, Slot
from fmd_profiler.profiling.stacks import StackTable
from fmd_profiler.recording.clock import Clock
from fmd_profiler.recording.writer import Source
from fmd_profiler.schema import (
    EXACT_FUNCTIONS,
    OUTLIERS,
    PROFILE_FRAMES,
    PROFILE_REQUESTS,
    PROFILE_SAMPLES,
    PROFILE_STACKS,
    PROFILE_TABLES,
    REQUEST_PROFILES,
)

log = logging.getLogger("fmd_profiler")

Row = tuple[object, ...]


class ProfilingEngine:
    """Everything levels 2-3 and exact mode need in one process, for one store."""

    def __init__(self, config: Config, clock: Clock, entry_codes: Iterable[Any]) -> None:
        self.config = config
        self.clock = clock
        self.enabled = True
        self._entry_codes = frozenset(entry_codes)
        self._pid: int | None = None
        self._started = False
        self._pending: dict[str, list[Row]] = {t.name: [] for t in PROFILE_TABLES}
        self._reset()

    def _reset(self) -> None:
        """Fresh per-process state (also in a forked child: the parent's is not ours)."""
        config, clock = self.config, self.clock
        self.stacks = StackTable(self._entry_codes)
        self.samples = BucketTotals(2)  # (endpoint, version, stack) -> weight_s, samples
        self.coverage = BucketTotals(3)  # (endpoint, version) -> requests, duration_s, exact
        self.exact_totals = BucketTotals(4)  # (endpoint, version, test, frame) -> 4 sums
        self.sampler = Sampler(self.stacks, self._on_sample, clock=clock,
                               interval_s=config.sampling_interval_ms / 1000.0,
                               switch_interval_s=config.sampler_switch_interval_ms / 1000.0,
                               # yappi would count the signal handler into the app's functions
                               signal_timer=config.sampler_signal and not config.exact_mode,
                               budget=CpuBudget(config.sampling_interval_ms / 1000.0,
                                                config.profiler_budget_pct, perf=clock.perf,
                                                process_cpu=time.process_time))
        self.finished: deque[Slot] = deque(maxlen=config.max_buffered_rows)
        self.outliers = OutlierDetector(config.outlier_detection_constant,
                                        per_hour=config.max_outliers_per_hour)
        self.detail = DetailProfiler(self.stacks, rate=config.detail_sample_rate,
                                     per_hour=config.max_detailed_per_hour, perf=clock.perf)
        self.exact = ExactProfiler() if config.exact_mode else None
        self.redactor = Redactor(config.redact_patterns)
        self._exact_frames: dict[int, Any] = {}
        for rows in self._pending.values():
            rows.clear()

    # -- wiring ----------------------------------------------------------------------------

    def sources(self) -> list[Callable[[Any], Source]]:
        """One writer source per profile table; the first one to be drained collects."""
        return [partial(self._source, table) for table in PROFILE_TABLES]

    def _source(self, table: Any, runtime: Any) -> Source:
        return Source(table, partial(self._take, table.name, False),
                      partial(self._take, table.name, True))

    # -- lifecycle (runtime hooks) ---------------------------------------------------------

    def start(self) -> None:
        """First request of this process: start the sampler (and yappi in exact mode)."""
        if self._pid != os.getpid():
            self._reset()
            self._pid = os.getpid()
        if gevent_patched():
            self.enabled = False
            log.warning("fmd_profiler: gevent monkey-patching detected in process %d; call-stack "
                        "sampling, outliers and exact mode are off here (a sampler thread would "
                        "be a greenlet that sees no other greenlet). Requests are still timed "
                        "as at level 1.", os.getpid())
            return
        self.sampler.start()
        exact_on = self.exact is not None and self.exact.start(self.clock.perf())
        if exact_on and self.detail.enabled:
            self.detail.enabled = False
            log.info("fmd_profiler: detailed request profiles are off while EXACT_MODE is on "
                     "(a thread has one profile hook, and yappi holds it)")
        self._started = True

    def stop(self) -> None:
        """Before the final flush: stop the threads; the flush then writes everything."""
        if not self._started or self._pid != os.getpid():
            return
        self._started = False
        self.sampler.stop()
        if self.exact is not None:
            self._add_exact(self.exact.stop())

    # -- sampler thread --------------------------------------------------------------------

    def _on_sample(self, slot: Slot, stack: int, weight: float, wall: float) -> None:
        self.samples.add(wall, (slot.endpoint, slot.version, stack), weight, 1)
        own = slot.stacks
        if own is not None:
            entry = own.get(stack)
            if entry is None:
                own[stack] = [weight, 1]
            else:
                entry[0] += weight
                entry[1] += 1

    # -- writer thread ---------------------------------------------------------------------

    def _take(self, table: str, everything: bool) -> list[Row]:
        if table == PROFILE_TABLES[0].name:
            try:
                self.collect(everything=everything)
            except Exception:  # never break the writer's flush
                log.exception("fmd_profiler: error while collecting profile data")
        rows, self._pending[table] = self._pending[table], []
        return rows

    def collect(self, *, everything: bool = False) -> None:
        """Turn what was recorded into rows (all of it with ``everything``)."""
        wall = self.clock.wall()
        if self.exact is not None and self.exact.running:
            self._add_exact(self.exact.pull(self.clock.perf(), force=everything))
        self.sampler.drain()  # before the finished requests: their own samples are in it
        while self.finished:
            self._finish(self.finished.popleft())
        pending = self._pending
        for bucket, key, (weight, count) in self.samples.take(wall, everything=everything):
            endpoint, version, stack = cast(tuple[str, str, int], key)
            pending[PROFILE_SAMPLES.name].append(
                (endpoint, version, bucket, self.stacks.stack(stack).stack_id, weight * 1000.0,
                 int(count)))
        for bucket, key, (requests, duration, exact) in self.coverage.take(
                wall, everything=everything):
            endpoint, version = cast(tuple[str, str], key)
            pending[PROFILE_REQUESTS.name].append(
                (endpoint, version, bucket, int(requests), duration * 1000.0, int(exact)))
        for bucket, key, (calls, primitive, own, total) in self.exact_totals.take(
                wall, everything=everything):
            endpoint, version, test_id, fid = cast(tuple[str, str, "str | None", int], key)
            frame = self._exact_frames[fid]
            pending[EXACT_FUNCTIONS.name].append(
                (endpoint, version, test_id, bucket, fid, frame.function, frame.file, frame.line,
                 int(calls), int(primitive), own * 1000.0, total * 1000.0))
        frames, stacks = self.stacks.take_new()
        pending[PROFILE_FRAMES.name].extend(
            (f.frame_id, f.function, f.file, f.line, wall) for f in frames)
        pending[PROFILE_STACKS.name].extend((s.stack_id, s.frames, wall) for s in stacks)

    def _finish(self, slot: Slot) -> None:
        """One finished request: coverage, then (level 3) outlier or detailed profile."""
        environ, slot.environ = slot.environ, None
        recorder = slot.detail
        if recorder is not None:
            # Slowed down by its profile hook: kept out of the aggregate and the baselines.
            if not recorder.evicted and recorder.stacks:
                self._request_profile(uuid.uuid4().hex, "detail", slot, recorder.stacks)
            return
        self.coverage.add(slot.wall0, (slot.endpoint, slot.version), 1.0, slot.duration,
                          1.0 if slot.tag else 0.0)
        if slot.level < 3:
            return
        duration_ms = slot.duration * 1000.0
        verdict = self.outliers.observe(slot.endpoint, duration_ms, slot.wall0)
        if verdict is None:
            return
        request_id = uuid.uuid4().hex
        environ = environ or {}
        snap = snapshot(environ, self.redactor, _matched_rule(environ))
        self._pending[OUTLIERS.name].append(
            (request_id, slot.endpoint, slot.version, slot.wall0, duration_ms, slot.cpu * 1000.0,
             verdict.baseline_ms, verdict.threshold_ms, snap.method or slot.method, snap.url,
             snap.args, snap.headers, process_memory(), system_load()))
        if slot.stacks:
            self._request_profile(request_id, "outlier", slot, slot.stacks)

    def _request_profile(self, request_id: str, kind: str, slot: Slot,
                         stacks: dict[int, list[float]]) -> None:
        rows = self._pending[REQUEST_PROFILES.name]
        for stack, (weight, count) in stacks.items():
            rows.append((request_id, kind, slot.endpoint, slot.version, slot.wall0,
                         slot.duration * 1000.0, self.stacks.stack(stack).stack_id,
                         weight * 1000.0, int(count)))

    def _add_exact(self, rows: list[ExactRow]) -> None:
        wall = self.clock.wall()
        for row in rows:
            self._exact_frames[row.frame.frame_id] = row.frame
            self.exact_totals.add(wall, (row.endpoint, row.version, row.test_id,
                                         row.frame.frame_id),
                                  row.calls, row.primitive_calls, row.own_s, row.total_s)


def _matched_rule(environ: dict[str, Any]) -> str | None:
    """The URL rule the request matched (from the request object werkzeug keeps in the
    environ), or None for an unmatched path."""
    rule = getattr(environ.get("werkzeug.request"), "url_rule", None)
    text = getattr(rule, "rule", None)
    return text if isinstance(text, str) else None


def process_memory() -> int | None:
    """Resident set size of this process in bytes (Linux), else the peak; None if unknown."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024
    except (ImportError, OSError):
        return None


def system_load() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None
