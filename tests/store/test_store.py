"""The store: segments, idempotent ingestion, read sessions, migrations, retention."""

from __future__ import annotations

import logging
import os
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from fmd_profiler.queries.request_queries import rows
from fmd_profiler.schema import REQUESTS, ROUTES
from fmd_profiler.store import Database, SegmentWriter, StoreLocation, read_segments
from fmd_profiler.store.database import ensure_schema


def request_row(endpoint: str = "index", started: float = 1_800_000_000.0,
                duration: float = 5.0) -> tuple[object, ...]:
    return (endpoint, "/", "GET", 200, duration, 1.0, started, "1.0", None, "127.0.0.1", None,
            None)


@pytest.fixture
def location(db_path: Path) -> StoreLocation:
    return StoreLocation(db_path)


def count(location: StoreLocation, sql: str = "SELECT count(*) AS n FROM requests",
          ingest_first: bool = True) -> int:
    with Database(location).read(ingest_first=ingest_first) as con:
        return int(rows(con, sql)[0]["n"])


def test_segment_round_trip(location: StoreLocation) -> None:
    writer = SegmentWriter(location, host="web-1", pid=4242)
    path = writer.write(REQUESTS, [request_row("a"), request_row("b", duration=7.5)])
    assert path.parent == location.table_dir("requests")
    assert path.name.startswith("web_1-4242-")  # "-" separates the parts
    with read_segments([path]) as con:
        found = rows(con, "SELECT endpoint, duration_ms, started_at, host, pid FROM requests "
                          "ORDER BY endpoint")
    assert found == [
        {"endpoint": "a", "duration_ms": 5.0, "started_at": datetime(2027, 1, 15, 8),
         "host": "web-1", "pid": 4242},
        {"endpoint": "b", "duration_ms": 7.5, "started_at": datetime(2027, 1, 15, 8),
         "host": "web-1", "pid": 4242},
    ]
    writer.close()


def test_ingest_moves_segments_into_the_database(location: StoreLocation) -> None:
    writer = SegmentWriter(location)
    writer.write(REQUESTS, [request_row() for _ in range(10)])
    writer.write(REQUESTS, [request_row() for _ in range(5)])
    result = Database(location).ingest()
    assert result is not None
    assert (result.segments, result.rows) == (2, 15)
    assert location.pending_segments("requests") == []
    assert count(location, ingest_first=False) == 15


def test_a_segment_is_never_ingested_twice(location: StoreLocation, tmp_path: Path) -> None:
    writer = SegmentWriter(location)
    path = writer.write(REQUESTS, [request_row() for _ in range(3)])
    kept = tmp_path / "copy.seg"
    shutil.copy(path, kept)
    Database(location).ingest()
    # A crash between commit and unlink leaves the ingested file behind: it must be skipped.
    shutil.copy(kept, path)
    result = Database(location).ingest()
    assert result is not None and result.rows == 0
    assert not path.exists()
    assert count(location) == 3


def test_an_unreadable_segment_is_set_aside(location: StoreLocation,
                                            caplog: pytest.LogCaptureFixture) -> None:
    writer = SegmentWriter(location)
    writer.write(REQUESTS, [request_row()])
    bad = location.table_dir("requests") / "zz-bad.seg"
    bad.write_bytes(b"not a segment at all")
    with caplog.at_level(logging.WARNING, logger="fmd_profiler"):
        result = Database(location).ingest()
    assert result is not None and (result.rows, result.quarantined) == (1, 1)
    assert (location.quarantine_dir / "zz-bad.seg").exists()
    assert any("unreadable segment" in r.message for r in caplog.records)


def test_readers_see_segments_not_yet_ingested(location: StoreLocation) -> None:
    writer = SegmentWriter(location)
    writer.write(REQUESTS, [request_row()])
    Database(location).ingest()
    writer.write(REQUESTS, [request_row(), request_row()])
    assert count(location, ingest_first=False) == 3
    assert len(location.pending_segments("requests")) == 1


def test_ingest_is_skipped_while_another_process_holds_the_lock(location: StoreLocation) -> None:
    writer = SegmentWriter(location)
    writer.write(REQUESTS, [request_row()])
    database = Database(location)
    with database.lock(exclusive=False):  # a reader (another process would do the same)
        assert database.ingest() is None
    assert database.ingest() is not None


def test_routes_are_upserted_newest_first(location: StoreLocation) -> None:
    writer = SegmentWriter(location)
    writer.write(ROUTES, [("index", "/", "GET", 2, 1_800_000_000.0)])
    writer.write(ROUTES, [("index", "/", "GET,POST", 3, 1_800_000_100.0),
                          ("about", "/about", "GET", 2, 1_800_000_100.0)])
    with Database(location).read(ingest_first=False) as con:  # merged before ingestion too
        before = rows(con, "SELECT endpoint, methods, level FROM routes ORDER BY endpoint")
    Database(location).ingest()
    writer.write(ROUTES, [("index", "/", "GET", 1, 1_799_999_000.0)])  # an older inventory
    Database(location).ingest()
    with Database(location).read() as con:
        after = rows(con, "SELECT endpoint, methods, level FROM routes ORDER BY endpoint")
    expected = [{"endpoint": "about", "methods": "GET", "level": 2},
                {"endpoint": "index", "methods": "GET,POST", "level": 3}]
    assert before == expected
    assert after == expected  # the older inventory, ingested last, does not win


def test_an_older_database_file_gains_new_columns(location: StoreLocation) -> None:
    location.database.parent.mkdir(parents=True)
    con = duckdb.connect(str(location.database))
    con.execute("CREATE TABLE requests (endpoint VARCHAR, duration_ms DOUBLE)")
    con.execute("INSERT INTO requests VALUES ('old', 3.0)")
    con.close()
    # Readers cope with the old file as it is ...
    with Database(location).read(ingest_first=False) as session:
        assert rows(session, "SELECT endpoint, test_id FROM requests") == [
            {"endpoint": "old", "test_id": None}]
    # ... and the next ingestion migrates it.
    SegmentWriter(location).write(REQUESTS, [request_row("new")])
    Database(location).ingest()
    con = duckdb.connect(str(location.database), read_only=True)
    names = [r[0] for r in con.execute("SELECT endpoint FROM requests ORDER BY endpoint")
             .fetchall()]
    con.close()
    assert names == ["new", "old"]


def test_retention_prunes_old_rows(location: StoreLocation) -> None:
    now = datetime.now().timestamp()
    old = now - timedelta(days=40).total_seconds()
    SegmentWriter(location).write(REQUESTS, [request_row("old", started=old),
                                             request_row("new", started=now)])
    Database(location).ingest(retention_days=30)
    with Database(location).read() as con:
        assert [r["endpoint"] for r in rows(con, "SELECT endpoint FROM requests")] == ["new"]


def test_schema_is_created_once_and_is_repeatable(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "x.duckdb"))
    ensure_schema(con)
    ensure_schema(con)
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables")
              .fetchall()}
    con.close()
    assert {"requests", "routes", "process_stats", "meta", "ingested_segments"} <= tables


def test_segment_names_carry_host_and_pid(location: StoreLocation) -> None:
    path = SegmentWriter(location, host="api.example.org", pid=77).write(REQUESTS, [request_row()])
    assert path.name.startswith("api.example.org-77-")
    assert os.path.getsize(path) > 0
