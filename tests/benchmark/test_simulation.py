"""The harness's verdicts on simulated --against runs with hiccup rounds (fmd_profiler.benchmark
.simulation): slow-downs are found, unchanged commits raise no alarm. Seeded, so exact."""

import random

import pytest

from fmd_profiler.benchmark.simulation import (
    BASE,
    HEAD,
    NOISY,
    QUIET,
    Scenario,
    measure,
    simulate_run,
)

SEEDS = range(400)
HICCUPS = [(1, BASE), (1, HEAD), (2, BASE), (2, HEAD)]


@pytest.mark.parametrize("n", [8, 10])
@pytest.mark.parametrize("hiccups, side", HICCUPS)
def test_a_threefold_slow_down_is_flagged_whatever_round_hiccups(n, hiccups, side):
    # The case: x3 on an endpoint, one or two rounds x4 slower on either side, per-round
    # spread like its example's. A rank test passed it as "ok" after one hiccup.
    rates = measure(Scenario(n, 3.0, hiccups, side, noise=NOISY), SEEDS)
    assert rates.detection_rate >= 0.99, rates
    assert rates.set_aside == rates.runs  # every run set a hiccup round aside


@pytest.mark.parametrize("n", [8, 10])
@pytest.mark.parametrize("hiccups, side", [(0, BASE), *HICCUPS])
@pytest.mark.parametrize("noise", [NOISY, QUIET])
def test_an_unchanged_commit_flags_nothing_in_99_runs_of_100(n, hiccups, side, noise):
    rates = measure(Scenario(n, 1.0, hiccups, side, noise=noise), SEEDS)
    assert rates.false_alarm_rate <= 0.01, rates


@pytest.mark.parametrize("n", [8, 10])
@pytest.mark.parametrize("hiccups, side", HICCUPS)
def test_half_again_as_slow_is_flagged_on_a_quiet_machine(n, hiccups, side):
    rates = measure(Scenario(n, 1.5, hiccups, side, noise=QUIET), SEEDS)
    assert rates.detection_rate >= 0.99, rates


@pytest.mark.parametrize("n, least", [(8, 0.88), (10, 0.97)])
@pytest.mark.parametrize("hiccups, side", HICCUPS)
def test_half_again_as_slow_on_a_noisy_machine_needs_ten_rounds(n, least, hiccups, side):
    # With the example's spread (up to x1.5 between rounds) seven measured rounds a side cannot
    # reach 99 %: even a test that knew the true spread would not (benchmarks/RESULTS.md).
    rates = measure(Scenario(n, 1.5, hiccups, side, noise=NOISY), SEEDS)
    assert rates.detection_rate >= least, rates


def test_a_simulated_run_is_the_same_for_the_same_seed_and_stalls_whole_rounds():
    scenario = Scenario(8, 1.5, 2, HEAD)
    base, head = simulate_run(scenario, random.Random(7))
    assert simulate_run(scenario, random.Random(7)) == (base, head)
    assert sorted(base) == sorted(head) == [("endpoint", "e0"), ("endpoint", "e1"),
                                            ("endpoint", "e2"), ("test", "t0"), ("test", "t1"),
                                            ("test", "t2"), ("test", "t3")]
    assert all(len(v) == 7 for v in (*base.values(), *head.values()))
    # The two stalled head rounds are the slowest of every head sample.
    stalled = {frozenset(sorted(range(7), key=lambda r, v=v: v[r])[-2:]) for v in head.values()}
    assert len(stalled) == 1
