"""The lake's request counts: kept by the committer, retention and maintenance; the overview
reads them only when they add up to the requests, and then shows the figures a pass over every
request shows."""

from __future__ import annotations

import time
from typing import Any

from fmd_profiler.fleet.commit import commit_once
from fmd_profiler.fleet.maintain import maintain_once
from fmd_profiler.fleet.settings import LakeSettings
from fmd_profiler.fleet.upload import upload_spool
from fmd_profiler.report import report_queries
from fmd_profiler.report.options import ReportOptions
from fmd_profiler.report.pages.overview import build_overview
from fmd_profiler.store import request_counts
from fmd_profiler.store.lake import ALIAS, Lake, connect, ensure_lake_schema
from tests.fleet.support import spool_of, write_requests

DAY = 86400.0


def upload_and_commit(settings: LakeSettings, *batches: tuple[int, int, float, str]) -> None:
    """Each (pid, rows, at, endpoint) batch as two segments of that process, then one upload
    and one commit."""
    for pid, rows, at, endpoint in batches:
        write_requests(settings, pid=pid, segments=2, rows=rows, at=at, endpoint=endpoint)
    upload_spool(settings, spool_of(settings), lock_wait_s=5)
    assert commit_once(settings, wait_s=10) is not None


def stored_and_counted(settings: LakeSettings) -> tuple[list[tuple[Any, ...]], bool, int]:
    """(the counts as a pass over the requests gives them, the stored counts merged the same
    way, whether they are complete, the stored rows)."""
    merge = ("SELECT bucket, endpoint, method, rule, version, sum(hits), sum(errors), "
             "min(first_at), max(last_at) FROM ({}) GROUP BY ALL ORDER BY ALL")
    with Lake(settings).read() as con:
        counted = con.execute(merge.format(request_counts.counts_sql("requests"))).fetchall()
        stored = con.execute(merge.format(f"SELECT * FROM {request_counts.VIEW}")).fetchall()
        rows = con.execute(f"SELECT count(*) FROM {request_counts.VIEW}").fetchone()
        assert stored == counted
        return counted, request_counts.complete(con), int(rows[0]) if rows else 0


def overviews(settings: LakeSettings, options: ReportOptions) -> tuple[Any, Any, bool]:
    """The overview from the stored counts and from a pass over every request, in one
    snapshot; and whether the counts were used."""
    with Lake(settings).read() as con:
        used = request_counts.complete(con)
        from_counts = build_overview(con, options)
        versions = report_queries.versions(con, options)
        con.execute(f"DROP VIEW {request_counts.VIEW}")
        assert not request_counts.complete(con)
        from_requests = build_overview(con, options)
        assert report_queries.versions(con, options) == versions
    return from_counts, from_requests, used


def assert_same_pages(a: Any, b: Any) -> None:
    assert a.context == b.context
    assert [c.key for c in a.charts] == [c.key for c in b.charts]  # the keys hash the data


def test_commits_keep_the_counts_and_the_overview_reads_them(lake_settings: LakeSettings) -> None:
    now = time.time()
    upload_and_commit(lake_settings, (1, 30, now - 2 * DAY, "index"), (2, 20, now, "other"))
    upload_and_commit(lake_settings, (3, 25, now - 3600, "index"))

    counted, complete, _ = stored_and_counted(lake_settings)
    assert complete and sum(row[5] for row in counted) == 150

    for options in (ReportOptions(), ReportOptions(timezone="Asia/Kolkata"),
                    ReportOptions(endpoints=("other",))):
        from_counts, from_requests, used = overviews(lake_settings, options)
        assert used
        assert_same_pages(from_counts, from_requests)
    assert from_counts.context["hits"] == 40


def test_retention_and_maintenance_keep_the_counts_whole(lake_settings: LakeSettings) -> None:
    now = time.time()
    # Requests on both sides of the quarter hour the retention cutoff falls in (pid 5): those
    # before it go, the rest of that quarter hour stays with its counts.
    cut = request_counts.bucket_start(now - 5 * DAY)
    upload_and_commit(lake_settings, *((pid, 40, now - days * DAY, "index")
                                       for pid, days in ((1, 9), (2, 6), (3, 1), (4, 0))),
                      (5, 40, cut + 20, "index"))
    upload_and_commit(lake_settings, (6, 40, now, "index"))  # pid 4's buckets again
    _, _, rows_before = stored_and_counted(lake_settings)

    done = maintain_once(lake_settings, retention_days=5, grace_s=0, now=now)

    assert done is not None and done.deleted["requests"] == 80 + 80 + 2 * 19
    counted, complete, rows_after = stored_and_counted(lake_settings)
    assert complete and sum(row[5] for row in counted) == 3 * 80 + 2 * 21
    assert rows_after == len(counted) < rows_before  # merged: one row per bucket and group
    from_counts, from_requests, used = overviews(lake_settings, ReportOptions())
    assert used
    assert_same_pages(from_counts, from_requests)


def test_requests_written_around_the_counts_are_read_from_the_requests(
        lake_settings: LakeSettings) -> None:
    now = time.time()
    upload_and_commit(lake_settings, (1, 10, now, "index"))
    with Lake(lake_settings).transaction() as con:  # not through the committer
        con.execute("INSERT INTO requests (endpoint, rule, method, status, duration_ms, cpu_ms, "
                    "started_at, version, host, pid) VALUES ('index', '/', 'GET', 500, 9.0, "
                    "1.0, now()::TIMESTAMP, 'v1', 'elsewhere', 7)")

    from_counts, from_requests, used = overviews(lake_settings, ReportOptions())

    assert not used
    assert_same_pages(from_counts, from_requests)
    assert from_counts.context["hits"] == 21
    row = from_counts.context["endpoints"][0]
    assert (row["endpoint"], row["errors"]) == ("index", 1)


def test_a_lake_made_before_the_counts_gets_them_from_its_requests(
        lake_settings: LakeSettings) -> None:
    now = time.time()
    upload_and_commit(lake_settings, (1, 10, now, "index"), (2, 5, now - DAY, "index"))
    with connect(lake_settings, read_only=False) as con:  # as an older fmd_profiler left it
        con.execute(f"DROP TABLE {ALIAS}.{request_counts.TABLE}")

    ensure_lake_schema(lake_settings)

    counted, complete, _ = stored_and_counted(lake_settings)
    assert complete and sum(row[5] for row in counted) == 30


def test_a_window_between_quarter_hours_is_counted_from_the_requests(
        lake_settings: LakeSettings) -> None:
    from datetime import UTC, datetime

    from fmd_profiler.queries.request_queries import Window

    now = time.time()
    upload_and_commit(lake_settings, (1, 30, now, "index"))
    since = datetime.fromtimestamp(now - 15.5, UTC).replace(tzinfo=None)
    from_counts, from_requests, _ = overviews(lake_settings,
                                              ReportOptions(window=Window(since=since)))
    assert_same_pages(from_counts, from_requests)
    assert 0 < from_counts.context["hits"] < 60
