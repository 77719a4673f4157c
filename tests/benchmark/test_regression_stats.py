"""The harness's statistics on synthetic samples: no false alarms, real slow-downs found."""

import math

import numpy as np
import pytest

from fmd_profiler.benchmark.regressions import (
    INCONCLUSIVE,
    NEW,
    OK,
    REGRESSION,
    TOO_FEW,
    Settings,
    benjamini_hochberg,
    judge,
)
from fmd_profiler.benchmark.stats import compare, outlier_rounds


def _noisy(rng, n, scale=1.0, sigma=0.2, outlier_rate=0.1):
    """Durations around 10 ms * scale: log-normal noise and slow outliers (x1.5-3)."""
    values = 10.0 * scale * np.exp(rng.normal(0.0, sigma, n))
    outliers = rng.random(n) < outlier_rate
    return list(values * np.where(outliers, rng.uniform(1.5, 3.0, n), 1.0))


def _quiet(rng, n, scale=1.0):
    """A CI machine's per-round timings: about 10 % spread."""
    return _noisy(rng, n, scale, sigma=0.1, outlier_rate=0.0)


def _suite(rng, sample, rounds, slowed=()):
    """Base and head samples of twenty tests t00..t19; those in ``slowed`` 30 % slower."""
    names = [f"t{i:02}" for i in range(20)]
    base = {("test", n): sample(rng, rounds) for n in names}
    head = {("test", n): sample(rng, rounds, 1.3 if n in slowed else 1.0) for n in names}
    return base, head


def test_an_a_a_comparison_flags_at_most_one_percent_of_the_time():
    flagged = 0
    seeds = 1000
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        verdicts = judge({("test", "t"): _noisy(rng, 10)}, {("test", "t"): _noisy(rng, 10)})
        flagged += verdicts[0].is_regression
    assert flagged / seeds <= 0.01


def test_a_whole_a_a_suite_almost_never_fails_a_build():
    # 20 tests compared at once: the correction keeps the chance of any false alarm in a run
    # below alpha.
    runs_with_alarm = 0
    for seed in range(60):
        base, head = _suite(np.random.default_rng(10_000 + seed), _noisy, 10)
        runs_with_alarm += any(v.is_regression for v in judge(base, head))
    assert runs_with_alarm == 0


def test_a_thirty_percent_slow_down_is_found_with_ten_rounds():
    found = 0
    for seed in range(200):
        rng = np.random.default_rng(50_000 + seed)
        base = {("endpoint", "e"): _quiet(rng, 10)}
        head = {("endpoint", "e"): _quiet(rng, 10, scale=1.3)}
        found += judge(base, head)[0].is_regression
    assert found / 200 >= 0.95


def test_among_twenty_tests_only_the_slowed_one_is_flagged():
    # Twenty comparisons share the error budget, so a lone slow-down needs more rounds than one
    # comparison does: 20 a side.
    exact_hits = 0
    for seed in range(20):
        base, head = _suite(np.random.default_rng(70_000 + seed), _quiet, 20, slowed={"t19"})
        flagged = [v.name for v in judge(base, head) if v.is_regression]
        assert flagged in ([], ["t19"])
        exact_hits += flagged == ["t19"]
    assert exact_hits >= 18


def test_a_small_real_change_below_the_threshold_is_not_a_regression():
    base = [10.0 + 0.01 * i for i in range(10)]
    head = [x * 1.05 for x in base]  # certainly slower, but only by 5 %
    verdict = judge({("test", "t"): base}, {("test", "t"): head})[0]
    assert verdict.comparison.p_value < 1e-4
    assert verdict.verdict == OK


def test_one_change_that_slows_many_tests_flags_them_together():
    # A helper six tests call got 30 % slower; ten rounds. Benjamini-Hochberg flags the six
    # together, where a lone slowed test among twenty needs more rounds (above).
    found = 0
    for seed in range(20):
        six = {f"t{i:02}" for i in range(6)}
        base, head = _suite(np.random.default_rng(90_000 + seed), _quiet, 10, slowed=six)
        flagged = {v.name for v in judge(base, head) if v.is_regression}
        assert flagged <= six
        found += len(flagged)
    assert found / (20 * 6) >= 0.95


def test_adjusted_p_values_are_benjamini_hochberg_over_the_run():
    base = {("test", "a"): [1.0, 1.1, 1.2, 1.3, 1.4], ("test", "b"): [1.0, 1.1, 1.2, 1.3, 1.4]}
    head = {("test", "a"): [2.0, 2.1, 2.2, 2.3, 2.4], ("test", "b"): [1.05, 1.15, 1.25, 1.35,
                                                                      1.45]}
    verdicts = {v.name: v for v in judge(base, head)}
    p_a, p_b = verdicts["a"].comparison.p_value, verdicts["b"].comparison.p_value
    assert verdicts["a"].p_adjusted == pytest.approx(min(2 * p_a, p_b))
    assert verdicts["b"].p_adjusted == pytest.approx(p_b)


