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

from fmd_profiler.report import report_queries as queries
from fmd_profiler.report.model import ChartSpec, Page, Section
from fmd_profiler.report.options import ReportOptions
from fmd_profiler.report.pages.errors_page import has_errors_page
from fmd_profiler.report.pages.paths import ERRORS
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
    weekday = queries.weekday_hour(con, options, row["endpoint"])
    charts = [
        ChartSpec("duration_over_time", over_time,
                  f"Duration and requests per {unit}",
                  alt=f"Line chart of median and 95th percentile duration per {unit} above a "
                      f"bar chart of requests per {unit} by status class",
                  caption="Duration: median (solid) and 95th percentile (dashed). Requests: "
                          "stacked by status class.",
                  options={"unit": unit}, height=3.6),
        ChartSpec("weekday_hour_heatmap", weekday,
                  "Requests by weekday and hour", alt="Heatmap of requests per weekday and hour",
                  caption=f"Darker is busier; the darkest tile had {int(weekday['hits'].max()):,} "
                          f"requests. Hours in {options.timezone}.", height=2.6),
    ]
    return Section("timing", "Over time", "section_charts.html", {}, tuple(charts))


#: What the groups section compares: (grouping of queries.duration_boxes, heading, noun).
GROUPS = (("version", "Per version", "version"), ("user", "Per user", "user"),
          ("ip", "Per IP address", "IP address"))
HEAT_LEVELS = 6


def groups_section(con: Any, options: ReportOptions, row: dict[str, Any]) -> Section | None:
    """Duration per version, per user and per IP address: one chart of box plots (a panel per
    grouping, one duration axis), a table per grouping and a user x version table of medians."""
    import pandas as pd

    tables, frames = [], []
    for by, heading, what in GROUPS:
        boxes = queries.duration_boxes(con, options, by, row["endpoint"], top=options.top_n)
        if len(boxes) < 2:
            continue  # one box compares nothing
        tables.append({"heading": heading, "what": what, "rows": _records(boxes)})
        frames.append(boxes.assign(dim=what))
    if not frames:
        return None
    data = pd.concat(frames, ignore_index=True)
    names = " and ".join(", ".join(f"{t['what']}s" for t in tables).rsplit(", ", 1))
    chart = ChartSpec("boxes", data, f"Duration per {names}",
                      alt=f"Box plots of duration per {names}",
                      caption=f"The busiest {options.top_n} of each. Boxes: 25th-75th "
                              "percentile, bar: median, whiskers: 5th-95th percentile.",
                      height=0.9 + 0.28 * len(data) + 0.2 * len(frames))
    matrix = None
    medians = queries.user_version_median(con, options, row["endpoint"], options.top_n)
    if medians["version"].nunique() >= 2:
        matrix = _matrix(medians)
    return Section("groups", "Per version, user and IP address", "section_boxes.html",
                   {"tables": tables, "matrix": matrix}, (chart,))


def _matrix(medians: Any) -> dict[str, Any]:
    """user x version medians as table rows (value, heat level 0-5), versions in the order
    they appeared. The heat levels colour the cells: the table is the heatmap."""
    versions = list(dict.fromkeys(medians["version"]))
    low, high = float(medians["median_ms"].min()), float(medians["median_ms"].max())
    cells: dict[str, dict[str, tuple[float, int]]] = {}
    for record in _records(medians):
        value = record["median_ms"]
        level = (int((value - low) / (high - low) * (HEAT_LEVELS - 1) + 0.5)
                 if high > low else 0)
        cells.setdefault(record["grp"], {})[record["version"]] = (value, level)
    return {"versions": versions, "rows": sorted(cells.items())}


def status_section(con: Any, options: ReportOptions, row: dict[str, Any]) -> Section | None:
    """Requests per status code and the exceptions raised (the status classes over time are
    drawn in the timing section's chart)."""
    statuses = queries.status_totals(con, options, row["endpoint"])
    if not statuses:
        return None
    exceptions = queries.exceptions(con, options, row["endpoint"])
    context = {"statuses": statuses, "exceptions": exceptions,
               # the tracebacks, when the Errors page has them
               "errors_page": ERRORS if exceptions and has_errors_page(con, options) else None}
    return Section("status", "Status codes and errors", "section_status.html", context)


ENDPOINT_SECTIONS: tuple[SectionBuilder, ...] = (
    timing_section,
    profile_section,
    groups_section,
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
