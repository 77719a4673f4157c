"""What an admin may change from the dashboard: monitoring levels and old data.

A level change is written to the store's ``levels.json`` (atomically, under its lock); every
worker's writer thread polls it each flush, so the change reaches every process within a few
seconds. Pruning deletes rows older than N days (the cut computed in UTC) under the store's
exclusive lock, after ingesting pending segments.
"""

from __future__ import annotations

from typing import Any

from fmd_profiler import store
from fmd_profiler.errors import ProfilerError
from fmd_profiler.store import StoreLocation
from fmd_profiler.store.control import read_level_overrides, update_level_overrides
from fmd_profiler.store.segments import MAX_PRUNE_DAYS

LEVELS = (0, 1, 2, 3)
LEVEL_NAMES = {0: "off", 1: "timing", 2: "timing + call stacks",
               3: "timing + call stacks + outliers"}


def known_routes(con: Any) -> list[dict[str, Any]]:
    """Every endpoint the app declared, with its stored level and any live override."""
    # An endpoint imported from FMD has the rule '' (FMD kept none) until the app lists it.
    cursor = con.execute("SELECT endpoint, string_agg(DISTINCT NULLIF(rule, ''), ', ' "
                         "ORDER BY NULLIF(rule, '')) AS rule, "
                         "max(level) AS level FROM routes GROUP BY endpoint ORDER BY endpoint")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def set_level(location: StoreLocation, endpoint: str, level: int | None) -> dict[str, int]:
    """Override ``endpoint``'s level (None removes the override); returns all overrides."""
    if level is not None and level not in LEVELS:
        raise ProfilerError(f"level {level!r} is not one of 0, 1, 2, 3")
    def change(overrides: dict[str, int]) -> None:
        if level is None:
            overrides.pop(endpoint, None)
        else:
            overrides[endpoint] = level

    # under the file's lock: two admins' edits at once both land
    return update_level_overrides(location.levels_path, change)


def overrides(location: StoreLocation) -> dict[str, int]:
    return read_level_overrides(location.levels_path)


def prune(location: StoreLocation, days: int) -> int:
    """Delete data older than ``days`` days; returns the number of requests deleted."""
    if days < 1:
        raise ProfilerError("keep at least 1 day of data")
    if days > MAX_PRUNE_DAYS:
        raise ProfilerError(f"keep at most {MAX_PRUNE_DAYS} days of data (a century)")
    deleted = store.Database(location).prune(days, timeout=10.0)
    if deleted is None:
        raise ProfilerError("the store stayed locked for 10 s (an ingestion or a report is "
                            "running); try again in a moment")
    return deleted
