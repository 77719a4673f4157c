"""The spool segment format: every column encoding round-trips, damage is named, never guessed."""

from __future__ import annotations

import marshal
from pathlib import Path

import numpy as np
import pytest

from fmd_profiler.queries.request_queries import rows
from fmd_profiler.schema import PROFILE_STACKS, REQUESTS, ROUTES
from fmd_profiler.store import Database, SegmentWriter, StoreLocation
from fmd_profiler.store.segments import MAGIC, SegmentError, decode, encode

STARTED = 1_800_000_000.25


def request(endpoint: str, *, duration: float = 5.0, group: str | None = None,
            status: int = 200, cpu: float | None = 1.0) -> tuple[object, ...]:
    return (endpoint, f"/{endpoint}", "GET", status, duration, cpu, STARTED, "1.0", group,
            "127.0.0.1", None, None)


def test_every_encoding_round_trips() -> None:
    batch = [request("a", group="alice"), request("b", duration=7.5, status=404),
             request("a", group=None, cpu=None)]
    columns, n = decode(encode(REQUESTS, batch, "web-1", 42), REQUESTS)
    assert n == 3
    assert list(columns["endpoint"]) == ["a", "b", "a"]  # a dictionary and codes
    assert list(columns["method"]) == ["GET"] * 3  # one value for the whole column
    assert list(columns["group_by"]) == ["alice", None, None]
    assert columns["duration_ms"].dtype == np.float64  # packed
    assert list(columns["duration_ms"]) == [5.0, 7.5, 5.0]
    assert columns["status"].dtype == np.int64
    assert list(columns["status"]) == [200, 404, 200]
    assert list(columns["cpu_ms"]) == [1.0, 1.0, None]  # a NULL among numbers
    assert list(columns["started_at"]) == [STARTED] * 3
    assert list(columns["exception"]) == [None] * 3
    assert list(columns["host"]) == ["web-1"] * 3 and list(columns["pid"]) == [42] * 3


def test_an_int_beyond_64_bits_keeps_the_rest_of_its_column() -> None:
    columns, _ = decode(encode(REQUESTS, [request("a", status=2**70), request("b")], "h", 1),
                        REQUESTS)
    assert list(columns["status"]) == [2**70, 200]


def test_lists_round_trip_even_when_they_have_the_same_length() -> None:
    # numpy would make a 2-D array out of equally long lists; a column must stay 1-D.
    stacks = [(1, [1, 2, 3], STARTED), (2, [1, 2, 4], STARTED)]
    columns, n = decode(encode(PROFILE_STACKS, stacks, "h", 1), PROFILE_STACKS)
    assert n == 2 and columns["frames"].shape == (2,)
    assert [list(f) for f in columns["frames"]] == [[1, 2, 3], [1, 2, 4]]


def test_a_column_the_segment_lacks_reads_as_null() -> None:
    # A segment written before a column was added to the table.
    payload = {"table": "routes", "host": "h", "pid": 1, "rows": 1,
               "columns": {"endpoint": ("c", "index"), "rule": ("c", "/"),
                           "methods": ("c", "GET"), "seen_at": ("d", b"\0" * 8)}}
    columns, n = decode(MAGIC + marshal.dumps(payload), ROUTES)
    assert n == 1 and list(columns["level"]) == [None]


@pytest.mark.parametrize("data, problem", [
    (b"PAR1 something else", "not an fmd_profiler segment"),
    (MAGIC + b"\x00\x01garbage", "damaged segment"),
    (encode(REQUESTS, [request("a")], "h", 1)[:-9], "damaged segment"),  # cut short
    (encode(ROUTES, [("index", "/", "GET", 1, STARTED)], "h", 1), "not 'requests'"),
])
def test_damage_is_named(data: bytes, problem: str) -> None:
    with pytest.raises(SegmentError, match=problem):
        decode(data, REQUESTS)


