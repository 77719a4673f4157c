"""The overview's one-pass figures equal the per-request queries, figure for figure.

The overview counts requests per quarter hour once (:func:`queries.make_buckets`) and takes its
per-day, per-hour, per-version and total figures from those counts, its box plots from the
endpoint summary's pass, and method rows only for endpoints served under several (method, rule).
Each is compared here with the query that reads every request, in time zones with whole-hour,
half-hour and quarter-hour offsets, across a DST change, and in a zone whose historical offset
is not a whole number of quarter hours (where the per-request queries must be used).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from fmd_profiler.queries import request_queries as core_queries
from fmd_profiler.queries.request_queries import Window
from fmd_profiler.report import report_queries as queries
from fmd_profiler.report.options import ReportOptions
from fmd_profiler.report.pages.overview import build_overview
from fmd_profiler.report.sources import open_source
from fmd_profiler.schema import REQUESTS
from fmd_profiler.store import SegmentWriter, StoreLocation

# Europe/Amsterdam leaves winter time at 01:00 UTC on this day.
DST_CHANGE_UTC = datetime(2026, 3, 29, 1, 0, tzinfo=UTC).timestamp()
# In 1960 Liberia's offset was -00:44:30: a quarter-hour bucket can span two local hours.
OLD_MONROVIA_UTC = datetime(1960, 6, 1, 12, 0, tzinfo=UTC).timestamp()


def _rows(start: float, count: int, step_s: float) -> list[tuple[object, ...]]:
    rows = []
    for i in range(count):
        endpoint = "a" if i % 3 else ("b" if i % 2 else "c")
        # Endpoint a is served under two methods and two rules; b and c under one each.
        method = "POST" if endpoint == "a" and i % 5 == 0 else "GET"
        rule = "/a/<id>" if endpoint == "a" and i % 7 == 0 else f"/{endpoint}"
        status = 500 if i % 11 == 0 else 200
        version = "1.0" if i < count // 2 else "2.0"
        rows.append((endpoint, rule, method, status, float((i * 37) % 101) + 0.5, 1.0,
                     start + i * step_s, version, f"u{i % 4}", "ip", None, None))
    return rows


@pytest.fixture
def db(tmp_path: Path) -> Path:
    database = tmp_path / "overview.duckdb"
    writer = SegmentWriter(StoreLocation(database), host="h", pid=1)
    # Every 7 minutes for two days around the DST change.
    writer.write(REQUESTS, _rows(DST_CHANGE_UTC - 86_400, 412, 7 * 60.0))
    writer.close()
    return database


@pytest.fixture
def old_db(db: Path) -> Path:
    writer = SegmentWriter(StoreLocation(db), host="h", pid=2)
    writer.write(REQUESTS, _rows(OLD_MONROVIA_UTC, 30, 13 * 60.0))
    writer.close()
    return db


def _per_request(con: object, options: ReportOptions) -> dict[str, object]:
    """The overview's figures as they were computed before buckets: every query reads every
    request."""
    summary = core_queries.endpoint_summary(con, options.window)
    by_method = core_queries.methods_by_endpoint(con, options.window)
    return {
        "requests_per_day": queries.daily_requests(con, options),
        "load_heatmap": queries.hourly_load(con, options),
        "boxes": queries.duration_boxes(con, options, "endpoint"),
        "share_heatmap": queries.version_share(con, options)[["version", "endpoint", "share"]],
        "totals": core_queries.totals(con, options.window),
        "summary": {r["endpoint"]: r for r in summary},
        "by_method": {name: rows for name, rows in by_method.items() if len(rows) > 1},
    }


def _assert_same(page: object, expected: dict[str, object], options: ReportOptions) -> None:
    charts = {chart.kind: chart.data for chart in page.charts}
    assert set(charts) == {"requests_per_day", "load_heatmap", "boxes", "share_heatmap"}
    for kind, data in charts.items():
        pd.testing.assert_frame_equal(data.reset_index(drop=True),
                                      expected[kind].reset_index(drop=True), check_exact=True)
    context = page.context
    if options.endpoints is None:
        assert context["totals"] == expected["totals"]
    for row in context["endpoints"]:
        plain = expected["summary"][row["endpoint"]]
        assert {k: row[k] for k in plain} == plain
        assert row["by_method"] == expected["by_method"].get(row["endpoint"], [])
    assert {r["endpoint"] for r in context["multi_method"]} == {"a"}


@pytest.mark.parametrize("zone", ["UTC", "Europe/Amsterdam", "Asia/Kolkata",
                                  "Asia/Kathmandu", "America/St_Johns"])
def test_bucketed_overview_equals_per_request_figures(db: Path, zone: str) -> None:
    options = ReportOptions(timezone=zone, now=datetime(2026, 3, 29, 12, 0))
    with open_source(str(db)) as con:
        expected = _per_request(con, options)
        page = build_overview(con, options)
        assert queries.make_buckets(con, options)  # the bucket path was the one taken
    _assert_same(page, expected, options)


def test_window_and_endpoint_filter_give_the_same_figures(db: Path) -> None:
    options = ReportOptions(window=Window(since=datetime(2026, 3, 28, 13, 7),
                                          until=datetime(2026, 3, 29, 9, 52)),
                            endpoints=("a", "c"), timezone="Europe/Amsterdam",
                            now=datetime(2026, 3, 29, 12, 0))
    with open_source(str(db)) as con:
        expected = _per_request(con, options)
        page = build_overview(con, options)
    assert page.context["totals"] is None
    assert {row["endpoint"] for row in page.context["endpoints"]} == {"a", "c"}
    _assert_same(page, expected, options)


def test_a_zone_buckets_cannot_stand_for_reads_every_request(old_db: Path) -> None:
    options = ReportOptions(timezone="Africa/Monrovia", now=datetime(2026, 3, 29, 12, 0))
    with open_source(str(old_db)) as con:
        assert not queries.make_buckets(con, options)
        assert queries.make_buckets(con, ReportOptions(timezone="UTC"))
        expected = _per_request(con, options)
        page = build_overview(con, options)
    _assert_same(page, expected, options)
    # The 1960 requests are counted on their local day in the per-day chart.
    days = page.charts[0].data
    assert days[days["day"] < pd.Timestamp("2000-01-01")]["hits"].sum() == 30
