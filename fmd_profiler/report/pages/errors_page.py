"""The errors page: the exceptions of monitored requests, grouped by fingerprint, newest first.

A group is one exception type raised through the same frames; the page shows how often, when
first and last, in which versions, the newest (redacted) message, every endpoint it hit, and
its traceback (file, line, function and source line of each frame).
"""

from __future__ import annotations

import json
from typing import Any

from fmd_profiler.queries import request_queries as queries
from fmd_profiler.report.model import Page
from fmd_profiler.report.options import ReportOptions
from fmd_profiler.report.pages.paths import ERRORS, endpoint_path


def has_errors_page(con: Any, options: ReportOptions) -> bool:
    found = con.execute("SELECT EXISTS (SELECT 1 FROM exceptions)").fetchone()
    return bool(found and found[0])


def error_groups(con: Any, options: ReportOptions) -> list[dict[str, Any]]:
    """Groups by fingerprint, newest first, each with its endpoints (newest first)."""
    endpoints = list(options.endpoints) if options.endpoints is not None else None
    groups: dict[str, dict[str, Any]] = {}
    for row in queries.exception_groups(con, options.window, endpoints):
        group = groups.get(row["fingerprint"])
        if group is None:
            group = groups[row["fingerprint"]] = {
                "fingerprint": row["fingerprint"], "exception": row["exception"],
                "message": row["message"], "count": 0, "first_seen": row["first_seen"],
                "last_seen": row["last_seen"], "versions": set(), "endpoints": [],
                "frames": json.loads(row["frames"]) if row["frames"] else []}
        group["count"] += row["count"]
        group["first_seen"] = min(group["first_seen"], row["first_seen"])
        group["versions"].update((row["versions"] or "").split(", "))
        group["endpoints"].append({"endpoint": row["endpoint"], "count": row["count"],
                                   "last_seen": row["last_seen"],
                                   "path": endpoint_path(row["endpoint"])})
    for group in groups.values():
        group["versions"] = sorted(v for v in group["versions"] if v)
    return list(groups.values())  # the SQL's order: newest last_seen first


def build_errors(con: Any, options: ReportOptions) -> Page:
    groups = error_groups(con, options)
    context = {"groups": groups, "total": sum(g["count"] for g in groups)}
    return Page(ERRORS, "Errors", "errors.html", context)
