"""SQL for the report pages: every figure and every chart's data is computed here, in DuckDB.

Functions take a read session (see :func:`fmd_profiler.report.sources.open_source`) and the
:class:`~fmd_profiler.report.options.ReportOptions`, and return DataFrames or plain rows with an
explicit ``ORDER BY``. Percentiles and box-plot quantiles are ``quantile_cont`` in SQL, so a chart
of a million requests fetches a handful of rows. Days and hours are in the report's time zone.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fmd_profiler.queries import request_queries as core_queries
from fmd_profiler.queries.profile_queries import STARTED_IN
from fmd_profiler.queries.request_queries import WINDOWED_REQUESTS, rows
from fmd_profiler.report.options import ReportOptions
from fmd_profiler.store import request_counts

#: The requests a report covers, with ``local_at``: started_at in the report's time zone.
SCOPED = f"""
    SELECT *, timezone($tz, timezone('UTC', started_at)) AS local_at
    FROM ({WINDOWED_REQUESTS})
    WHERE ($endpoints::VARCHAR[] IS NULL OR list_contains($endpoints::VARCHAR[], endpoint))
"""

EPOCH = datetime(1970, 1, 1)

#: Box plots: whiskers at the 5th/95th percentile (Tukey's 1.5 IQR needs every row).
BOX_QUANTILES = str(list(core_queries.BOX_QUANTILES))
BOX_COLUMNS = ("p05", "p25", "p50", "p75", "p95")

#: Columns a box plot or a top-N table may be grouped by (never user input in SQL).
GROUPINGS = {"endpoint": "endpoint", "version": "version", "user": "group_by", "ip": "ip"}


def _df(con: Any, sql: str, options: ReportOptions, **extra: Any) -> Any:
    return con.execute(sql, {**options.params(), **extra}).df()


def _endpoint_filter(endpoint: str | None) -> str:
    return "TRUE" if endpoint is None else "endpoint = $endpoint"


def _params(endpoint: str | None) -> dict[str, Any]:
    return {} if endpoint is None else {"endpoint": endpoint}


# -- overview -----------------------------------------------------------------------------------

#: The overview's requests counted per 15-minute bucket (UTC) and endpoint, method, rule and
#: version, a temporary table of the session, so the per-day, per-hour and per-version figures
#: sum a few thousand rows, not every request. ``local_at`` is the bucket's start in the report's
#: time zone; ``started_at`` and ``last_at`` are the first and last request in it.
BUCKETS = "fmd_overview_buckets"
BUCKET_US = 15 * 60 * 1_000_000

#: The buckets from the counts a lake keeps (:mod:`fmd_profiler.store.request_counts`), for the
#: report's window and endpoints (what :data:`SCOPED` selects of the requests).
_STORED_COUNTS = request_counts.merged_sql(request_counts.VIEW, """
    ($since::TIMESTAMP IS NULL OR bucket >= $since::TIMESTAMP)
    AND ($until::TIMESTAMP IS NULL OR bucket < $until::TIMESTAMP)
    AND ($endpoints::VARCHAR[] IS NULL OR list_contains($endpoints::VARCHAR[], endpoint))""")


def _counted(con: Any, options: ReportOptions) -> tuple[str, dict[str, Any]]:
    """The requests in scope counted per bucket (:data:`request_counts.COLUMNS`): the stored
    counts when :func:`stored_counts_usable`, else one pass over the requests; and the
    parameters that SQL takes."""
    if stored_counts_usable(con, options):
        return _STORED_COUNTS, _stored_params(options)
    return request_counts.counts_sql(f"({SCOPED}) r"), options.params()


def _stored_params(options: ReportOptions) -> dict[str, Any]:
    """:meth:`ReportOptions.params` but the time zone: the stored counts' SQL has none."""
    params = options.params()
    del params["tz"]
    return params


