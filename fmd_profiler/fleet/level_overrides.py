"""Monitoring levels set from the dashboard, kept in the lake's ``fmd_levels`` table.

A change is one inserted row (endpoint, level, changed_at); the newest row per endpoint wins and
a NULL level removes the override. Rows are only ever added, so two dashboards saving at once
never lose each other's change. The committer publishes :func:`current_levels` to the hosts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

LEVELS_TABLE = "fmd_levels"


def current_levels(con: Any, table: str = LEVELS_TABLE) -> dict[str, int]:
    """The overrides in force: the newest row per endpoint, unless its level is NULL."""
    found = con.execute(
        f"SELECT endpoint, level FROM {table} "
        "QUALIFY row_number() OVER (PARTITION BY endpoint ORDER BY changed_at DESC) = 1 "
        "ORDER BY endpoint").fetchall()
    return {str(endpoint): int(level) for endpoint, level in found if level is not None}


def record_level(con: Any, endpoint: str, level: int | None, *,
                 now: datetime | None = None, table: str = LEVELS_TABLE) -> None:
    """Add the row that sets (or, with None, removes) ``endpoint``'s override."""
    changed_at = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    con.execute(f"INSERT INTO {table} (endpoint, level, changed_at) VALUES ($e, $l, $t)",
                {"e": endpoint, "l": level, "t": changed_at})
