"""Report queries on a real store: windows, endpoint filters and the report's time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from fmd_profiler.queries import request_queries as core_queries
from fmd_profiler.queries.request_queries import Window
from fmd_profiler.report import report_queries as queries
from fmd_profiler.report.options import ReportOptions
from fmd_profiler.report.sources import open_source
from fmd_profiler.schema import REQUESTS
from fmd_profiler.store import SegmentWriter, StoreLocation

# 2026-03-02 is a Monday; 23:30 UTC is Tuesday 05:00 in Kolkata (UTC+05:30).
LATE_MONDAY_UTC = datetime(2026, 3, 2, 23, 30, tzinfo=UTC).timestamp()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    database = tmp_path / "q.duckdb"
    rows = [("a", "/a", "GET", 200, float(ms), 1.0, LATE_MONDAY_UTC + i * 60, "1", "u", "ip",
             None, None) for i, ms in enumerate([1, 2, 3, 4, 100])]
    rows += [("b", "/b", "GET", 500, 7.0, 1.0, LATE_MONDAY_UTC - 86_400 * 3, "1", None, "ip",
              "E", None)]
    writer = SegmentWriter(StoreLocation(database), host="h", pid=1)
    writer.write(REQUESTS, rows)
    writer.close()
    return database


def test_hours_and_weekdays_follow_the_report_time_zone(db: Path) -> None:
    with open_source(str(db)) as con:
        utc = queries.weekday_hour(con, ReportOptions(), "a")
        kolkata = queries.weekday_hour(con, ReportOptions(timezone="Asia/Kolkata"), "a")
    assert utc[["weekday", "hour", "hits"]].values.tolist() == [[1, 23, 5]]
    assert kolkata[["weekday", "hour", "hits"]].values.tolist() == [[2, 5, 5]]


def test_box_quantiles_are_sql_percentiles(db: Path) -> None:
    with open_source(str(db)) as con:
        boxes = queries.duration_boxes(con, ReportOptions(), "endpoint")
    a = boxes[boxes["grp"] == "a"].iloc[0]
    # quantile_cont over [1, 2, 3, 4, 100]: linear interpolation between order statistics.
    assert (a["p25"], a["p50"], a["p75"]) == (2.0, 3.0, 4.0)
    assert a["p95"] == pytest.approx(4 + 0.8 * 96)
    assert boxes["grp"].tolist() == ["a", "b"]  # busiest first


def test_window_and_endpoint_filter(db: Path) -> None:
    since = datetime(2026, 3, 1)
    with open_source(str(db)) as con:
        daily = queries.daily_requests(con, ReportOptions(window=Window(since=since)))
        only_b = queries.daily_requests(con, ReportOptions(endpoints=("b",)))
        summary = core_queries.endpoint_summary(con, now=datetime(2026, 3, 3, 0, 0))
    recent = {row["endpoint"]: (row["hits_24h"], row["hits_7d"]) for row in summary}
    assert set(daily["endpoint"]) == {"a"} and daily["hits"].sum() == 5
    assert set(only_b["endpoint"]) == {"b"}
    assert {k: v for k, v in recent.items() if v != (0, 0)} == {"a": (5, 5), "b": (0, 1)}


def test_duration_over_time_rejects_unknown_units(db: Path) -> None:
    with open_source(str(db)) as con, pytest.raises(ValueError, match="unit"):
        queries.duration_over_time(con, ReportOptions(), "a", "minute; DROP TABLE")