def make_buckets(con: Any, options: ReportOptions) -> bool:
    """Fill :data:`BUCKETS` for ``options``; False when the time zone does not allow it.

    A bucket stands for its requests only when all of them fall in the same local hour: the
    zone's offset stays the same over the bucket and is a whole number of quarter hours (every
    zone's is since the 1970s; a bucket that spans a DST change or an odd historical offset
    fails this). Then the per-day and per-hour figures equal the per-request ones exactly;
    else the caller takes those from every request (``buckets=False``). The table is filled
    either way: counts per version and per (method, rule) do not depend on the time zone.
    The buckets come from the stored counts when they hold every request and the window
    starts and ends on quarter hours, else from one pass over the requests.
    """
    counted, params = _counted(con, options)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {BUCKETS} AS
        WITH raw AS ({counted}),
        zone AS (
            SELECT bucket, timezone($tz, timezone('UTC', bucket)) AS local_at,
                   timezone($tz, timezone('UTC', bucket + INTERVAL 15 MINUTE
                                                 - INTERVAL 1 MICROSECOND)) AS local_end
            FROM (SELECT DISTINCT bucket FROM raw))
        SELECT raw.* RENAME (first_at AS started_at), zone.local_at,
               epoch_us(local_end) - epoch_us(local_at) = {BUCKET_US - 1}
               AND date_trunc('hour', local_end) = date_trunc('hour', local_at) AS exact
        FROM raw JOIN zone USING (bucket)""", {**params, "tz": options.timezone})
    found = con.execute(f"SELECT coalesce(bool_and(exact), TRUE) FROM {BUCKETS}").fetchone()
    return bool(found and found[0])


def stored_counts_usable(con: Any, options: ReportOptions) -> bool:
    """The session's stored request counts hold every request and ``options``' window starts
    and ends on quarter hours: then sums over them equal counts over the requests."""
    return (all(t is None or _on_quarter_hour(t) for t in (options.window.since,
                                                           options.window.until))
            and request_counts.complete(con))


def _on_quarter_hour(moment: datetime) -> bool:
    return (moment - EPOCH) % timedelta(seconds=request_counts.BUCKET_S) == timedelta(0)


def _bucket_df(con: Any, sql: str, options: ReportOptions, buckets: bool, **extra: Any) -> Any:
    """:func:`_df`; over :data:`BUCKETS` the query takes no report parameters."""
    return con.execute(sql, extra).df() if buckets else _df(con, sql, options, **extra)


def _source(buckets: bool) -> tuple[str, str]:
    """(FROM clause, request count) over every request, or over :data:`BUCKETS`."""
    return (BUCKETS, "sum(hits)::BIGINT") if buckets else (f"({SCOPED})", "count(*)")


def bucket_totals(con: Any) -> dict[str, Any]:
    """:func:`fmd_profiler.queries.request_queries.totals` from :data:`BUCKETS` (equal when no
    endpoint filter applies)."""
    return rows(con, f"""
        SELECT coalesce(sum(hits), 0)::BIGINT AS requests, min(started_at) AS first_request,
               max(last_at) AS last_request, count(DISTINCT version) AS versions
        FROM {BUCKETS}""")[0]


def multi_method_endpoints(con: Any, options: ReportOptions, *,
                           buckets: bool = False) -> list[str]:
    """Endpoints served under more than one (method, rule) in the report's window (from
    :data:`BUCKETS` when ``buckets``)."""
    source = BUCKETS if buckets else f"({WINDOWED_REQUESTS})"
    found = con.execute(f"""
        SELECT endpoint FROM (SELECT DISTINCT endpoint, method, rule FROM {source} r)
        GROUP BY endpoint HAVING count(*) > 1 ORDER BY endpoint""",
        {} if buckets else options.window.params()).fetchall()
    return [row[0] for row in found]


def daily_requests(con: Any, options: ReportOptions, *, buckets: bool = False) -> Any:
    """Requests per local day and endpoint (``buckets``: from :data:`BUCKETS`)."""
    source, hits = _source(buckets)
    return _bucket_df(con, f"""
        SELECT CAST(local_at AS DATE) AS day, endpoint, {hits} AS hits
        FROM {source} r GROUP BY ALL ORDER BY day, endpoint""", options, buckets)


def hourly_load(con: Any, options: ReportOptions, endpoint: str | None = None, *,
                buckets: bool = False) -> Any:
    """Requests per local date and hour of day (``buckets``: from :data:`BUCKETS`)."""
    source, hits = _source(buckets)
    return _bucket_df(con, f"""
        SELECT CAST(local_at AS DATE) AS day, hour(local_at) AS hour, {hits} AS hits
        FROM {source} r WHERE {_endpoint_filter(endpoint)}
        GROUP BY ALL ORDER BY day, hour""", options, buckets, **_params(endpoint))


def duration_boxes(con: Any, options: ReportOptions, by: str, endpoint: str | None = None,
                   top: int | None = None) -> Any:
    """Box-plot quantiles of duration per group, the busiest ``top`` groups, busiest first."""
    column = GROUPINGS[by]
    limit = f"LIMIT {int(top)}" if top else ""
    return _df(con, f"""
        SELECT grp, hits, q[1] AS p05, q[2] AS p25, q[3] AS p50, q[4] AS p75, q[5] AS p95
        FROM (SELECT coalesce(CAST({column} AS VARCHAR), '(none)') AS grp, count(*) AS hits,
                     quantile_cont(duration_ms, {BOX_QUANTILES}) AS q
              FROM ({SCOPED}) r WHERE {_endpoint_filter(endpoint)} GROUP BY ALL)
        ORDER BY hits DESC, grp {limit}""", options, **_params(endpoint))


def version_share(con: Any, options: ReportOptions, *, buckets: bool = False) -> Any:
    """Per version, each endpoint's share of that version's requests (0-1) (``buckets``: from
    :data:`BUCKETS`)."""
    source, hits = _source(buckets)
    return _bucket_df(con, f"""
        SELECT version, endpoint, {hits} AS hits,
               {hits} / sum({hits}) OVER (PARTITION BY version) AS share,
               min(min(started_at)) OVER (PARTITION BY version) AS first_seen
        FROM {source} r GROUP BY version, endpoint
        ORDER BY first_seen, version, endpoint""", options, buckets)


def versions(con: Any, options: ReportOptions) -> list[dict[str, Any]]:
    """Every version with its request count and first/last request, oldest first (from the
    stored counts when they stand for the requests)."""
    if stored_counts_usable(con, options):
        return rows(con, f"""
            SELECT version, sum(hits)::BIGINT AS hits, min(first_at) AS first_seen,
                   max(last_at) AS last_seen
            FROM ({_STORED_COUNTS}) r GROUP BY version ORDER BY first_seen, version""",
                    _stored_params(options))
    return rows(con, f"""
        SELECT version, count(*) AS hits, min(started_at) AS first_seen,
               max(started_at) AS last_seen
        FROM ({SCOPED}) r GROUP BY version ORDER BY first_seen, version""", options.params())


# -- one endpoint -------------------------------------------------------------------------------

def time_span(con: Any, options: ReportOptions, endpoint: str) -> tuple[Any, Any]:
    """The first and last request of ``endpoint`` in the report's scope."""
    found = con.execute(f"SELECT min(started_at), max(started_at) FROM ({SCOPED}) r "
                        "WHERE endpoint = $endpoint",
                        {**options.params(), "endpoint": endpoint}).fetchone()
    return (found[0], found[1]) if found else (None, None)


