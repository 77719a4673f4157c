"""Columns that are NULL in every row (no exception on a healthy server) are read and ingested
at any size, on the DuckDB fleet mode pins as on the newest one."""

from __future__ import annotations

from pathlib import Path

from fmd_profiler.queries.request_queries import rows
from fmd_profiler.schema import REQUESTS
from fmd_profiler.store import Database, SegmentWriter, StoreLocation

ROWS = 5000  # above the 1000 values DuckDB samples to type a column


def test_thousands_of_rows_with_null_only_columns_are_read_and_ingested(db_path: Path) -> None:
    location = StoreLocation(db_path)
    writer = SegmentWriter(location, host="web-1", pid=7)
    writer.write(REQUESTS, [("index", "/", "GET", 200, 1.0 + i % 7, 0.5, 1_800_000_000.0 + i,
                             "1.0", None, None, None, None) for i in range(ROWS)])
    writer.close()
    sql = "SELECT count(*) AS n, count(exception) AS e, sum(duration_ms) AS d FROM requests"
    with Database(location).read(ingest_first=False) as con:  # pending segments, read directly
        pending = rows(con, sql)
    result = Database(location).ingest(timeout=10.0)
    assert result is not None and (result.rows, result.quarantined) == (ROWS, 0)
    with Database(location).read() as con:
        stored = rows(con, sql)
    assert pending == stored == [{"n": ROWS, "e": 0, "d": sum(1.0 + i % 7 for i in range(ROWS))}]
