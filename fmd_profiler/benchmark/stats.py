"""Statistics for one question: does the head take longer than the base?

Pure functions over lists of per-round durations (milliseconds); nothing here imports flask or
duckdb. Each side's outlier rounds - a hiccup of the machine, far above the side's other
rounds - are set aside first (at most a third of the rounds, and said so). On the rounds kept, the
test is a one-sided two-sample t-test on log durations (a multiplicative shift model, which is
how code changes move timings, and every kept round counts by its size, not only its rank); the
effect is the ratio of the kept rounds' medians, with the t confidence interval of the ratio;
and the minimum detectable ratio says what a comparison of this size and noise could have caught
at all. The correction for many comparisons lives in :mod:`.regressions`; why this test and not a
rank test is measured by :mod:`.simulation`.
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
#: A round is an outlier only when it took more than this many times its side's median ...
OUTLIER_FACTOR = 2.0
#: ... and lies more than this many robust standard deviations above it.
OUTLIER_SPREADS = 3.0


@dataclass(frozen=True)
class Comparison:
    """Head against base for one test or endpoint."""

    n_base: int  # rounds kept
    n_head: int
    base_median: float  # of the kept rounds
    head_median: float
    ratio: float  # head median / base median
    ci_low: float  # confidence interval of the ratio (t, on log durations)
    ci_high: float
    p_value: float  # one-sided: the head is slower
    detectable_ratio: float  # smallest ratio detectable at the given level (inf: none)
    base_set_aside: tuple[int, ...] = ()  # indices of the outlier rounds not used
    head_set_aside: tuple[int, ...] = ()


def compare(base: Sequence[float], head: Sequence[float], *, alpha: float,
            confidence: float = 0.95, power: float = 0.8) -> Comparison:
    """Compare two samples; ``alpha`` is the level the detectable ratio is computed for.

    Both samples need at least one value; the caller decides how few is too few.
    """
    if not base or not head:
        raise ValueError("both samples need at least one duration")
    b_all = [max(float(x), FLOOR_MS) for x in base]
    h_all = [max(float(x), FLOOR_MS) for x in head]
    b_out, h_out = outlier_rounds(b_all), outlier_rounds(h_all)
    b = [x for i, x in enumerate(b_all) if i not in b_out]
    h = [x for i, x in enumerate(h_all) if i not in h_out]
    base_median, head_median = statistics.median(b), statistics.median(h)
    shift = log_shift(b, h)
    if shift is None:  # one round on a side: nothing to test with
        p_value, ci_low, ci_high, detectable = 1.0, 0.0, math.inf, math.inf
    else:
        p_value = shift.p_greater()
        low, high = shift.interval(confidence)
        ci_low, ci_high = math.exp(low), math.exp(high)
        detectable = shift.detectable(alpha, power)
    return Comparison(
        n_base=len(b), n_head=len(h), base_median=base_median, head_median=head_median,
        ratio=head_median / base_median, ci_low=ci_low, ci_high=ci_high, p_value=p_value,
        detectable_ratio=detectable, base_set_aside=b_out, head_set_aside=h_out)


def outlier_rounds(values: Sequence[float]) -> tuple[int, ...]:
    """Indices of the rounds to set aside: hiccups far above the side's median.

    A round qualifies when it exceeds the median of the other rounds by more than
    ``OUTLIER_FACTOR`` times and by more than ``OUTLIER_SPREADS`` of their robust standard
    deviations (of the logs), so that the ordinary spread of a noisy test rarely qualifies.
    Only slow rounds are set aside: a machine can stall a round, never speed it up. At most a
    third of the rounds (rounded down) go, the slowest first: when more rounds than that are
    far out, the side is bimodal rather than hiccuping, and its spread must count.
    """
    n = len(values)
    limit = (n - 1) // 3
    if limit == 0:
        return ()
    logs = [math.log(max(x, FLOOR_MS)) for x in values]
    factor = math.log(OUTLIER_FACTOR)
    # Centre and spread from the rounds within the factor of the median: the stalled rounds
    # themselves would widen the spread and hide each other.
    first = statistics.median(logs)
    rest = [x for x in logs if x - first <= factor]
    centre = statistics.median(rest)
    spread = robust_spread([x - centre for x in rest])
    cut = centre + max(factor, OUTLIER_SPREADS * spread)
    high = sorted((i for i in range(n) if logs[i] > cut), key=lambda i: -logs[i])
    return tuple(sorted(high[:limit]))


@dataclass(frozen=True)
class LogShift:
    """The estimate of ``mean(log head) - mean(log base)`` with its standard error."""

    estimate: float
    se: float
    df: float

    def p_greater(self) -> float:
        """One-sided p-value of "the head is slower"."""
        from scipy.special import stdtr  # ufunc: microseconds a call, no scipy.stats import

        if self.se == 0:
            return 0.0 if self.estimate > 0 else 1.0
        return float(stdtr(self.df, -self.estimate / self.se))

    def interval(self, confidence: float) -> tuple[float, float]:
        from scipy.special import stdtrit

        half = float(stdtrit(self.df, 0.5 + confidence / 2)) * self.se
        return self.estimate - half, self.estimate + half

    def detectable(self, alpha: float, power: float) -> float:
        """The smallest ratio flagged with probability ``power`` at level ``alpha``."""
        from scipy.special import stdtrit

        z = float(stdtrit(self.df, 1 - alpha)) + float(stdtrit(self.df, power))
        return math.exp(z * self.se)


def log_shift(base: Sequence[float], head: Sequence[float]) -> LogShift | None:
    """Student's two-sample t on log durations; None with fewer than two values on a side.

    The variance is pooled: the same code on the same machine spreads alike on both sides
    under the null hypothesis, and pooling buys degrees of freedom that a run of seven or nine
    rounds a side cannot spare (benchmarks/RESULTS.md has Welch's test beside it).
    """
    m, n = len(base), len(head)
    if m < 2 or n < 2:
        return None
    lb, lh = [math.log(x) for x in base], [math.log(x) for x in head]
    estimate = statistics.fmean(lh) - statistics.fmean(lb)
    pooled = ((m - 1) * statistics.variance(lb) + (n - 1) * statistics.variance(lh)) / (m + n - 2)
    return LogShift(estimate, math.sqrt(pooled * (1 / m + 1 / n)), m + n - 2)


def robust_spread(residuals: Sequence[float]) -> float:
    """Standard deviation estimated from the median absolute residual (outliers barely count)."""
    return MAD_TO_SD * statistics.median(abs(r) for r in residuals)