def duration_over_time(con: Any, options: ReportOptions, endpoint: str, unit: str) -> Any:
    """p50 and p95 of duration per ``unit`` ('hour' or 'day') bucket of local time, and the
    requests of each status class (columns 2xx, 3xx, 4xx, 5xx, other)."""
    if unit not in {"hour", "day"}:
        raise ValueError(f"unit must be 'hour' or 'day', not {unit!r}")
    return _df(con, f"""
        SELECT date_trunc('{unit}', local_at) AS bucket, count(*) AS hits,
               quantile_cont(duration_ms, 0.5) AS p50, quantile_cont(duration_ms, 0.95) AS p95,
               count(*) FILTER (WHERE status BETWEEN 200 AND 299) AS "2xx",
               count(*) FILTER (WHERE status BETWEEN 300 AND 399) AS "3xx",
               count(*) FILTER (WHERE status BETWEEN 400 AND 499) AS "4xx",
               count(*) FILTER (WHERE status BETWEEN 500 AND 599) AS "5xx",
               count(*) FILTER (WHERE status IS NULL OR status < 200 OR status > 599) AS other
        FROM ({SCOPED}) r WHERE endpoint = $endpoint
        GROUP BY ALL ORDER BY bucket""", options, endpoint=endpoint)


def weekday_hour(con: Any, options: ReportOptions, endpoint: str) -> Any:
    """Requests and median duration per ISO weekday (1 = Monday) and local hour."""
    return _df(con, f"""
        SELECT isodow(local_at) AS weekday, hour(local_at) AS hour, count(*) AS hits,
               quantile_cont(duration_ms, 0.5) AS median_ms
        FROM ({SCOPED}) r WHERE endpoint = $endpoint
        GROUP BY ALL ORDER BY weekday, hour""", options, endpoint=endpoint)


def user_version_median(con: Any, options: ReportOptions, endpoint: str, top: int) -> Any:
    """Median duration per (user, version) for the ``top`` busiest users of ``endpoint``."""
    return _df(con, f"""
        WITH r AS (SELECT * FROM ({SCOPED}) s WHERE endpoint = $endpoint
                   AND group_by IS NOT NULL),
        users AS (SELECT group_by, count(*) AS n FROM r GROUP BY group_by
                  ORDER BY n DESC, group_by LIMIT {int(top)})
        SELECT r.group_by AS grp, r.version, count(*) AS hits,
               quantile_cont(r.duration_ms, 0.5) AS median_ms,
               min(min(r.started_at)) OVER (PARTITION BY r.version) AS first_seen
        FROM r JOIN users USING (group_by)
        GROUP BY r.group_by, r.version ORDER BY first_seen, r.version, grp""", options,
        endpoint=endpoint)


