"""Statistics for one question: does the head take longer than the base?

Pure functions over lists of durations (milliseconds); nothing here imports flask or duckdb. The
test is scipy's one-sided Mann-Whitney U (no normality assumed, robust to the odd slow round);
the effect is the ratio of medians, with a Hodges-Lehmann confidence interval of the ratio
computed on log durations (a multiplicative shift model, which is how code changes move
timings); and the minimum detectable ratio says what a comparison of this size and noise could
have caught at all. The correction for many comparisons lives in :mod:`.regressions`.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

#: Durations below this many milliseconds are treated as this (logs of 0 do not exist).
FLOOR_MS = 1e-3
#: Scales a median absolute deviation to a standard deviation under normal noise.
MAD_TO_SD = 1.4826
_NORMAL = statistics.NormalDist()
#: Largest sample for exact Mann-Whitney p-values (they cost microseconds up to here).
EXACT_UP_TO = 50


@dataclass(frozen=True)
class Comparison:
    """Head against base for one test or endpoint."""

    n_base: int
    n_head: int
    base_median: float
    head_median: float
    ratio: float  # head median / base median
    ci_low: float  # Hodges-Lehmann confidence interval of the ratio
    ci_high: float
    p_value: float  # one-sided: the head is slower
    detectable_ratio: float  # smallest ratio detectable at the given level (inf: none)


def compare(base: Sequence[float], head: Sequence[float], *, alpha: float,
            confidence: float = 0.95, power: float = 0.8) -> Comparison:
    """Compare two samples; ``alpha`` is the level the detectable ratio is computed for.

    Both samples need at least one value; the caller decides how few is too few.
    """
    if not base or not head:
        raise ValueError("both samples need at least one duration")
    b = [max(float(x), FLOOR_MS) for x in base]
    h = [max(float(x), FLOOR_MS) for x in head]
    base_median, head_median = statistics.median(b), statistics.median(h)
    # Imported on first use: scipy.stats takes ~0.6 s to import, and a run without a baseline
    # (or a serving dashboard) never needs it.
    from scipy.stats import mannwhitneyu

    # Exact p-values whenever they are valid (no ties) and cheap: scipy's "auto" switches to the
    # normal approximation above 8 samples, which puts complete separation of 9 vs 9 rounds at
    # p = 2e-4 instead of 2e-5 - ten times too weak once corrected for a run's many comparisons.
    exact = len(set(b) | set(h)) == len(b) + len(h) and max(len(b), len(h)) <= EXACT_UP_TO
    p_value = float(mannwhitneyu(h, b, alternative="greater",
                                 method="exact" if exact else "asymptotic").pvalue)
    log_b, log_h = [math.log(x) for x in b], [math.log(x) for x in h]
    low, high = hodges_lehmann_interval(log_b, log_h, confidence)
    return Comparison(
        n_base=len(b), n_head=len(h), base_median=base_median, head_median=head_median,
        ratio=head_median / base_median, ci_low=math.exp(low), ci_high=math.exp(high),
        p_value=p_value, detectable_ratio=detectable_ratio(log_b, log_h, alpha, power))


def hodges_lehmann_interval(base: Sequence[float], head: Sequence[float],
                            confidence: float) -> tuple[float, float]:
    """Confidence interval of the shift ``head - base`` from the pairwise differences.

    The bounds are the k-th smallest and k-th largest of the m*n differences, k from the normal
    approximation of the Mann-Whitney U distribution (for m = n = 10 at 95 % it gives k = 24,
    the exact table's value). When the samples are too small for the level, the interval is the
    whole range of differences.
    """
    diffs = sorted(y - x for x in base for y in head)
    m, n = len(base), len(head)
    z = _NORMAL.inv_cdf(0.5 + confidence / 2)
    k = math.floor(m * n / 2 - z * math.sqrt(m * n * (m + n + 1) / 12))
    k = min(max(k, 1), len(diffs))
    return diffs[k - 1], diffs[len(diffs) - k]


def detectable_ratio(log_base: Sequence[float], log_head: Sequence[float], alpha: float,
                     power: float = 0.8) -> float:
    """The smallest slow-down ratio this comparison would flag with probability ``power``.

    ``inf`` when the samples are too small for any result to reach ``alpha``: with m and n
    samples and no ties the smallest one-sided p-value is 1 / C(m + n, m). Otherwise the
    normal-theory shift ``(z(1-alpha) + z(power)) * sigma * sqrt(1/m + 1/n)``, widened by
    sqrt(pi/3) (the Mann-Whitney test's efficiency against normal noise is 3/pi), with sigma a
    robust pooled spread of the log durations (each sample centred on its own median).
    """
    m, n = len(log_base), len(log_head)
    if 1.0 / math.comb(m + n, m) > alpha:
        return math.inf
    sigma = robust_spread([x - statistics.median(log_base) for x in log_base]
                          + [y - statistics.median(log_head) for y in log_head])
    z = _NORMAL.inv_cdf(1 - alpha) + _NORMAL.inv_cdf(power)
    return math.exp(z * sigma * math.sqrt(1 / m + 1 / n) * math.sqrt(math.pi / 3))


def robust_spread(residuals: Sequence[float]) -> float:
    """Standard deviation estimated from the median absolute residual (outliers barely count)."""
    return MAD_TO_SD * statistics.median(abs(r) for r in residuals)


def min_samples_for(alpha: float) -> int:
    """Fewest samples per side (equal sizes) for which a p-value can reach ``alpha``."""
    n = 1
    while 1.0 / math.comb(2 * n, n) > alpha:
        n += 1
    return n
