"""The machine-readable summary (``--json``): endpoints and functions, as DESIGN §2 fixes it.

Each endpoint object carries ``by_method``: one row per (method, rule) that served requests."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fmd_profiler import profile_queries, queries
from fmd_profiler.queries import Window


def build_summary(con: Any, window: Window | None = None) -> dict[str, Any]:
    window = window or Window()
    endpoints = queries.endpoint_summary(con, window)
    by_method = queries.methods_by_endpoint(con, window)
    for row in endpoints:
        row["last_requested"] = _iso(row["last_requested"])
        row["by_method"] = by_method.get(row["endpoint"], [])
    totals = queries.totals(con, window)
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "window": {"since": _iso(window.since), "until": _iso(window.until)},
        "requests": totals["requests"],
        "dropped_rows": queries.dropped_rows(con),
        "endpoints": endpoints,
        "functions": profile_queries.functions_summary(con, window),
    }


def dump_summary(summary: dict[str, Any]) -> str:
    return json.dumps(summary, indent=2, sort_keys=False) + "\n"


def _iso(value: datetime | None) -> str | None:
    """Stored timestamps are naive UTC; say so in the output."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC).isoformat(timespec="milliseconds")
