"""SQL over the benchmark tables, for the harness, its receiver, the report and the dashboard.

Every function takes a DuckDB connection - a read session from
:meth:`fmd_profiler.store.Database.read` or the connection of a
:meth:`~fmd_profiler.store.Database.transaction` - and returns plain rows (dicts) or samples.
Rounds up to a run's ``warmup_rounds`` never enter a figure; every query orders its rows.
"""

from __future__ import annotations

from typing import Any

from fmd_profiler.queries.request_queries import rows

#: Rows of a run's measured rounds only (joins bench_runs for warmup_rounds).
_MEASURED = ("JOIN bench_runs r USING (run_id) "
             "WHERE x.run_id = $run_id AND x.round > r.warmup_rounds")


def runs(con: Any, limit: int = 200) -> list[dict[str, Any]]:
    """The newest runs first. Columns: run_id, label ('run', or 'base'/'head' of an --against
    comparison), started_at, finished_at, sha, short_sha, tag, branch (None on a detached HEAD),
    ci_ref, dirty, committed_at, app_version, machine, python, ci_provider, ci_job_id, rounds,
    warmup_rounds, tests (distinct tests), failed_tests (tests with a failed or erroring measured
    round), regressions (verdicts flagged), baseline_run_id (what the verdicts compared with)."""
    return rows(con, """
        SELECT r.run_id, r.label, r.started_at, r.finished_at, r.sha, r.short_sha, r.tag,
               r.branch, r.ci_ref, r.dirty, r.committed_at, r.app_version, r.machine, r.python,
               r.ci_provider, r.ci_job_id, r.rounds, r.warmup_rounds,
               coalesce(t.tests, 0) AS tests, coalesce(t.failed, 0) AS failed_tests,
               coalesce(v.regressions, 0) AS regressions, v.baseline_run_id
        FROM bench_runs r
        LEFT JOIN (SELECT x.run_id, count(DISTINCT x.test_id) AS tests,
                          count(DISTINCT x.test_id) FILTER (
                              WHERE x.outcome IN ('failed', 'error')
                              AND x.round > b.warmup_rounds) AS failed
                   FROM bench_tests x JOIN bench_runs b USING (run_id) GROUP BY x.run_id) t
               USING (run_id)
        LEFT JOIN (SELECT run_id, count(*) FILTER (WHERE verdict = 'regression') AS regressions,
                          any_value(baseline_run_id) AS baseline_run_id
                   FROM bench_verdicts GROUP BY run_id) v USING (run_id)
        ORDER BY r.started_at DESC, r.run_id
        LIMIT $limit""", {"limit": limit})


def test_medians(con: Any, run_id: str) -> list[dict[str, Any]]:
    """Per test of the run, over its measured rounds. Columns: test_id, rounds, passed (rounds
    that passed), median_setup_ms, median_call_ms, median_teardown_ms, max_call_ms."""
    return rows(con, f"""
        SELECT x.test_id, count(*) AS rounds,
               count(*) FILTER (WHERE x.outcome = 'passed') AS passed,
               round(median(x.setup_ms), 3) AS median_setup_ms,
               round(median(x.call_ms), 3) AS median_call_ms,
               round(median(x.teardown_ms), 3) AS median_teardown_ms,
               round(max(x.call_ms), 3) AS max_call_ms
        FROM bench_tests x {_MEASURED}
        GROUP BY x.test_id ORDER BY x.test_id""", {"run_id": run_id})


def endpoint_medians(con: Any, run_id: str) -> list[dict[str, Any]]:
    """Per endpoint hit by the run's tests, over the measured rounds. Columns: endpoint, tests
    (distinct tests hitting it), hits, hits_per_round, median_ms, p95_ms, errors (status >= 500)."""
    return rows(con, f"""
        SELECT x.endpoint, count(DISTINCT x.test_id) AS tests, count(*) AS hits,
               round(count(*) / count(DISTINCT x.round), 2) AS hits_per_round,
               round(quantile_cont(x.duration_ms, 0.5), 3) AS median_ms,
               round(quantile_cont(x.duration_ms, 0.95), 3) AS p95_ms,
               count(*) FILTER (WHERE x.status >= 500) AS errors
        FROM bench_requests x {_MEASURED}
        GROUP BY x.endpoint ORDER BY x.endpoint""", {"run_id": run_id})


def test_endpoints(con: Any, run_id: str) -> list[dict[str, Any]]:
    """Which test hits which endpoint, over the measured rounds. Columns: test_id, endpoint,
    hits_per_round, median_ms (per-request median)."""
    return rows(con, f"""
        SELECT x.test_id, x.endpoint,
               round(sum(x.hits) / count(DISTINCT x.round), 2) AS hits_per_round,
               round(median(x.median_ms), 3) AS median_ms
        FROM bench_endpoints x {_MEASURED}
        GROUP BY x.test_id, x.endpoint ORDER BY x.test_id, x.endpoint""", {"run_id": run_id})


def verdicts(con: Any, run_id: str) -> list[dict[str, Any]]:
    """The run's regression verdicts, regressions first, then by ratio. Columns: every column of
    bench_verdicts: run_id, baseline_run_id, kind ('test'/'endpoint'), name, n_base, n_head,
    base_median_ms, head_median_ms, ratio, ci_low, ci_high, p_value, p_adjusted,
    detectable_ratio (None: nothing detectable with so few rounds), base_set_aside and
    head_set_aside (outlier rounds not used, "3, 8"), verdict ('regression', 'ok',
    'inconclusive', 'too_few_samples', 'new')."""
    return rows(con, """
        SELECT * FROM bench_verdicts WHERE run_id = $run_id
        ORDER BY verdict = 'regression' DESC, ratio DESC NULLS LAST, kind, name""",
                {"run_id": run_id})


