"""Significance of a change between two versions: a Mann-Whitney U test from SQL rank sums.

Request durations are skewed and heavy-tailed, so the versions page compares distributions by
rank (Mann-Whitney U, two-sided, normal approximation with tie and continuity correction, as
``scipy.stats.mannwhitneyu(method="asymptotic")``) instead of a t-test on means. The ranks are
computed in DuckDB (:func:`fmd_profiler.report.report_queries.rank_sums`); this module is pure
arithmetic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Below this many requests on either side the normal approximation is not trusted.
MIN_SAMPLES = 20
#: A change is reported when it is both significant and large enough to matter.
ALPHA = 0.01
MIN_RELATIVE_CHANGE = 0.05


@dataclass(frozen=True)
class Comparison:
    """One endpoint compared between two versions."""

    endpoint: str
    before: str
    after: str
    n_before: int
    n_after: int
    median_before: float | None
    median_after: float | None
    p_value: float | None  # None: too few requests to test
    method: str | None = None  # set when one method (and rule) of the endpoint is compared
    rule: str | None = None

    @property
    def ratio(self) -> float | None:
        """median after / median before (1.3 = 30 % slower)."""
        if not self.median_before or self.median_after is None:
            return None
        return self.median_after / self.median_before

    @property
    def verdict(self) -> str:
        """'slower', 'faster', 'unchanged' or 'too few requests'."""
        ratio = self.ratio
        if self.p_value is None or ratio is None:
            return "too few requests"
        if self.p_value < ALPHA and abs(ratio - 1.0) >= MIN_RELATIVE_CHANGE:
            return "slower" if ratio > 1.0 else "faster"
        return "unchanged"


def mann_whitney_p(n1: int, n2: int, rank_sum_1: float, tie_term: float) -> float | None:
    """Two-sided p-value of Mann-Whitney U given sample 1's rank sum in the pooled ranking.

    ``tie_term`` is sum(t^3 - t) over groups of tied values. None when a side has fewer than
    :data:`MIN_SAMPLES` values.
    """
    if n1 < MIN_SAMPLES or n2 < MIN_SAMPLES:
        return None
    n = n1 + n2
    u1 = rank_sum_1 - n1 * (n1 + 1) / 2.0
    u = max(u1, n1 * n2 - u1)
    mean = n1 * n2 / 2.0
    variance = n1 * n2 / 12.0 * ((n + 1) - tie_term / (n * (n - 1)))
    if variance <= 0:  # every value tied: the samples cannot be told apart
        return 1.0
    z = (u - mean - 0.5) / math.sqrt(variance)
    return min(1.0, math.erfc(z / math.sqrt(2.0)))


def compare(row: dict[str, object], before: str, after: str) -> Comparison:
    """A :class:`Comparison` from one row of
    :func:`~fmd_profiler.report.report_queries.rank_sums`."""
    n1, n2 = int(row["n_before"]), int(row["n_after"])  # type: ignore[call-overload]
    p_value = mann_whitney_p(n1, n2, float(row["rank_sum_before"]),  # type: ignore[arg-type]
                             float(row["tie_term"] or 0.0))  # type: ignore[arg-type]
    return Comparison(str(row["endpoint"]), before, after, n1, n2,
                      _float(row["median_before"]), _float(row["median_after"]), p_value,
                      _text(row.get("method")), _text(row.get("rule")))


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def _text(value: object) -> str | None:
    return None if value is None else str(value)
