"""What an admin may change from the dashboard: monitoring levels and old data.

A level change goes to the dashboard's source: the store's ``levels.json`` (atomically), which
every worker's writer thread polls each flush, or in fleet mode the catalog's ``fmd_levels``,
which the committer publishes to every host. Pruning deletes rows older than N days under the
store's exclusive lock (the lake's maintenance lock).
"""

from __future__ import annotations

from typing import Any

from fmd_profiler.dashboard.source import DashboardSource
from fmd_profiler.errors import ProfilerError

LEVELS = (0, 1, 2, 3)
LEVEL_NAMES = {0: "off", 1: "timing", 2: "timing + call stacks",
               3: "timing + call stacks + outliers"}


def known_routes(con: Any) -> list[dict[str, Any]]:
    """Every endpoint the app declared, with its stored level and any live override."""
    cursor = con.execute("SELECT endpoint, string_agg(DISTINCT rule, ', ' ORDER BY rule) AS rule, "
                         "max(level) AS level FROM routes GROUP BY endpoint ORDER BY endpoint")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def set_level(source: DashboardSource, endpoint: str, level: int | None) -> None:
    """Override ``endpoint``'s level (None removes the override)."""
    if level is not None and level not in LEVELS:
        raise ProfilerError(f"level {level!r} is not one of 0, 1, 2, 3")
    source.set_level(endpoint, level)


def prune(source: DashboardSource, days: int) -> int:
    """Delete data older than ``days`` days; returns the number of requests deleted."""
    if days < 1:
        raise ProfilerError("keep at least 1 day of data")
    return source.prune(days)
