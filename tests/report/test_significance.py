"""The version comparison: SQL rank sums + our p-value equal scipy's Mann-Whitney U."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import mannwhitneyu

from fmd_profiler.demo.synthetic import SyntheticStore
from fmd_profiler.report import report_queries as queries
from fmd_profiler.report.options import ReportOptions
from fmd_profiler.report.significance import MIN_SAMPLES, Comparison, mann_whitney_p
from fmd_profiler.report.sources import open_source


def rank_sum(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    from scipy.stats import rankdata

    pooled = np.concatenate([a, b])
    ranks = rankdata(pooled)  # average ranks for ties
    _, counts = np.unique(pooled, return_counts=True)
    return float(ranks[: len(a)].sum()), float((counts ** 3 - counts).sum())


@pytest.mark.parametrize("seed", range(5))
def test_p_value_equals_scipy_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = np.round(rng.lognormal(1.0, 0.5, 60 + seed * 40), 1)  # rounding makes ties
    b = np.round(rng.lognormal(1.0 + 0.05 * seed, 0.5, 80), 1)
    ranks, ties = rank_sum(a, b)
    expected = mannwhitneyu(a, b, method="asymptotic", use_continuity=True).pvalue
    assert mann_whitney_p(len(a), len(b), ranks, ties) == pytest.approx(expected, rel=1e-9)


def test_too_few_samples_are_not_tested() -> None:
    assert mann_whitney_p(MIN_SAMPLES - 1, 100, 10.0, 0.0) is None
    assert mann_whitney_p(30, 30, 30 * 61 / 2, 60 ** 3 - 60) == 1.0  # every value tied


def test_sql_rank_sums_give_scipys_answer(store: SyntheticStore) -> None:
    options = ReportOptions()
    before, after = store.versions[0], store.versions[1]
    with open_source(str(store.database)) as con:
        found = {r["endpoint"]: r for r in queries.rank_sums(con, options, before, after)}
        for endpoint in store.endpoints:
            a, b = (np.array([d for (d,) in con.execute(
                "SELECT duration_ms FROM requests WHERE endpoint = ? AND version = ?",
                [endpoint, v]).fetchall()]) for v in (before, after))
            row = found[endpoint]
            assert (row["n_before"], row["n_after"]) == (len(a), len(b))
            assert row["median_before"] == pytest.approx(np.median(a))
            p = mann_whitney_p(len(a), len(b), row["rank_sum_before"], row["tie_term"])
            assert p == pytest.approx(mannwhitneyu(a, b, method="asymptotic").pvalue, rel=1e-6)


def test_verdict_needs_significance_and_size() -> None:
    def comparison(p: float | None, median_after: float) -> Comparison:
        return Comparison("e", "1", "2", 100, 100, 10.0, median_after, p)

    assert comparison(0.001, 14.0).verdict == "slower"
    assert comparison(0.001, 7.0).verdict == "faster"
    assert comparison(0.001, 10.2).verdict == "unchanged"  # significant but tiny
    assert comparison(0.2, 14.0).verdict == "unchanged"
    assert comparison(None, 14.0).verdict == "too few requests"
    assert comparison(0.001, 14.0).ratio == pytest.approx(1.4)
