"""One page per endpoint: its figures, then one section per kind of data it has.

Each section builder takes ``(con, options, endpoint_row)`` and returns a
:class:`~fmd_profiler.report.model.Section` or None when it has nothing to show; the page lists
them in :data:`ENDPOINT_SECTIONS` order; the profiler's sections come from
:mod:`~fmd_profiler.report.pages.profile`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fmd_profiler.report import queries
from fmd_profiler.report.model import ChartSpec, Page, Section
from fmd_profiler.report.options import ReportOptions
from fmd_profiler.report.pages.profile import profile_section, slow_requests_section

SectionBuilder = Callable[[Any, ReportOptions, dict[str, Any]], "Section | None"]

#: Spans up to this long are drawn per hour, longer ones per day.
HOURLY_UP_TO = timedelta(days=3)


def _records(frame: Any) -> list[dict[str, Any]]:
    return frame.to_dict("records")  # type: ignore[no-any-return]


def timing_section(con: Any, options: ReportOptions, row: dict[str, Any]) -> Section | None:
    first, last = queries.time_span(con, options, row["endpoint"])
    if first is None:
        return None
    unit = "hour" if last - first <= HOURLY_UP_TO else "day"
    over_time = queries.duration_over_time(con, options, row["endpoint"], unit)
    charts = [
        ChartSpec("duration_over_time", over_time,
                  f"Median (solid) and p95 (dashed) duration per {unit}",
                  alt=f"Line chart of median and 95th percentile duration per {unit}",
                  options={"unit": unit}),
        ChartSpec("weekday_hour_heatmap", queries.weekday_hour(con, options, row["endpoint"]),
                  "Requests by weekday and hour", alt="Heatmap of requests per weekday and hour",
                  caption=f"Hours in {options.timezone}.", height=2.6),
    ]
    return Section("timing", "Over time", "section_charts.html", {}, tuple(charts))


def _box_section(key: str, title: str, by: str, what: str) -> SectionBuilder:
    """A section of box plots and a table of duration per ``by`` (the busiest groups)."""

    def build(con: Any, options: ReportOptions, row: dict[str, Any]) -> Section | None:
        boxes = queries.duration_boxes(con, options, by, row["endpoint"], top=options.top_n)
        if len(boxes) < 2:
            return None  # one box compares nothing
        chart = ChartSpec("boxes", boxes, f"Duration per {what}",
                          alt=f"Box plots of duration per {what}",
                          caption=f"The {len(boxes)} busiest {what}s. Boxes: 25th-75th "
                                  "percentile, bar: median, whiskers: 5th-95th percentile.",
                          height=0.9 + 0.3 * len(boxes))
        charts = [chart]
        matrix = None
        if by == "user":
            medians = queries.user_version_median(con, options, row["endpoint"], options.top_n)
            if medians["version"].nunique() >= 2:
                charts.append(ChartSpec(
                    "median_heatmap", medians[["grp", "version", "median_ms"]],
                    "Median duration per user and version",
                    alt="Heatmap of median duration per user and version",
                    width=min(6.4, 3.5 + 0.8 * medians["version"].nunique()),
                    height=0.9 + 0.3 * medians["grp"].nunique()))
                matrix = _matrix(medians)
        return Section(key, title, "section_boxes.html",
                       {"rows": _records(boxes), "what": what, "matrix": matrix},
                       tuple(charts))

    return build


def _matrix(medians: Any) -> dict[str, Any]:
    """user x version medians as table rows, versions in the order they appeared."""
    versions = list(dict.fromkeys(medians["version"]))
    cells: dict[str, dict[str, float]] = {}
    for record in _records(medians):
        cells.setdefault(record["grp"], {})[record["version"]] = record["median_ms"]
    return {"versions": versions, "rows": sorted(cells.items())}


def status_section(con: Any, options: ReportOptions, row: dict[str, Any]) -> Section | None:
    statuses = queries.status_counts(con, options, row["endpoint"])
    if statuses.empty:
        return None
    totals = (statuses.groupby("status", as_index=False)["hits"].sum()
              .sort_values(["hits", "status"], ascending=[False, True]))
    charts: tuple[ChartSpec, ...] = ()
    if (totals["status"] // 100).nunique() > 1:  # one class per day is just the hit count
        charts = (ChartSpec("status_per_day", statuses, "Status codes per day",
                            alt="Stacked bar chart of requests per day by status class",
                            height=2.6),)
    context = {"statuses": _records(totals),
               "exceptions": queries.exceptions(con, options, row["endpoint"])}
    return Section("status", "Status codes and errors", "section_status.html", context, charts)


ENDPOINT_SECTIONS: tuple[SectionBuilder, ...] = (
    timing_section,
    profile_section,
    _box_section("versions", "Per version", "version", "version"),
    _box_section("users", "Per user", "user", "user"),
    _box_section("ips", "Per IP address", "ip", "IP address"),
    status_section,
    slow_requests_section,
)


def build_endpoint(con: Any, options: ReportOptions, row: dict[str, Any]) -> Page:
    """The page of the endpoint described by ``row`` (a row of the overview table)."""
    sections: tuple[Section, ...] = ()
    if row["hits"]:
        sections = tuple(s for s in (build(con, options, row) for build in ENDPOINT_SECTIONS)
                         if s is not None)
    return Page(row["path"], row["endpoint"], "endpoint.html", {"row": row},
                sections=sections)