def status_totals(con: Any, options: ReportOptions, endpoint: str) -> list[dict[str, Any]]:
    """Requests per status code, most frequent first."""
    return rows(con, f"""
        SELECT status, count(*) AS hits
        FROM ({SCOPED}) r WHERE endpoint = $endpoint
        GROUP BY status ORDER BY hits DESC, status""",
        {**options.params(), "endpoint": endpoint})


def exceptions(con: Any, options: ReportOptions, endpoint: str) -> list[dict[str, Any]]:
    """The exception types raised by ``endpoint``, most frequent first."""
    return rows(con, f"""
        SELECT exception, count(*) AS hits, max(started_at) AS last_seen
        FROM ({SCOPED}) r WHERE endpoint = $endpoint AND exception IS NOT NULL
        GROUP BY exception ORDER BY hits DESC, exception""",
        {**options.params(), "endpoint": endpoint})


# -- versions -----------------------------------------------------------------------------------

def version_medians(con: Any, options: ReportOptions) -> list[dict[str, Any]]:
    """Median duration and hits per (endpoint, version)."""
    return rows(con, f"""
        SELECT endpoint, version, count(*) AS hits,
               quantile_cont(duration_ms, 0.5) AS median_ms
        FROM ({SCOPED}) r GROUP BY ALL ORDER BY endpoint, version""", options.params())


def rank_sums(con: Any, options: ReportOptions, before: str, after: str, *,
              by_method: bool = False) -> list[dict[str, Any]]:
    """Per endpoint, what a Mann-Whitney U test of ``before`` vs ``after`` durations needs.

    Ranks are averaged over ties (SQL window functions), so no row leaves DuckDB: the result has
    both sample sizes and medians, the rank sum of ``before`` and the tie term sum(t^3 - t).
    ``by_method``: one row per (endpoint, method, rule) instead, with those columns.
    """
    method, rule = ("coalesce(method, '')", "coalesce(rule, '')") if by_method else ("''", "''")
    found = rows(con, f"""
        WITH r AS (SELECT endpoint, {method} AS method, {rule} AS rule, version, duration_ms
                   FROM ({SCOPED}) s WHERE version = $before OR version = $after),
        ranked AS (
            SELECT endpoint, method, rule, version, duration_ms,
                   rank() OVER (PARTITION BY endpoint, method, rule ORDER BY duration_ms)
                   + (count(*) OVER (PARTITION BY endpoint, method, rule, duration_ms) - 1) / 2.0
                   AS rnk
            FROM r),
        ties AS (
            SELECT endpoint, method, rule, sum(t * t * t - t) AS tie_term
            FROM (SELECT endpoint, method, rule, duration_ms, count(*)::DOUBLE AS t
                  FROM r GROUP BY ALL)
            GROUP BY endpoint, method, rule)
        SELECT endpoint, method, rule,
               count(*) FILTER (WHERE version = $before) AS n_before,
               count(*) FILTER (WHERE version = $after) AS n_after,
               quantile_cont(duration_ms, 0.5) FILTER (WHERE version = $before) AS median_before,
               quantile_cont(duration_ms, 0.5) FILTER (WHERE version = $after) AS median_after,
               coalesce(sum(rnk) FILTER (WHERE version = $before), 0) AS rank_sum_before,
               any_value(ties.tie_term) AS tie_term
        FROM ranked JOIN ties USING (endpoint, method, rule)
        GROUP BY endpoint, method, rule ORDER BY endpoint, rule, method""",
        {**options.params(), "before": before, "after": after})
    if not by_method:
        for row in found:
            del row["method"], row["rule"]
    return found


# -- the profiler's requests --------------------------------------------------------------------

#: Outliers and detailed profiles in the report's window and endpoints.
_OUTLIERS_IN_SCOPE = f"""
    SELECT * FROM outliers
    WHERE {STARTED_IN.format(col='started_at')}
      AND ($endpoints::VARCHAR[] IS NULL OR list_contains($endpoints::VARCHAR[], endpoint))
"""


def _scope(options: ReportOptions) -> dict[str, Any]:
    """The parameters of :data:`_OUTLIERS_IN_SCOPE` (no time zone: nothing is shown per day)."""
    return {**options.window.params(),
            "endpoints": list(options.endpoints) if options.endpoints is not None else None}


