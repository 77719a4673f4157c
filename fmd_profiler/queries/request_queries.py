"""SQL over a read session: every figure a report shows is computed here, in DuckDB.

Functions take a DuckDB connection from :meth:`fmd_profiler.store.Database.read` and a
:class:`Window`, and return plain rows (dicts). Percentiles use ``quantile_cont`` in SQL; every
query has an explicit ``ORDER BY`` so reports are deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fmd_profiler.schema import UNMATCHED


@dataclass(frozen=True)
class Window:
    """A time range over ``started_at`` (naive UTC); None means open-ended."""

    since: datetime | None = None
    until: datetime | None = None

    def params(self) -> dict[str, Any]:
        return {"since": self.since, "until": self.until}


ALL_TIME = Window()


WINDOWED_REQUESTS = """
    SELECT * FROM requests
    WHERE ($since::TIMESTAMP IS NULL OR started_at >= $since::TIMESTAMP)
      AND ($until::TIMESTAMP IS NULL OR started_at < $until::TIMESTAMP)
"""


def rows(con: Any, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params or {})
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


#: The box plot's quantiles of duration (whiskers at the 5th/95th percentile).
BOX_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def endpoint_summary(con: Any, window: Window = ALL_TIME, *, boxes: bool = False,
                     counts: str | None = None, now: datetime | None = None
                     ) -> list[dict[str, Any]]:
    """One row per endpoint, known routes included even when never requested (hits 0).

    ``median_cpu_ms`` is the median of the requests' thread CPU time: set beside ``median_ms``
    it tells an endpoint that computes from one that waits (on I/O, a lock, the GIL).
    ``boxes``: each row also has ``box``, the unrounded :data:`BOX_QUANTILES` of duration (None
    without requests), computed in the same pass over the requests as the percentiles.
    ``counts``: a table of the window's requests counted per endpoint and rule (columns
    endpoint, rule, hits, errors, last_at; the overview's buckets) to take the counts from, so
    the pass over the requests only computes percentiles. ``now``: each row also has
    ``hits_24h`` and ``hits_7d``, the requests in the day and the week before ``now``.
    """
    # Each probability once (the box shares the median and p95 with the table): every one costs
    # a selection over the endpoint's durations. SQL lists count from 1.
    probabilities = sorted({0.5, 0.95, 0.99, *(BOX_QUANTILES if boxes else ())})
    at = {p: i + 1 for i, p in enumerate(probabilities)}
    box = f", list_select(s.q, {[at[p] for p in BOX_QUANTILES]}) AS box" if boxes else ""
    recent = (", coalesce(s.hits_24h, 0) AS hits_24h, coalesce(s.hits_7d, 0) AS hits_7d"
              if now is not None else "")
    recent_sql = """,
               count(*) FILTER (WHERE started_at >= $now - INTERVAL 1 DAY
                                AND started_at <= $now) AS hits_24h,
               count(*) FILTER (WHERE started_at >= $now - INTERVAL 7 DAY
                                AND started_at <= $now) AS hits_7d""" if now is not None else ""
    spread = f"""quantile_cont(duration_ms, {probabilities}) AS q,
               quantile_cont(cpu_ms, 0.5) AS cpu_median{recent_sql}"""
    if counts is None:
        summary = f"""
        SELECT endpoint, count(*) AS hits, {spread},
               count(*) FILTER (WHERE status >= 500) AS errors,
               max(started_at) AS last_requested,
               string_agg(DISTINCT rule, ', ' ORDER BY rule) AS rules_hit
        FROM r GROUP BY endpoint"""
    else:
        summary = f"""
        SELECT * FROM (
            SELECT endpoint, sum(hits)::BIGINT AS hits, sum(errors)::BIGINT AS errors,
                   max(last_at) AS last_requested,
                   string_agg(DISTINCT rule, ', ' ORDER BY rule) AS rules_hit
            FROM {counts} GROUP BY endpoint)
        LEFT JOIN (SELECT endpoint, {spread} FROM r GROUP BY endpoint) USING (endpoint)"""
    sql = f"""
    WITH r AS ({WINDOWED_REQUESTS}),
    s AS ({summary}
    ),
    known AS (
        SELECT endpoint,  -- '': an endpoint imported from FMD, which kept no rule
               string_agg(DISTINCT NULLIF(rule, ''), ', ' ORDER BY NULLIF(rule, '')) AS rule,
               -- each allowed method once, over every rule of the endpoint
               array_to_string(list_sort(list_distinct(list_filter(flatten(
                   list(string_split(methods, ','))), lambda m: m <> ''))), ',') AS methods,
               max(level) AS level
        FROM routes GROUP BY endpoint
    )
    SELECT coalesce(known.endpoint, s.endpoint) AS endpoint,
           coalesce(known.rule, s.rules_hit) AS rule,
           known.methods AS methods,
           known.level AS level,
           coalesce(s.hits, 0) AS hits,
           round(s.q[{at[0.5]}], 3) AS median_ms,
           round(s.q[{at[0.95]}], 3) AS p95_ms,
           round(s.q[{at[0.99]}], 3) AS p99_ms,
           round(s.cpu_median, 3) AS median_cpu_ms,
           coalesce(s.errors, 0) AS errors,
           s.last_requested AS last_requested{box}{recent}
    FROM known FULL OUTER JOIN s ON known.endpoint = s.endpoint
    ORDER BY (coalesce(known.endpoint, s.endpoint) = '{UNMATCHED}'), endpoint
    """
    return rows(con, sql, {**window.params(), **({"now": now} if now is not None else {})})


def method_summary(con: Any, window: Window = ALL_TIME,
                   endpoints: list[str] | None = None) -> list[dict[str, Any]]:
    """One row per (endpoint, method, rule) that served requests: the figures of each method of
    an endpoint, as an operator names an API call ("POST /items/"). Ordered by endpoint, rule,
    method. ``endpoints``: only these (None: all)."""
    return rows(con, f"""
        SELECT endpoint, method, rule, hits,
               round(q[1], 3) AS median_ms,
               round(q[2], 3) AS p95_ms,
               round(q[3], 3) AS p99_ms,
               errors
        FROM (SELECT endpoint, method, rule, count(*) AS hits,
                     quantile_cont(duration_ms, [0.5, 0.95, 0.99]) AS q,
                     count(*) FILTER (WHERE status >= 500) AS errors
              FROM ({WINDOWED_REQUESTS}) r
              WHERE $endpoints::VARCHAR[] IS NULL
                 OR list_contains($endpoints::VARCHAR[], endpoint)
              GROUP BY endpoint, method, rule)
        ORDER BY endpoint, rule NULLS LAST, method""", {**window.params(), "endpoints": endpoints})


def methods_by_endpoint(con: Any, window: Window = ALL_TIME,
                        endpoints: list[str] | None = None) -> dict[str, list[dict[str, Any]]]:
    """:func:`method_summary` grouped: endpoint -> its ``{method, rule, hits, median_ms, p95_ms,
    p99_ms, errors}`` rows. ``endpoints``: only these (None: all)."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in method_summary(con, window, endpoints):
        grouped.setdefault(row.pop("endpoint"), []).append(row)
    return grouped


