"""Helpers of the fleet tests: config files for a lake, rows written the way workers write them,
rows put into a lake directly, counts read back.

``put_segments_into_lake`` stands where the uploader and committer stand in production: it turns
a spool's segments into Parquet files, registers them with ``ducklake_add_data_files`` (as the
committer does) in one lake transaction, and leaves the segments where they were, so the same
rows can also be ingested into an embedded DuckDB file.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from fmd_profiler.config import FLEET_LOCAL_STORE
from fmd_profiler.fleet.settings import LakeSettings
from fmd_profiler.schema import REQUESTS, SEGMENT_TABLES
from fmd_profiler.store import StoreLocation
from fmd_profiler.store.database import load_segments, select_sql
from fmd_profiler.store.lake import Lake
from fmd_profiler.store.segments import SegmentWriter


def write_config(path: Path, values: dict[str, object]) -> Path:
    """An INI config file with ``values`` under ``[dashboard]``."""
    lines = ["[dashboard]"] + [f"{key} = {value}" for key, value in values.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def copy_spool(location: StoreLocation, target: StoreLocation) -> None:
    shutil.copytree(location.spool_dir, target.spool_dir)


def put_segments_into_lake(location: StoreLocation, settings: LakeSettings,
                           name: str = "batch") -> int:
    """Every pending segment of ``location`` into the lake as Parquet files; returns the rows."""
    lake = Lake(settings)
    rows = 0
    with lake.transaction() as con:
        for table in SEGMENT_TABLES.values():
            files = location.pending_segments(table.name)
            if not files:
                continue
            batch = load_segments(table, files)
            assert not batch.unreadable
            con.register("fmd_batch", batch.columns)
            key = f"{settings.data_path}incoming/{table.name}/{name}.parquet"
            con.execute(f"COPY (SELECT {select_sql(table)} FROM fmd_batch) TO '{key}' "
                        "(FORMAT parquet)")
            con.unregister("fmd_batch")
            con.execute(f"CALL ducklake_add_data_files('lake', '{table.name}', '{key}')")
            rows += batch.rows
    return rows


def spool_of(settings: LakeSettings) -> StoreLocation:
    return StoreLocation(settings.spool_dir / FLEET_LOCAL_STORE)


def write_requests(settings: LakeSettings, *, pid: int, segments: int, rows: int,
                   endpoint: str = "index", at: float | None = None) -> list[Path]:
    """``segments`` request segments of ``rows`` rows each, as process ``pid`` writes them."""
    writer = SegmentWriter(spool_of(settings), host=settings.host_name, pid=pid)
    now = time.time() if at is None else at
    paths = []
    for s in range(segments):
        paths.append(writer.write(REQUESTS, [
            (endpoint, "/", "GET", 200, float(s * rows + i), 0.5, now - i, "v1", None,
             "127.0.0.1", None, None) for i in range(rows)]))
    return paths


def stored_requests(settings: LakeSettings) -> dict[tuple[str, int], int]:
    """Rows per (host, pid) in the lake."""
    with Lake(settings).read() as con:
        return {(h, p): n for h, p, n in con.execute(
            "SELECT host, pid, count(*) FROM requests GROUP BY ALL ORDER BY ALL").fetchall()}


def duplicates(settings: LakeSettings) -> int:
    """Request rows stored more than once (every test row is unique by these columns)."""
    with Lake(settings).read() as con:
        found = con.execute(
            "SELECT count(*) FROM (SELECT host, pid, started_at, duration_ms, endpoint, "
            "count(*) AS n FROM requests GROUP BY ALL HAVING n > 1)").fetchone()
    return int(found[0]) if found else 0


def pending(location: StoreLocation) -> Iterator[Path]:
    yield from location.spool_dir.glob("*/*.seg")
