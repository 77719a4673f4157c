"""Storage throughput: rows/s into spool segments, rows/s ingested into DuckDB, bytes per 1M
requests, and the time of the JSON summary's SQL over them; and the CPU a worker's writer thread
spends per row when it flushes a second's rows (caches cold, as once a second they are)."""

from __future__ import annotations

import random
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from fmd_profiler.queries.request_queries import endpoint_summary
from fmd_profiler.schema import REQUESTS
from fmd_profiler.store import Database, SegmentWriter, StoreLocation


def synthetic_batches(rows: int, per_segment: int, endpoints: int = 50,
                      seed: int = 7) -> list[list[tuple[Any, ...]]]:
    """Realistic request rows: 50 endpoints, log-normal durations, 8 users, 2 versions."""
    rng = random.Random(seed)
    start = time.time() - 7 * 86400
    step = 7 * 86400 / rows
    names = [f"endpoint_{i:02d}" for i in range(endpoints)]
    batches = []
    for b in range(rows // per_segment):
        batch = []
        for i in range(per_segment):
            n = b * per_segment + i
            e = rng.randrange(endpoints)
            duration = rng.lognormvariate(1.5 + e / 25, 0.6)
            batch.append((names[e], f"/api/{names[e]}/<int:id>", "GET",
                          500 if rng.random() < 0.01 else 200, duration, duration * 0.7,
                          start + n * step, "1.1" if n > rows // 2 else "1.0",
                          f"user{rng.randrange(8)}", f"10.0.0.{rng.randrange(20)}", None, None))
        batches.append(batch)
    return batches


def measure(work: Path, *, rows: int = 1_000_000, per_segment: int = 10_000) -> dict[str, Any]:
    folder = work / "ingest"
    shutil.rmtree(folder, ignore_errors=True)
    location = StoreLocation(folder / "fmd_profiler.duckdb")
    batches = synthetic_batches(rows, per_segment)
    writer = SegmentWriter(location, host="bench", pid=1)
    t0 = time.perf_counter()
    for batch in batches:
        writer.write(REQUESTS, batch)
    t1 = time.perf_counter()
    writer.close()
    spool_bytes = sum(p.stat().st_size for p in location.table_dir("requests").iterdir())
    result = Database(location).ingest()
    t2 = time.perf_counter()
    assert result is not None and result.rows == rows, result
    db_bytes = location.database.stat().st_size
    with Database(location).read(ingest_first=False) as con:
        t3 = time.perf_counter()
        summary = endpoint_summary(con)
        t4 = time.perf_counter()
    assert sum(r["hits"] for r in summary) == rows
    return {
        "flush_us_per_row": flush_cost_us(work),
        "rows": rows,
        "segments": len(batches),
        "segment_rows_per_s": rows / (t1 - t0),
        "ingest_rows_per_s": rows / (t2 - t1),
        "spool_bytes_per_1m": spool_bytes * 1_000_000 / rows,
        "db_bytes_per_1m": db_bytes * 1_000_000 / rows,
        "summary_s": t4 - t3,
    }


def flush_cost_us(work: Path, *, rows: int = 2_700, flushes: int = 20,
                  pause_s: float = 0.2) -> float:
    """Thread CPU per row of writing one segment of ``rows`` rows, one every ``pause_s``.

    2,700 rows is one second of a gunicorn worker serving the cheapest endpoint flat out on this
    machine kind; the pause lets other work take the caches, as a once-a-second flush finds them.
    """
    folder = work / "flush"
    shutil.rmtree(folder, ignore_errors=True)
    writer = SegmentWriter(StoreLocation(folder / "fmd_profiler.duckdb"), host="bench", pid=1)
    per_row = []
    for batch in synthetic_batches(rows * flushes, rows, seed=11):
        time.sleep(pause_s)
        c0 = time.thread_time()
        writer.write(REQUESTS, batch)
        per_row.append((time.thread_time() - c0) / rows * 1e6)
    writer.close()
    return statistics.median(per_row)
