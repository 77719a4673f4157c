"""The outliers page: every endpoint's slowest requests in one place, newest first.

An outlier is a request much slower than its endpoint's median at the time (level 3); the page
shows when they happened, which endpoints have most, and the newest ones with their request
line, each linking to its own page with the request data and call stacks.
"""

from __future__ import annotations

from typing import Any

from fmd_profiler.queries import profile_queries
from fmd_profiler.report import report_queries as queries
from fmd_profiler.report.model import ChartSpec, Page
from fmd_profiler.report.options import ReportOptions
from fmd_profiler.report.pages.paths import OUTLIERS, endpoint_path, request_path
from fmd_profiler.report.pages.requests_page import NEWEST_OUTLIERS
from fmd_profiler.report.palette import endpoint_colors

#: The timeline draws at most this many (the newest).
TIMELINE_LIMIT = 2000


def has_outliers_page(con: Any, options: ReportOptions) -> bool:
    return queries.has_outliers(con, options)


def newest_outliers(con: Any, options: ReportOptions) -> list[dict[str, Any]]:
    """The newest outliers in the report's scope (the requests :func:`request_refs` gives
    pages as the newest overall)."""
    if options.endpoints is None:
        return profile_queries.outlier_list(con, options.window, limit=NEWEST_OUTLIERS)
    found = [o for e in options.endpoints
             for o in profile_queries.outlier_list(con, options.window, endpoint=e,
                                                   limit=NEWEST_OUTLIERS)]
    # The order of the SQL: newest first, equal times by request id (two stable sorts).
    found.sort(key=lambda o: o["request_id"])
    found.sort(key=lambda o: o["started_at"], reverse=True)
    return found[:NEWEST_OUTLIERS]


def build_outliers(con: Any, options: ReportOptions) -> Page:
    outliers = newest_outliers(con, options)
    for outlier in outliers:
        outlier["path"] = request_path(outlier["request_id"])
        outlier["endpoint_path"] = endpoint_path(outlier["endpoint"])
        outlier["ratio"] = (outlier["duration_ms"] / outlier["baseline_ms"]
                            if outlier["baseline_ms"] else None)
    counts = queries.outlier_counts(con, options)
    for row in counts:
        row["path"] = endpoint_path(row["endpoint"])
    times = queries.outlier_times(con, options, TIMELINE_LIMIT)
    colors = endpoint_colors(queries.endpoint_names(con), options.colors)
    chart = ChartSpec(
        "outlier_timeline", times, "When outliers happened",
        alt="Dot plot of outliers over time, one row per endpoint",
        caption="One dot per outlier; its size is how many times slower than the endpoint's "
                "median it was." + (f" The newest {TIMELINE_LIMIT:,}."
                                    if len(times) >= TIMELINE_LIMIT else ""),
        options={"colors": colors},
        height=0.9 + 0.3 * times["endpoint"].nunique())
    context = {"outliers": outliers, "counts": counts, "total": sum(r["outliers"] for r in counts),
               "limit": NEWEST_OUTLIERS}
    return Page(OUTLIERS, "Outliers", "outliers.html", context, charts=(chart,))
