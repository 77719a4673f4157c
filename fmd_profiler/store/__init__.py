"""Storage: spool segments written by every process, one DuckDB file ingested under a lock.

This package is the only place that imports duckdb for storage (the report layer reads through
the sessions :meth:`Database.read` hands out).
"""

from fmd_profiler.store.database import Database, IngestResult, read_segments
from fmd_profiler.store.segments import SegmentWriter, StoreLocation

__all__ = ["Database", "IngestResult", "SegmentWriter", "StoreLocation", "read_segments"]
