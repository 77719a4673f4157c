"""Storage: spool segments written by every process, one DuckDB file ingested under a lock.

This package is the only place that imports duckdb for storage (the report layer reads through
the sessions :meth:`Database.read` hands out). A request-serving process only writes segments,
so :class:`Database` and what comes with it (duckdb, numpy) are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fmd_profiler import lazy
from fmd_profiler.store.segments import SegmentWriter, StoreLocation

if TYPE_CHECKING:
    from fmd_profiler.store.database import Database, IngestResult, read_segments

__all__ = ["Database", "IngestResult", "SegmentWriter", "StoreLocation", "read_segments"]

_LAZY = dict.fromkeys(("Database", "IngestResult", "read_segments"), "fmd_profiler.store.database")


def __getattr__(name: str) -> Any:  # keeps duckdb out of processes that only record
    return lazy.attribute(globals(), _LAZY, __name__, name)
