"""Helpers of the fleet tests: rows written the way workers write them, counts read back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from fmd_profiler.config import FLEET_LOCAL_STORE
from fmd_profiler.fleet.settings import LakeSettings
from fmd_profiler.schema import REQUESTS
from fmd_profiler.store.lake import Lake
from fmd_profiler.store.segments import SegmentWriter, StoreLocation


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