def test_codes_that_do_not_match_the_row_count_are_damage() -> None:
    payload = {"table": "requests", "host": "h", "pid": 1, "rows": 5,
               "columns": {"endpoint": ("s", ["a", "b"], b"\0\0\0\0\1\0\0\0")}}
    with pytest.raises(SegmentError, match="2 values for 5 rows"):
        decode(MAGIC + marshal.dumps(payload), REQUESTS)


def test_a_cut_short_segment_is_set_aside_and_the_rest_ingested(db_path: Path) -> None:
    location = StoreLocation(db_path)
    writer = SegmentWriter(location)
    good = writer.write(REQUESTS, [request("a"), request("b")])
    bad = writer.write(REQUESTS, [request("c")])
    bad.write_bytes(bad.read_bytes()[:-5])  # the disk filled up mid-write, say
    result = Database(location).ingest()
    assert result is not None and (result.rows, result.quarantined) == (2, 1)
    assert not good.exists() and (location.quarantine_dir / bad.name).exists()


def test_ingested_rows_have_their_stored_types(db_path: Path) -> None:
    location = StoreLocation(db_path)
    SegmentWriter(location, host="web-1", pid=7).write(
        REQUESTS, [request("a", group="alice"), request("b", cpu=None)])
    Database(location).ingest()
    with Database(location).read() as con:
        found = rows(con, "SELECT endpoint, status, cpu_ms, group_by, typeof(started_at) AS t, "
                          "host, pid FROM requests ORDER BY endpoint")
    assert found == [
        {"endpoint": "a", "status": 200, "cpu_ms": 1.0, "group_by": "alice", "t": "TIMESTAMP",
         "host": "web-1", "pid": 7},
        {"endpoint": "b", "status": 200, "cpu_ms": None, "group_by": None, "t": "TIMESTAMP",
         "host": "web-1", "pid": 7},
    ]


def test_a_backlog_is_ingested_in_steps(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fmd_profiler.store import database

    location = StoreLocation(db_path)
    writer = SegmentWriter(location)
    for i in range(5):
        writer.write(REQUESTS, [request(f"e{i}")] * 100)
    steps: list[int] = []
    insert = database.Database._insert_segments

    def counting(self: database.Database, con: object, table: object,
                 batch: database.SegmentBatch) -> int:
        steps.append(batch.rows)
        return insert(self, con, table, batch)  # type: ignore[arg-type]

    monkeypatch.setattr(database, "INGEST_CHUNK_BYTES", 1)  # every segment is a step
    monkeypatch.setattr(database.Database, "_insert_segments", counting)
    result = Database(location).ingest()
    assert result is not None and (result.segments, result.rows) == (5, 500)
    assert steps == [100] * 5
    with Database(location).read() as con:
        assert rows(con, "SELECT count(DISTINCT endpoint) AS n FROM requests") == [{"n": 5}]


def test_a_value_of_the_wrong_kind_never_blocks_its_table() -> None:
    class Tenant:  # an object of the app's own class, say a get_group_by that returns it
        def __str__(self) -> str:
            return "tenant-7"

    odd = ("a", "/a", "GET", 200, 5.0, object(), STARTED, "1.0", Tenant(), ["10.0.0.1"], None,
           None)
    columns, n = decode(encode(REQUESTS, [odd, request("b")], "h", 1), REQUESTS)
    assert n == 2
    assert list(columns["group_by"]) == ["tenant-7", None]
    assert list(columns["ip"]) == ["['10.0.0.1']", "127.0.0.1"]  # unhashable: its text
    assert list(columns["cpu_ms"]) == [None, 1.0]  # not a number: NULL
    assert list(columns["endpoint"]) == ["a", "b"]


def test_a_payload_of_the_wrong_shape_is_damage() -> None:
    payload = {"table": "requests", "host": "h", "pid": 1, "rows": 1, "columns": ["not a dict"]}
    with pytest.raises(SegmentError, match="damaged segment"):
        decode(MAGIC + marshal.dumps(payload), REQUESTS)
