"""A database file whose creation failed (a full disk) never stops ingestion for good."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from fmd_profiler.errors import StoreError
from fmd_profiler.schema import REQUESTS
from fmd_profiler.store import Database, SegmentWriter, StoreLocation
from tests.recording.test_faults import tiny_filesystem
from tests.store.test_segments import request


def test_an_empty_database_file_is_taken_for_a_new_one(db_path: Path) -> None:
    location = StoreLocation(db_path)
    SegmentWriter(location).write(REQUESTS, [request("a"), request("b")])
    db_path.write_bytes(b"")  # what DuckDB leaves when it cannot write its first page
    with Database(location).read(ingest_first=False) as con:
        assert con.execute("SELECT count(*) FROM requests").fetchone() == (2,)
    result = Database(location).ingest()
    assert result is not None and result.rows == 2
    with Database(location).read() as con:
        assert con.execute("SELECT count(*) FROM requests").fetchone() == (2,)


def test_a_database_created_on_a_full_disk_is_not_left_behind(tmp_path: Path) -> None:
    mount = tmp_path / "small"
    with tiny_filesystem(mount, size="1m") as mounted:
        if not mounted:
            pytest.skip("cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN)")
        location = StoreLocation(mount / "fmd.duckdb")
        SegmentWriter(location).write(REQUESTS, [request("a")])
        filler = mount / "filler"
        with open(filler, "wb") as fh, contextlib.suppress(OSError):
            fh.write(b"\0" * 2 * 2**20)
        with pytest.raises(StoreError, match="No space left"):
            Database(location).ingest()
        assert not location.database.exists()
        filler.unlink()
        result = Database(location).ingest()
        assert result is not None and result.rows == 1