def profiled_requests(con: Any, options: ReportOptions, *, newest_outliers: int,
                      outliers_per_endpoint: int, details_per_endpoint: int
                      ) -> list[dict[str, Any]]:
    """The requests that get a page: the newest outliers overall, and each endpoint's newest
    outliers and detailed profiles - in the order and with the limits of
    :func:`~fmd_profiler.queries.profile_queries.outlier_list` and
    :func:`~fmd_profiler.queries.profile_queries.request_profile_list`, so every listed request has
    a
    page. Columns: request_id, kind ('outlier' or 'detail'), endpoint."""
    return rows(con, f"""
        WITH o AS (
            SELECT request_id, 'outlier' AS kind, endpoint, started_at,
                   row_number() OVER (PARTITION BY endpoint
                                      ORDER BY started_at DESC, request_id) AS n_endpoint,
                   row_number() OVER (ORDER BY started_at DESC, request_id) AS n_all
            FROM ({_OUTLIERS_IN_SCOPE}) s),
        d AS (
            SELECT request_id, 'detail' AS kind, endpoint, started_at,
                   row_number() OVER (PARTITION BY endpoint
                                      ORDER BY started_at DESC, request_id) AS n_endpoint
            FROM (SELECT DISTINCT request_id, endpoint, started_at FROM request_profiles
                  WHERE kind = 'detail' AND {STARTED_IN.format(col='started_at')}
                    AND ($endpoints::VARCHAR[] IS NULL
                         OR list_contains($endpoints::VARCHAR[], endpoint))) s)
        SELECT request_id, kind, endpoint FROM (
            SELECT request_id, kind, endpoint, started_at FROM o
            WHERE n_endpoint <= $per_endpoint OR n_all <= $newest
            UNION ALL
            SELECT request_id, kind, endpoint, started_at FROM d WHERE n_endpoint <= $details)
        ORDER BY started_at DESC, request_id, kind""",
        {**_scope(options), "per_endpoint": outliers_per_endpoint, "newest": newest_outliers,
         "details": details_per_endpoint})


def outlier_counts(con: Any, options: ReportOptions) -> list[dict[str, Any]]:
    """Per endpoint with outliers: outliers, newest, and the largest duration / median ratio.
    Columns: endpoint, outliers, last_seen, max_ratio, max_ms. Most outliers first."""
    return rows(con, f"""
        SELECT endpoint, count(*) AS outliers, max(started_at) AS last_seen,
               max(duration_ms / nullif(baseline_ms, 0)) AS max_ratio,
               max(duration_ms) AS max_ms
        FROM ({_OUTLIERS_IN_SCOPE}) s GROUP BY endpoint
        ORDER BY outliers DESC, endpoint""", _scope(options))


def outlier_times(con: Any, options: ReportOptions, limit: int) -> Any:
    """The newest ``limit`` outliers for a timeline: started_at, endpoint, ratio (duration /
    the endpoint's median when it was flagged)."""
    return con.execute(f"""
        SELECT started_at, endpoint, duration_ms / nullif(baseline_ms, 0) AS ratio
        FROM ({_OUTLIERS_IN_SCOPE}) s
        ORDER BY started_at DESC, request_id LIMIT {int(limit)}""", _scope(options)).df()


def endpoint_names(con: Any) -> list[str]:
    """Every endpoint of the store, routes and requests alike, whatever the window: the set
    endpoint colours are assigned over, so that a name has one colour on every page."""
    # The stored counts name every endpoint the requests do, without reading them all.
    source = request_counts.VIEW if request_counts.complete(con) else "requests"
    found = con.execute(f"SELECT endpoint FROM routes UNION SELECT endpoint FROM {source} "
                        "ORDER BY 1").fetchall()
    return [row[0] for row in found if row[0] is not None]


def has_outliers(con: Any, options: ReportOptions) -> bool:
    found = con.execute(f"SELECT EXISTS ({_OUTLIERS_IN_SCOPE})", _scope(options)).fetchone()
    return bool(found and found[0])


def has_benchmark_runs(con: Any) -> bool:
    found = con.execute("SELECT EXISTS (SELECT 1 FROM bench_runs)").fetchone()
    return bool(found and found[0])


def regression_flags(con: Any) -> set[tuple[str, str]]:
    """(run_id, endpoint) of every endpoint a benchmark run flagged as a regression."""
    found = con.execute("""
        SELECT run_id, name FROM bench_verdicts
        WHERE kind = 'endpoint' AND verdict = 'regression' ORDER BY run_id, name""").fetchall()
    return {(run_id, name) for run_id, name in found}