def test_the_issue_example_is_flagged_with_the_hiccup_round_set_aside():
    # One base round hiccuped (5.52 ms); a rank test put it above every head round and, corrected
    # for 11 comparisons, called a x3 slow-down "ok".
    base = [1.00, 1.33, 1.15, 1.19, 1.37, 1.51, 1.45, 5.52]
    head = [3.93, 4.10, 4.51, 4.02, 4.25, 4.44, 3.98, 4.31]
    others = {("test", f"t{i}"): [10.0 + 0.1 * (i + r % 3) for r in range(8)] for i in range(10)}
    verdicts = {v.name: v for v in judge({("endpoint", "api.items"): base, **others},
                                         {("endpoint", "api.items"): head, **others})}
    items = verdicts["api.items"]
    assert items.verdict == REGRESSION
    assert items.comparison.base_set_aside == (7,) and items.comparison.head_set_aside == ()
    assert items.comparison.n_base == 7
    assert 2.6 < items.comparison.ci_low < items.comparison.ratio < items.comparison.ci_high


def test_only_rounds_far_above_their_side_are_set_aside_and_at_most_a_third():
    spread = [1.00, 1.33, 1.15, 1.19, 1.37, 1.51, 1.45]
    assert outlier_rounds(spread) == ()  # ordinary noise stays
    assert outlier_rounds([*spread, 5.5]) == (7,)
    assert outlier_rounds([0.1, *spread]) == ()  # a fast round is never a hiccup
    assert outlier_rounds([5.5, 1.0, 1.1, 5.0, 1.2, 1.1, 1.0, 1.3]) == (0, 3)
    # Three of eight far out: a third is two, the slowest two go.
    assert outlier_rounds([5.5, 1.0, 6.0, 5.0, 1.2, 1.1, 1.0, 1.3]) == (0, 2)
    assert outlier_rounds([1.0, 1.1, 9.0]) == ()  # too few rounds to tell a hiccup


def test_the_ratio_is_the_ratio_of_medians_with_an_interval_around_it():
    base = [10.0, 11.0, 12.0, 13.0, 14.0, 10.5, 11.5, 12.5, 13.5, 9.5]
    head = [x * 1.3 for x in base]
    c = compare(base, head, alpha=0.01)
    assert c.ratio == pytest.approx(1.3)
    assert c.base_median == 11.75
    assert c.ci_low <= 1.3 <= c.ci_high
    assert (c.n_base, c.n_head) == (10, 10)


def test_one_round_a_side_can_detect_nothing():
    c = compare([10.0], [30.0], alpha=0.01)
    assert c.detectable_ratio == math.inf and c.p_value == 1.0
    assert math.isfinite(compare([10.0, 11.0, 12.0], [10.0, 11.0, 12.0], alpha=0.01)
                         .detectable_ratio)


def test_the_detectable_ratio_shrinks_with_more_rounds():
    rng = np.random.default_rng(3)
    few = compare(list(np.exp(rng.normal(0, 0.2, 6))), list(np.exp(rng.normal(0, 0.2, 6))),
                  alpha=0.01).detectable_ratio
    many = compare(list(np.exp(rng.normal(0, 0.2, 30))), list(np.exp(rng.normal(0, 0.2, 30))),
                   alpha=0.01).detectable_ratio
    assert 1.0 < many < few < math.inf


def test_a_noisy_slow_down_that_cannot_be_shown_is_inconclusive_not_ok():
    base = [10.0, 14.0, 9.0, 13.0, 11.0]
    head = [13.0, 19.0, 11.0, 18.0, 15.0]  # x1.36, but the rounds overlap
    [verdict] = judge({("test", "t"): base}, {("test", "t"): head})
    assert verdict.verdict == INCONCLUSIVE
    [steady] = judge({("test", "t"): base}, {("test", "t"): base})
    assert steady.verdict == INCONCLUSIVE  # five noisy rounds cannot rule out x1.10 either
    quiet = [10.0, 10.1, 9.9, 10.05, 9.95, 10.0]
    assert judge({("test", "t"): quiet}, {("test", "t"): quiet})[0].verdict == OK


def test_benjamini_hochberg_matches_scipy():
    from scipy.stats import false_discovery_control

    p = [0.01, 0.04, 0.03, 0.5, 0.0001, 0.2]
    assert benjamini_hochberg(p) == pytest.approx(list(false_discovery_control(p)))
    assert benjamini_hochberg([]) == []


def test_new_tests_and_tests_with_few_rounds_are_not_compared():
    base = {("test", "old"): [1.0] * 2, ("test", "same"): [1.0, 1.1, 1.2]}
    head = {("test", "old"): [1.0] * 5, ("test", "new"): [1.0] * 5,
            ("test", "same"): [1.0, 1.1, 1.2]}
    verdicts = {v.name: v.verdict for v in judge(base, head, Settings(min_samples=3))}
    assert verdicts == {"new": NEW, "old": TOO_FEW, "same": INCONCLUSIVE}  # 3 rounds: who knows
    assert REGRESSION not in verdicts.values()


def test_a_consistent_but_tiny_shift_is_not_a_regression() -> None:
    # 0.27 ms -> 0.30 ms in every round: significant and x1.11, but 0.03 ms is noise of the
    # process, not of the code.
    base = {("test", "t"): [0.27 + i * 0.001 for i in range(12)]}
    head = {("test", "t"): [0.30 + i * 0.001 for i in range(12)]}
    [verdict] = judge(base, head)
    assert verdict.comparison is not None and verdict.comparison.ratio > 1.10
    assert verdict.verdict == "ok"
    [strict] = judge(base, head, Settings(min_change_ms=0.0))
    assert strict.verdict == "regression"