def endpoint_history(con: Any, endpoint: str, limit: int = 100) -> list[dict[str, Any]]:
    """An endpoint's median per run (oldest first), for per-commit charts. Columns: run_id,
    started_at, short_sha, branch, label, median_ms, p95_ms, hits."""
    return rows(con, """
        SELECT * FROM (
            SELECT r.run_id, r.started_at, r.short_sha, coalesce(r.branch, r.ci_ref) AS branch,
                   r.label, round(quantile_cont(x.duration_ms, 0.5), 3) AS median_ms,
                   round(quantile_cont(x.duration_ms, 0.95), 3) AS p95_ms, count(*) AS hits
            FROM bench_requests x JOIN bench_runs r USING (run_id)
            WHERE x.endpoint = $endpoint AND x.round > r.warmup_rounds
            GROUP BY ALL ORDER BY r.started_at DESC LIMIT $limit)
        ORDER BY started_at, run_id""", {"endpoint": endpoint, "limit": limit})


def function_totals(con: Any, run_id: str) -> list[dict[str, Any]]:
    """Exact mode: per test and function, medians over measured rounds. Columns: test_id,
    function, file, calls (per round), total_ms, self_ms."""
    return rows(con, f"""
        SELECT x.test_id, x.function, x.file, median(x.calls) AS calls,
               round(median(x.total_ms), 3) AS total_ms, round(median(x.self_ms), 3) AS self_ms
        FROM bench_functions x {_MEASURED}
        GROUP BY x.test_id, x.function, x.file
        ORDER BY x.test_id, total_ms DESC, x.function""", {"run_id": run_id})


# -- samples and bookkeeping for the harness and the receiver ---------------------------------

def test_samples(con: Any, run_id: str) -> dict[str, tuple[list[int], list[float]]]:
    """Per test, the rounds that passed (measured ones) and their call durations."""
    result = con.execute(f"""
        SELECT x.test_id, list(x.round ORDER BY x.round), list(x.call_ms ORDER BY x.round)
        FROM bench_tests x {_MEASURED} AND x.outcome = 'passed' AND x.call_ms IS NOT NULL
        GROUP BY x.test_id ORDER BY x.test_id""", {"run_id": run_id}).fetchall()
    return {name: (list(rounds), list(values)) for name, rounds, values in result}


def endpoint_samples(con: Any, run_id: str) -> dict[str, tuple[list[int], list[float]]]:
    """Per endpoint, the measured rounds and the median request duration of each: one sample
    per round, because requests of one round share its noise and are not independent samples."""
    result = con.execute(f"""
        SELECT endpoint, list(round ORDER BY round), list(m ORDER BY round) FROM (
            SELECT x.endpoint, x.round, median(x.duration_ms) AS m
            FROM bench_requests x {_MEASURED} GROUP BY x.endpoint, x.round)
        GROUP BY endpoint ORDER BY endpoint""", {"run_id": run_id}).fetchall()
    return {name: (list(rounds), list(values)) for name, rounds, values in result}


def find_baseline(con: Any, run_id: str) -> str | None:
    """The last earlier run of the same branch on the same machine fingerprint, if any.

    The branch is git's, or on a detached HEAD the one the CI names. Base runs of --against
    comparisons are never baselines (their branch is unknown)."""
    result = con.execute("""
        SELECT b.run_id FROM bench_runs b JOIN bench_runs r ON r.run_id = $run_id
        WHERE b.run_id <> r.run_id AND b.machine = r.machine AND b.label <> 'base'
          AND coalesce(b.branch, b.ci_ref) = coalesce(r.branch, r.ci_ref)
          AND b.started_at < r.started_at
        ORDER BY b.started_at DESC, b.run_id LIMIT 1""", {"run_id": run_id}).fetchone()
    return result[0] if result else None


def submission_digests(con: Any, run_ids: list[str]) -> dict[str, str]:
    """run id -> digest of the runs among ``run_ids`` already stored."""
    result = con.execute("""
        SELECT run_id, digest FROM bench_submissions WHERE run_id IN (SELECT unnest($ids))
        ORDER BY run_id""", {"ids": run_ids}).fetchall()
    return dict(result)


def recorded_requests(con: Any) -> tuple[list[tuple[Any, ...]], int]:
    """From a run's own temporary store: every request labelled with a test id, oldest first,
    as (test_id, endpoint, rule, method, status, duration_ms, cpu_ms, started_at epoch), and the
    number of requests no test id reached."""
    labelled = con.execute("""
        SELECT test_id, endpoint, rule, method, status, duration_ms, cpu_ms, epoch(started_at)
        FROM requests WHERE test_id IS NOT NULL
        ORDER BY started_at, test_id, endpoint""").fetchall()
    orphans = con.execute("SELECT count(*) FROM requests WHERE test_id IS NULL").fetchone()
    return labelled, int(orphans[0]) if orphans else 0


def routes_not_hit(con: Any) -> list[str]:
    """From a run's own temporary store: endpoints of the profiled apps no test requested."""
    return [r[0] for r in con.execute("""
        SELECT DISTINCT endpoint FROM routes
        WHERE endpoint NOT IN (SELECT endpoint FROM requests WHERE test_id IS NOT NULL)
        ORDER BY endpoint""").fetchall()]