def dropped_rows(con: Any) -> int:
    """Rows lost to full buffers, summed over processes (counters are cumulative per process)."""
    result = con.execute(
        "SELECT coalesce(sum(d), 0) FROM (SELECT max(dropped) AS d FROM process_stats "
        "GROUP BY host, pid)").fetchone()
    return int(result[0]) if result else 0


def totals(con: Any, window: Window = ALL_TIME) -> dict[str, Any]:
    result = rows(con, f"""
        SELECT count(*) AS requests, min(started_at) AS first_request,
               max(started_at) AS last_request, count(DISTINCT version) AS versions
        FROM ({WINDOWED_REQUESTS})""", window.params())
    return result[0]


def exception_groups(con: Any, window: Window = ALL_TIME,
                     endpoints: list[str] | None = None) -> list[dict[str, Any]]:
    """One row per (exception fingerprint, endpoint), newest first: counts summed over versions
    and minutes, the newest message, the versions it hit, and its frames (JSON text)."""
    return rows(con, """
        WITH e AS (
            SELECT * FROM exceptions
            WHERE ($since::TIMESTAMP IS NULL OR bucket >= date_trunc('minute', $since::TIMESTAMP))
              AND ($until::TIMESTAMP IS NULL OR bucket < $until::TIMESTAMP)
              AND ($endpoints::VARCHAR[] IS NULL OR list_contains($endpoints::VARCHAR[], endpoint))
        ),
        t AS (SELECT fingerprint, min(frames) AS frames FROM exception_traces GROUP BY ALL)
        SELECT e.endpoint, e.exception, arg_max(e.message, e.last_seen) AS message,
               sum(e.count)::BIGINT AS count, min(e.first_seen) AS first_seen,
               max(e.last_seen) AS last_seen, e.fingerprint,
               string_agg(DISTINCT e.version, ', ' ORDER BY e.version) AS versions,
               min(t.frames) AS frames
        FROM e LEFT JOIN t USING (fingerprint)
        GROUP BY e.fingerprint, e.endpoint, e.exception
        ORDER BY last_seen DESC, e.endpoint, e.fingerprint
    """, {**window.params(), "endpoints": endpoints})
