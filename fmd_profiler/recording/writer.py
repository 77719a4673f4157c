"""The background writer: drains the recorders into spool segments and has them ingested.

One daemon thread per process and store. Every flush interval it takes every buffered row and
writes one segment per table, then starts an ingestion child when one is due
(:mod:`fmd_profiler.store.ingestion`; this process never loads DuckDB for it). Nothing here
raises into the app: when the store is broken the rows stay in memory up to the configured
bound (what is dropped beyond it is counted), one warning is logged, and writing resumes when
the store is back.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fmd_profiler.errors import one_line
from fmd_profiler.schema import Table
from fmd_profiler.store.ingestion import Ingestion
from fmd_profiler.store.segments import SegmentWriter

log = logging.getLogger("fmd_profiler")


@dataclass(frozen=True)
class Source:
    """A table and the function that hands over its buffered rows.

    ``drain_all``, when given, is used by complete flushes (``Runtime.flush`` and stop) instead of
    ``drain``: a source that holds rows back on purpose (the profiler keeps each minute's stack
    samples in memory until the minute is over, so rows grow with time, not with requests) hands
    over everything then.
    """

    table: Table
    drain: Callable[[], list[tuple[object, ...]]]
    drain_all: Callable[[], list[tuple[object, ...]]] | None = None


class Writer:
    """Moves rows from memory to the store; ``flush`` may be called from any thread."""

    def __init__(self, sources: Sequence[Source], segments: SegmentWriter, ingestion: Ingestion,
                 *, flush_interval: float, max_pending_rows: int,
                 before_flush: Sequence[Callable[[], None]] = ()) -> None:
        self._sources = list(sources)
        self._segments = segments
        self._ingestion = ingestion
        self._flush_interval = flush_interval
        self._max_pending = max_pending_rows
        self._before_flush = list(before_flush)
        self._pending: dict[str, list[tuple[object, ...]]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing: dict[str, str] = {}
        # rows lost per table because the store stayed broken longer than the bound allows
        self.dropped: dict[str, int] = {}
        self.written = 0

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        # Daemon: a non-daemon thread would block gunicorn's worker shutdown and atexit.
        self._thread = threading.Thread(target=self._run, name="fmd_profiler-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and write everything still buffered (idempotent).

        Segments on disk are the durable copy, so stopping does not ingest: the next ingestion
        child or reader takes them, and shutting down never loads DuckDB. The ingestion decides
        how long stopping waits for its child (in fleet mode it starts a last upload).
        """
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5.0)
        self.flush(ingest=False, complete=True)
        self._segments.close()
        with self._lock:  # Ingestion is not thread-safe; flush uses it under the same lock
            finished, problem = self._ingestion.close(timeout=self._ingestion.stop_wait_s)
            if finished:
                self._note(self._ingestion.operation, problem)

    def _run(self) -> None:
        while True:
            # Jitter keeps the workers of one server from flushing in lockstep.
            if self._stop.wait(self._flush_interval * random.uniform(0.9, 1.0)):
                return
            try:
                self.flush()
            except Exception:
                log.exception("fmd_profiler: unexpected error in the writer thread")

    # -- the work --------------------------------------------------------------------------

    def flush(self, *, ingest: bool | None = None, ingest_timeout: float = 0.0,
              complete: bool = False) -> None:
        """Write buffered rows; ``complete`` also takes what sources hold back (see Source).

        ``ingest``: None starts an ingestion child when one is due (the writer thread's way);
        True ingests here, waiting up to ``ingest_timeout`` for the lock; False does neither.
        """
        with self._lock:
            for hook in self._before_flush:
                self._guarded("refresh", hook)
            for source in self._sources:
                drain = source.drain_all if complete and source.drain_all else source.drain
                rows = drain()
                if rows:
                    self._pending.setdefault(source.table.name, []).extend(rows)
            self._write_pending()
            if ingest is None:
                self._pace_child_ingestion()
            elif ingest:
                self._guarded("ingest", lambda: self._ingestion.ingest_here(
                    timeout=ingest_timeout))

    def _pace_child_ingestion(self) -> None:
        finished, problem = self._ingestion.collect()
        if finished:
            self._note(self._ingestion.operation, problem)
        self._guarded("start ingestion", self._ingestion.launch_if_due)

    def _write_pending(self) -> None:
        tables = {s.table.name: s.table for s in self._sources}
        first_error: Exception | None = None
        for name in list(self._pending):
            rows = self._pending[name]
            if not rows:
                continue
            try:
                self._segments.write(tables[name], rows)
            except Exception as exc:
                first_error = first_error or exc
                continue
            self.written += len(rows)
            self._pending[name] = []
        # The store "works again" only when a whole flush wrote: one table's folder being
        # writable while another's is not is still the same outage.
        self._note("write", one_line(first_error) if first_error else None)
        self._bound_pending()

    def _bound_pending(self) -> None:
        for name, rows in self._pending.items():
            excess = len(rows) - self._max_pending
            if excess > 0:
                del rows[:excess]  # the oldest go first
                self.dropped[name] = self.dropped.get(name, 0) + excess

    def _guarded(self, operation: str, action: Callable[[], object]) -> bool:
        """Run ``action``; log one warning when it starts failing and one when it recovers."""
        try:
            action()
        except Exception as exc:
            self._note(operation, one_line(exc))
            return False
        self._note(operation, None)
        return True

    def _note(self, operation: str, problem: str | None) -> None:
        """``problem``: one line naming what failed (:func:`one_line`), None when it worked."""
        if problem is not None:
            if operation not in self._failing:  # once per outage, not once per flush
                self._failing[operation] = problem
                if operation == "upload":
                    log.warning("fmd_profiler: cannot upload segments to %s (%s). Requests are "
                                "still served; segments stay in %s and are uploaded when it "
                                "works again.", self._ingestion.target, problem,
                                self._ingestion.location.spool_dir)
                    return
                log.warning("fmd_profiler: cannot %s the store at %s (%s). Requests are still "
                            "served; up to %d rows per table are kept in memory and written "
                            "when the store works again.", _VERBS.get(operation, operation),
                            self._ingestion.target, problem, self._max_pending)
        elif self._failing.pop(operation, None) is not None:
            log.warning("fmd_profiler: the store at %s works again (%s)",
                        self._ingestion.target, _VERBS.get(operation, operation))

    @property
    def pending_rows(self) -> int:
        return sum(len(r) for r in self._pending.values())

    @property
    def failing(self) -> dict[str, str]:
        return dict(self._failing)


_VERBS = {"write": "write segments to", "ingest": "ingest segments into",
          "upload": "upload segments to",
          "start ingestion": "start an ingestion process for", "refresh": "refresh settings from"}
