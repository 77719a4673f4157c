"""The overview page: every endpoint (unused ones included) with its figures, and four charts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fmd_profiler.queries import request_queries as core_queries
from fmd_profiler.report import report_queries as queries
from fmd_profiler.report.model import ChartSpec, Page
from fmd_profiler.report.options import ReportOptions
from fmd_profiler.report.pages.paths import endpoint_path
from fmd_profiler.report.palette import endpoint_colors


def endpoint_rows(con: Any, options: ReportOptions) -> list[dict[str, Any]]:
    """The overview table: one row per endpoint, known-but-never-hit endpoints included."""
    return _endpoint_rows(con, options, buckets=False)[0]


def _endpoint_rows(con: Any, options: ReportOptions, *, buckets: bool,
                   colors: dict[str, str] | None = None
                   ) -> tuple[list[dict[str, Any]], dict[str, list[float | None]]]:
    """The overview table and each requested endpoint's box-plot quantiles (one pass over the
    requests computes both). ``buckets``: :data:`queries.BUCKETS` is filled for ``options``,
    and the counts come from it."""
    summary = core_queries.endpoint_summary(con, options.window, boxes=True,
                                            counts=queries.BUCKETS if buckets else None,
                                            now=options.now)
    if options.endpoints is not None:
        wanted = set(options.endpoints)
        summary = [row for row in summary if row["endpoint"] in wanted]
    # Rows per method only where they say more than the endpoint's own row: only endpoints
    # served under several (method, rule) pay for their percentiles.
    several = queries.multi_method_endpoints(con, options, buckets=buckets)
    by_method = core_queries.methods_by_endpoint(con, options.window, several) if several else {}
    if colors is None:
        colors = endpoint_colors(queries.endpoint_names(con), options.colors)
    boxes: dict[str, list[float | None]] = {}
    for row in summary:
        name = row["endpoint"]
        box = row.pop("box")
        if row["hits"]:  # no durations at all: a box of NULLs, as in duration_boxes
            boxes[name] = box if box is not None else [None] * len(queries.BOX_COLUMNS)
        row["error_rate"] = row["errors"] / row["hits"] if row["hits"] else None
        row["unused"] = row["hits"] == 0
        row["color"] = colors[name]
        row["path"] = endpoint_path(name)
        methods = by_method.get(name, [])
        row["by_method"] = methods if len(methods) > 1 else []
    # Busiest first; never-requested endpoints last, so they stand out as a group.
    return sorted(summary, key=lambda r: (-r["hits"], r["endpoint"])), boxes


def count_charts(con: Any, options: ReportOptions, colors: dict[str, str], *,
                 buckets: bool = False, in_zone: bool = False) -> tuple[ChartSpec, ...]:
    """The charts that count requests (per day, per hour, the share per version), in page
    order; none without requests."""
    charts = []
    daily = queries.daily_requests(con, options, buckets=buckets and in_zone)
    if daily.empty:
        return ()
    charts.append(ChartSpec(
        "requests_per_day", daily, "Requests per day",
        alt="Stacked bar chart of requests per day by endpoint", options={"colors": colors},
        caption="The busiest endpoints by name, the rest as 'other'."))
    charts.append(ChartSpec(
        "load_heatmap", queries.hourly_load(con, options, buckets=buckets and in_zone),
        "Load by hour of day", alt="Heatmap of requests per date and hour of day",
        caption=f"Hours in {options.timezone}."))
    share = queries.version_share(con, options, buckets=buckets)
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


def box_chart(boxes: Any, colors: dict[str, str]) -> ChartSpec:
    return ChartSpec(
        "boxes", boxes, "Duration per endpoint", alt="Box plots of duration per endpoint",
        options={"colors": {g: colors.get(g, "#2f6fb0") for g in boxes["grp"]}},
        caption="Boxes: 25th-75th percentile, bar: median, whiskers: 5th-95th percentile.",
        height=0.9 + 0.26 * len(boxes))


def box_frame(endpoints: list[dict[str, Any]], boxes: dict[str, list[float | None]]) -> Any:
    """:func:`queries.duration_boxes` by endpoint, from the overview table's rows: the same
    columns, rows and order (busiest first)."""
    import pandas as pd

    found = sorted(((_group(row["endpoint"]), row["hits"], *boxes[row["endpoint"]])
                    for row in endpoints if row["endpoint"] in boxes),
                   key=lambda r: (-r[1], r[0]))
    frame = pd.DataFrame(found, columns=["grp", "hits", *queries.BOX_COLUMNS])
    return frame.astype({"hits": "int64", **dict.fromkeys(queries.BOX_COLUMNS, "float64")})


def _group(endpoint: str | None) -> str:
    return "(none)" if endpoint is None else endpoint


def build_overview(con: Any, options: ReportOptions,
                   ahead: Callable[[Sequence[ChartSpec]], None] | None = None) -> Page:
    """The overview; ``ahead`` gets each chart as soon as its data is there: the ones that count
    requests are drawn while the percentiles are computed, the box plots while the last
    queries run."""
    # One pass counts the requests per quarter hour (or the lake's stored counts are read); the
    # per-day, per-hour and per-version figures and the totals sum those buckets instead of
    # reading every request again.
    in_zone = queries.make_buckets(con, options)
    colors = endpoint_colors(queries.endpoint_names(con), options.colors)
    counted = count_charts(con, options, colors, buckets=True, in_zone=in_zone)
    if ahead is not None and counted:
        ahead(counted)
    endpoints, boxes = _endpoint_rows(con, options, buckets=True, colors=colors)
    box = box_chart(box_frame(endpoints, boxes), colors) if counted else None
    if ahead is not None and box is not None:
        ahead([box])  # drawn while the page's last queries run
    totals = queries.bucket_totals(con) if options.endpoints is None else None
    context = {
        "endpoints": endpoints,
        "totals": totals,
        "hits": sum(row["hits"] for row in endpoints),
        "unused": sum(1 for row in endpoints if row["unused"]),
        "dropped_rows": core_queries.dropped_rows(con),
        "multi_method": [row for row in endpoints if row["by_method"]],
    }
    charts = (*counted[:2], box, *counted[2:]) if box is not None else ()
    return Page("index.html", "Overview", "overview.html", context, charts=charts)
