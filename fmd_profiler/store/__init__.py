"""Storage: spool segments written by every process, one DuckDB file ingested under a lock.

This package is the only place that imports duckdb for storage (the report layer reads through
the sessions :meth:`Database.read` hands out). A request-serving process only writes segments,
so :class:`Database` and what comes with it (duckdb, numpy) are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fmd_profiler.store.segments import SegmentWriter, StoreLocation

if TYPE_CHECKING:
    from fmd_profiler.store.database import Database, IngestResult, read_segments

__all__ = ["Database", "IngestResult", "SegmentWriter", "StoreLocation", "read_segments"]

_FROM_DATABASE = ("Database", "IngestResult", "read_segments")


def __getattr__(name: str) -> Any:  # PEP 562: keeps duckdb out of processes that only record
    if name in _FROM_DATABASE:
        from fmd_profiler.store import database

        value = getattr(database, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'fmd_profiler.store' has no attribute {name!r}")
