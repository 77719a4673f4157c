"""Hostile spool segments: each one is set aside on its own, ingestion and reading go on."""

from __future__ import annotations

import marshal
from pathlib import Path

import pytest

from fmd_profiler.queries.request_queries import rows
from fmd_profiler.schema import REQUESTS
from fmd_profiler.store import Database, SegmentWriter, StoreLocation
from fmd_profiler.store.segments import MAGIC, SegmentError, decode, encode
from tests.store.test_segments import STARTED, request


def poison(**changes: object) -> bytes:
    payload = {"table": "requests", "host": "h", "pid": 1, "rows": 1,
               "columns": {"endpoint": ("c", "x")}}
    payload.update(changes)
    return MAGIC + marshal.dumps(payload)


POISONS = {
    "infinite rows": poison(rows=float("inf")),
    "NaN rows": poison(rows=float("nan")),
    "huge row count": poison(rows=10**12),
    "negative row count": poison(rows=-1),
    "row count as text": poison(rows="12"),
    "pid beyond 64 bits": poison(pid=2**70),
    "pid beyond the column": poison(pid=2**40),
    "host that is not text": poison(host=["h"]),
    "columns that are not a dict": poison(columns=None),
}


@pytest.mark.parametrize("name", sorted(POISONS))
def test_a_poison_segment_is_a_segment_error(name: str) -> None:
    with pytest.raises(SegmentError):
        decode(POISONS[name], REQUESTS)


def write_spool(location: StoreLocation) -> list[Path]:
    writer = SegmentWriter(location)
    writer.write(REQUESTS, [request("before")])
    bad = []
    for i, data in enumerate(POISONS.values()):
        path = location.table_dir("requests") / f"poison-{i:02d}.seg"
        path.write_bytes(data)
        bad.append(path)
    writer.write(REQUESTS, [request("after"), request("after")])
    return bad


def test_ingestion_sets_each_poison_aside_and_ingests_the_rest(db_path: Path) -> None:
    location = StoreLocation(db_path)
    bad = write_spool(location)
    result = Database(location).ingest()
    assert result is not None
    assert (result.rows, result.quarantined) == (3, len(POISONS))
    assert sorted(p.name for p in location.quarantine_dir.iterdir()) == [p.name for p in bad]
    assert location.pending_segments("requests") == []
    with Database(location).read() as con:
        assert rows(con, "SELECT endpoint, count(*) AS n FROM requests GROUP BY endpoint "
                         "ORDER BY endpoint") == [{"endpoint": "after", "n": 2},
                                                  {"endpoint": "before", "n": 1}]


def test_a_read_session_skips_poison_segments_it_has_not_ingested(db_path: Path) -> None:
    location = StoreLocation(db_path)
    write_spool(location)
    with Database(location).read(ingest_first=False) as con:
        assert rows(con, "SELECT count(*) AS n FROM requests") == [{"n": 3}]


def test_a_read_session_decodes_a_bounded_number_of_pending_segments(
        db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fmd_profiler.store import database

    monkeypatch.setattr(database, "MAX_READ_SEGMENTS", 3)
    location = StoreLocation(db_path)
    writer = SegmentWriter(location)
    for i in range(5):
        writer.write(REQUESTS, [request(f"e{i}")])
    with Database(location).read(ingest_first=False) as con:
        # the newest ones: the older ones wait for the ingestion, which takes them all
        assert rows(con, "SELECT endpoint FROM requests ORDER BY endpoint") == [
            {"endpoint": "e2"}, {"endpoint": "e3"}, {"endpoint": "e4"}]
    Database(location).ingest()
    with Database(location).read(ingest_first=False) as con:
        assert rows(con, "SELECT count(*) AS n FROM requests") == [{"n": 5}]


def test_a_lone_surrogate_costs_nothing_but_itself(db_path: Path) -> None:
    location = StoreLocation(db_path)
    writer = SegmentWriter(location)
    odd = request("a", group="x\ud800y")
    writer.write(REQUESTS, [odd, request("b", group="alice"),
                            (*odd[:9], "\udcff", None, None)])
    result = Database(location).ingest()
    assert result is not None and (result.rows, result.quarantined) == (3, 0)
    with Database(location).read() as con:
        found = rows(con, "SELECT group_by, ip FROM requests ORDER BY endpoint, group_by")
    assert found == [{"group_by": "x\ufffdy", "ip": "127.0.0.1"},
                     {"group_by": "x\ufffdy", "ip": "\ufffd"},
                     {"group_by": "alice", "ip": "127.0.0.1"}]


def test_a_surrogate_in_a_single_valued_column_is_cleaned_too() -> None:
    columns, n = decode(encode(REQUESTS, [request("\ud83d")] * 2, "h", 1), REQUESTS)
    assert list(columns["endpoint"]) == ["\ufffd", "\ufffd"] and n == 2
    assert STARTED in list(columns["started_at"])
