"""The writer thread's side: count each drained batch of request rows, then write the file.

:meth:`MetricsFeed.wrap` puts itself between the request recorder and the writer, so the rows
are counted on the writer thread, after the request is long gone. A failure here is logged once
and never stops rows from reaching the store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path

from fmd_profiler.errors import one_line
from fmd_profiler.metrics.counters import RequestCounters
from fmd_profiler.metrics.files import ProcessFile, metrics_dir

log = logging.getLogger("fmd_profiler")

Rows = list[tuple[object, ...]]


class MetricsFeed:
    """This process's counters and file; ``own_counters`` reads the profiler's counters."""

    def __init__(self, spool_dir: Path, own_counters: Callable[[], Mapping[str, float]]) -> None:
        self.counters = RequestCounters()
        self.file = ProcessFile(metrics_dir(spool_dir))
        self._own_counters = own_counters
        self._failing = False

    def wrap(self, drain: Callable[[], Rows]) -> Callable[[], Rows]:
        def drain_and_count() -> Rows:
            rows = drain()
            self.update(rows)
            return rows

        return drain_and_count

    def update(self, rows: Rows) -> None:
        try:
            self.counters.observe(rows)
            self.counters.set_counters(self._own_counters())
            if self.counters.changed:
                self.file.write(self.counters.totals)
                self.counters.changed = False
        except Exception as exc:
            if not self._failing:  # once per outage
                self._failing = True
                log.warning("fmd_profiler: cannot write Prometheus metrics to %s (%s); "
                            "requests are still recorded", self.file.path, one_line(exc))
            return
        if self._failing:
            self._failing = False
            log.warning("fmd_profiler: Prometheus metrics are written again to %s",
                        self.file.path)
