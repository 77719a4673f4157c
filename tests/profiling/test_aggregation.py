"""Aggregation and scaling: engine rows from scripted samples, written to a real store, read back.

Samples are summed per (endpoint, version, stack, minute); a minute is written once it is over (or
on a complete flush); function times are scaled so an endpoint's self times add up to the mean
duration of its profiled requests.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fmd_profiler.config import load_config
from fmd_profiler.profiling.aggregate import BucketTotals, bucket_of
from fmd_profiler.profiling.engine import ProfilingEngine
from fmd_profiler.profiling.sampler import Slot
from fmd_profiler.queries import profile_queries
from fmd_profiler.schema import PROFILE_TABLES
from fmd_profiler.store import Database, SegmentWriter, StoreLocation
from tests.fakes import Code, FakeClock, frames
from tests.helpers import read_store

ENTRY = Code("profiled_wsgi_app", "/fmd_profiler/hooks.py", 90)
VIEW = Code("split", "/app/views.py", 95)
SIXTY = Code("split_sixty", "/app/views.py", 50)
THIRTY = Code("split_thirty", "/app/views.py", 54)
TEN = Code("split_ten", "/app/views.py", 58)
SPIN = Code("spin", "/app/views.py", 40)


def stack(engine: ProfilingEngine, *codes: Code) -> int:
    leaf = frames((ENTRY, "fmd_profiler.recording.hooks"), *((c, "app.views") for c in codes))
    return engine.stacks.stack_of(leaf)


def store(engine: ProfilingEngine, database: Path) -> None:
    """Write what the engine hands over, as the writer would, and ingest it."""
    location = StoreLocation(database)
    writer = SegmentWriter(location, host="test", pid=1)
    for table in PROFILE_TABLES:
        rows = engine._take(table.name, True)
        if rows:
            writer.write(table, rows)
    writer.close()
    Database(location).ingest(timeout=5)


@pytest.fixture
def engine(tmp_path: Path, clock: FakeClock) -> ProfilingEngine:
    config = load_config(None, environ={}, DATABASE=str(tmp_path / "p.duckdb"),
                         MONITOR_LEVEL=3, OUTLIER_DETECTION_CONSTANT=3)
    return ProfilingEngine(config, clock, [ENTRY])


def finished(endpoint: str, wall: float, duration_s: float, level: int = 2) -> Slot:
    slot = Slot(endpoint, "1.0", level, thread_id=1, wall0=wall)
    slot.duration = duration_s
    return slot


def test_bucket_totals_hand_out_a_minute_once_it_is_over() -> None:
    totals = BucketTotals(2)
    totals.add(120.0, "a", 1.0, 1)
    totals.add(150.0, "a", 2.0, 1)
    totals.add(185.0, "a", 4.0, 1)
    assert totals.take(179.0) == []  # minute 120-180 still running
    assert totals.take(181.0) == [(120.0, "a", [3.0, 2])]
    assert totals.take(181.0, everything=True) == [(180.0, "a", [4.0, 1])]
    assert bucket_of(179.9) == 120.0


def test_samples_sum_per_endpoint_stack_and_minute(engine: ProfilingEngine,
                                                   clock: FakeClock) -> None:
    slot = Slot("split", "1.0", 2, thread_id=1, wall0=clock.wall())
    sixty = stack(engine, VIEW, SIXTY, SPIN)
    for weight in (0.010, 0.012, 0.008):
        engine._on_sample(slot, sixty, weight, clock.wall())
    engine._on_sample(slot, stack(engine, VIEW, TEN, SPIN), 0.004, clock.wall())
    engine.finished.append(finished("split", clock.wall(), 0.05))
    engine.collect()  # the minute is not over: nothing yet
    assert engine._pending["profile_samples"] == []
    clock.advance(60)
    engine.collect()
    rows = sorted(engine._pending["profile_samples"], key=lambda r: -r[4])
    bucket = bucket_of(clock.start)
    assert [(r[0], r[1], r[2], r[4], r[5]) for r in rows] == [
        ("split", "1.0", bucket, pytest.approx(30.0), 3),
        ("split", "1.0", bucket, pytest.approx(4.0), 1)]
    assert engine._pending["profile_requests"] == [("split", "1.0", bucket, 1,
                                                    pytest.approx(50.0), 0)]


def test_function_times_are_scaled_to_the_mean_request_duration(
        engine: ProfilingEngine, clock: FakeClock, tmp_path: Path) -> None:
    slot = Slot("split", "1.0", 2, thread_id=1, wall0=clock.wall())
    # 100 ms of samples: 60 in split_sixty, 30 in split_thirty, 10 in split_ten, all in spin.
    for codes, weight in (((VIEW, SIXTY, SPIN), 0.060), ((VIEW, THIRTY, SPIN), 0.030),
                          ((VIEW, TEN, SPIN), 0.010)):
        engine._on_sample(slot, stack(engine, *codes), weight, clock.wall())
    for _ in range(10):  # ten requests of 12 ms: the samples missed 20 ms
        engine.finished.append(finished("split", clock.wall(), 0.012))
    database = tmp_path / "p.duckdb"
    store(engine, database)
    with read_store(database) as con:
        table = {r["function"]: r for r in profile_queries.function_table(con, "split")}
        summary = profile_queries.functions_summary(con)
        flame = profile_queries.flame_graph(con, "split")
    assert table["app.views:split_sixty"]["total_ms"] == pytest.approx(7.2)
    assert table["app.views:split_thirty"]["total_ms"] == pytest.approx(3.6)
    assert table["app.views:split_ten"]["total_ms"] == pytest.approx(1.2)
    assert table["app.views:spin"]["self_ms"] == pytest.approx(12.0)
    assert table["app.views:split"]["total_ms"] == pytest.approx(12.0)
    assert table["app.views:split_sixty"]["total_share"] == pytest.approx(0.6)
    assert sum(r["self_ms"] for r in table.values()) == pytest.approx(12.0)
    assert table["app.views:spin"]["file"] == "/app/views.py"
    assert table["app.views:spin"]["calls"] is None  # no exact mode here
    assert {r["function"] for r in summary} == set(table)
    assert [(r["function"], r["depth"], r["start"], r["width"]) for r in flame] == [
        ("flask:<dispatch>", 0, 0.0, 1.0),
        ("app.views:split", 1, 0.0, 1.0),
        ("app.views:split_sixty", 2, 0.0, 0.6),
        ("app.views:spin", 3, 0.0, 0.6),
        ("app.views:split_ten", 2, 0.6, 0.1),
        ("app.views:spin", 3, 0.6, 0.1),
        ("app.views:split_thirty", 2, 0.7, 0.3),
        ("app.views:spin", 3, 0.7, 0.3)]
    assert flame[2]["ms"] == pytest.approx(7.2)


def test_versions_are_compared_function_by_function(
        engine: ProfilingEngine, clock: FakeClock, tmp_path: Path) -> None:
    for version, sixty_ms in (("1.0", 0.006), ("1.1", 0.016)):
        slot = Slot("split", version, 2, thread_id=1, wall0=clock.wall())
        engine._on_sample(slot, stack(engine, VIEW, SIXTY), sixty_ms, clock.wall())
        engine._on_sample(slot, stack(engine, VIEW, TEN), 0.004, clock.wall())
        done = finished("split", clock.wall(), sixty_ms + 0.004)
        done.version = version
        engine.finished.append(done)
    database = tmp_path / "p.duckdb"
    store(engine, database)
    with read_store(database) as con:
        changes = profile_queries.function_changes(con, "split", "1.0", "1.1")
    top = changes[0]
    assert top["function"] in {"app.views:split", "flask:<dispatch>"}  # both carry the 10 ms
    sixty = next(r for r in changes if r["function"] == "app.views:split_sixty")
    assert sixty["before_total_ms"] == pytest.approx(6.0)
    assert sixty["after_total_ms"] == pytest.approx(16.0)
    assert sixty["ratio"] == pytest.approx(16 / 6, rel=1e-3)
    ten = next(r for r in changes if r["function"] == "app.views:split_ten")
    assert ten["delta_total_ms"] == pytest.approx(0.0)
