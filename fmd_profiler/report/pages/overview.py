"""The overview page: every endpoint (unused ones included) with its figures, and four charts."""

from __future__ import annotations

from typing import Any

from fmd_profiler.queries import request_queries as core_queries
from fmd_profiler.report import report_queries as queries
from fmd_profiler.report.model import ChartSpec, Page
from fmd_profiler.report.options import ReportOptions
from fmd_profiler.report.pages.paths import endpoint_path
from fmd_profiler.report.palette import endpoint_colors


def endpoint_rows(con: Any, options: ReportOptions) -> list[dict[str, Any]]:
    """The overview table: one row per endpoint, known-but-never-hit endpoints included."""
    summary = core_queries.endpoint_summary(con, options.window)
    if options.endpoints is not None:
        wanted = set(options.endpoints)
        summary = [row for row in summary if row["endpoint"] in wanted]
    recent = queries.recent_hits(con, options)
    by_method = core_queries.methods_by_endpoint(con, options.window)
    colors = endpoint_colors(queries.endpoint_names(con), options.colors)
    for row in summary:
        name = row["endpoint"]
        row["hits_24h"], row["hits_7d"] = recent.get(name, (0, 0))
        row["error_rate"] = row["errors"] / row["hits"] if row["hits"] else None
        row["unused"] = row["hits"] == 0
        row["color"] = colors[name]
        row["path"] = endpoint_path(name)
        # Rows per method only where they say more than the endpoint's own row.
        methods = by_method.get(name, [])
        row["by_method"] = methods if len(methods) > 1 else []
    # Busiest first; never-requested endpoints last, so they stand out as a group.
    return sorted(summary, key=lambda r: (-r["hits"], r["endpoint"]))


def overview_charts(con: Any, options: ReportOptions,
                    colors: dict[str, str]) -> tuple[ChartSpec, ...]:
    charts = []
    daily = queries.daily_requests(con, options)
    if daily.empty:
        return ()
    charts.append(ChartSpec(
        "requests_per_day", daily, "Requests per day",
        alt="Stacked bar chart of requests per day by endpoint", options={"colors": colors},
        caption="The busiest endpoints by name, the rest as 'other'."))
    charts.append(ChartSpec(
        "load_heatmap", queries.hourly_load(con, options), "Load by hour of day",
        alt="Heatmap of requests per date and hour of day",
        caption=f"Hours in {options.timezone}."))
    boxes = queries.duration_boxes(con, options, "endpoint")
    charts.append(ChartSpec(
        "boxes", boxes, "Duration per endpoint", alt="Box plots of duration per endpoint",
        options={"colors": {g: colors.get(g, "#2f6fb0") for g in boxes["grp"]}},
        caption="Boxes: 25th-75th percentile, bar: median, whiskers: 5th-95th percentile.",
        height=0.9 + 0.26 * len(boxes)))
    share = queries.version_share(con, options)
    n_versions = share["version"].nunique()
    if n_versions >= 2:
        n_endpoints = share["endpoint"].nunique()
        charts.append(ChartSpec(
            "share_heatmap", share[["version", "endpoint", "share"]], "Traffic share per version",
            alt="Heatmap of each endpoint's share of a version's requests",
            caption="Each column adds up to 100 %: how the traffic of a version divides over "
                    "endpoints.",
            width=min(6.4, 3.5 + 0.7 * n_versions), height=0.9 + 0.24 * n_endpoints))
    return tuple(charts)


def build_overview(con: Any, options: ReportOptions) -> Page:
    endpoints = endpoint_rows(con, options)
    colors = {row["endpoint"]: row["color"] for row in endpoints}
    totals = core_queries.totals(con, options.window) if options.endpoints is None else None
    context = {
        "endpoints": endpoints,
        "totals": totals,
        "hits": sum(row["hits"] for row in endpoints),
        "unused": sum(1 for row in endpoints if row["unused"]),
        "dropped_rows": core_queries.dropped_rows(con),
        "multi_method": [row for row in endpoints if row["by_method"]],
    }
    return Page("index.html", "Overview", "overview.html", context,
                charts=overview_charts(con, options, colors))
