"""Simulated ``--against`` runs: how often the verdicts catch a slow-down, and how often an
unchanged commit (A/A) raises a false alarm, with hiccup rounds injected into either side.

Pure: synthetic per-round durations go through the harness's own decision - the look at the first
rounds (:func:`.regressions.why_more_rounds`), the extra rounds it may ask for, one
:func:`.regressions.judge` on every round - so what is measured is the shipped decision. The
randomness comes from an injected :class:`random.Random`, so a seed gives the same run every time
(tests assert exact counts).
``python -m benchmarks.verdicts`` prints the rates that benchmarks/RESULTS.md quotes.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from fmd_profiler.benchmark.regressions import (
    DEFAULT_EXTRA_ROUNDS,
    DEFAULT_SETTINGS,
    Key,
    Settings,
    Verdict,
    judge,
    why_more_rounds,
)

BASE, HEAD = "base", "head"
#: Per-round spread of a noisy shared CI machine (rounds of one test up to x1.5 apart): the
#: standard deviation of log durations of each comparison is drawn from this range.
NOISY = (0.05, 0.15)
#: A quieter machine: a few percent between rounds.
QUIET = (0.02, 0.08)


@dataclass(frozen=True)
class Scenario:
    """One kind of run. The changed endpoint ``e0`` and the test ``t0`` that calls it are slowed
    by ``slowdown`` in the head (1.0: an unchanged commit); every test ``t<i>`` with i below
    ``endpoints`` calls endpoint ``e<i>``. The hiccups fall into the first rounds, where the
    harness decides whether to run ``extra_rounds`` more (its --max-extra-rounds)."""

    n: int  # the harness's -n: rounds per side, the first a warm-up
    slowdown: float = 1.0
    hiccups: int = 0  # rounds of one side that take hiccup_factor times longer
    hiccup_side: str = BASE
    hiccup_factor: float = 4.0
    endpoints: int = 3
    tests: int = 4
    noise: tuple[float, float] = NOISY
    extra_rounds: int = DEFAULT_EXTRA_ROUNDS

    @property
    def measured_rounds(self) -> int:
        return self.n - 1


@dataclass(frozen=True)
class Rates:
    runs: int
    detected: int  # runs that flagged both e0 and t0 (slow-down scenarios)
    false_alarms: int  # runs that flagged anything that did not change
    set_aside: int  # runs in which some outlier round was set aside
    extended: int = 0  # runs that ran the extra rounds

    @property
    def detection_rate(self) -> float:
        return self.detected / self.runs

    @property
    def false_alarm_rate(self) -> float:
        return self.false_alarms / self.runs


def simulate_run(scenario: Scenario, rng: random.Random) -> tuple[dict[Key, list[float]],
                                                                    dict[Key, list[float]]]:
    """Base and head samples (per measured round, ms) of one simulated run: the first
    ``measured_rounds``, then the ``extra_rounds`` the harness may add (drawn from a stream of
    their own, so the first rounds of a seed do not depend on how many may follow)."""
    rounds = scenario.measured_rounds
    keys = [("endpoint", f"e{i}") for i in range(scenario.endpoints)]
    keys += [("test", f"t{i}") for i in range(scenario.tests)]
    slowed = {("endpoint", "e0"), ("test", "t0")} if scenario.slowdown != 1.0 else set()
    # A hiccup stalls a whole round of one side: every test and endpoint in it.
    stalled = set(rng.sample(range(rounds), scenario.hiccups))
    sides: dict[str, dict[Key, list[float]]] = {BASE: {}, HEAD: {}}
    shapes = {}
    for key in keys:
        typical = math.exp(rng.uniform(math.log(0.5), math.log(20.0)))
        # The same code on the same machine: one spread for both sides of a comparison.
        sigma = rng.uniform(*scenario.noise)
        shapes[key] = typical, sigma
        for side, samples in sides.items():
            scale = typical * (scenario.slowdown if side == HEAD and key in slowed else 1.0)
            samples[key] = [
                scale * math.exp(rng.gauss(0.0, sigma))
                * (scenario.hiccup_factor if side == scenario.hiccup_side and r in stalled
                   else 1.0)
                for r in range(rounds)]
    extra = random.Random(rng.getrandbits(64))
    for key in keys:
        typical, sigma = shapes[key]
        for side, samples in sides.items():
            scale = typical * (scenario.slowdown if side == HEAD and key in slowed else 1.0)
            samples[key] += [scale * math.exp(extra.gauss(0.0, sigma))
                             for _ in range(scenario.extra_rounds)]
    return sides[BASE], sides[HEAD]


#: A decision over a run: base and head samples per key in, verdicts out (``judge``'s shape).
Decide = Callable[[Mapping[Key, Sequence[float]], Mapping[Key, Sequence[float]], Settings],
                  list[Verdict]]


def decide_run(scenario: Scenario, base: Mapping[Key, Sequence[float]],
               head: Mapping[Key, Sequence[float]], settings: Settings = DEFAULT_SETTINGS,
               decide: Decide = judge) -> tuple[list[Verdict], bool]:
    """What the harness does with a run: look at the first rounds; when they do not settle it
    and extra rounds are allowed, judge all rounds, else the first ones. Also says whether the
    extra rounds were run."""
    first = scenario.measured_rounds
    base_first = {k: list(v[:first]) for k, v in base.items()}
    head_first = {k: list(v[:first]) for k, v in head.items()}
    if scenario.extra_rounds and why_more_rounds(base_first, head_first, settings) is not None:
        return decide(base, head, settings), True
    return decide(base_first, head_first, settings), False


def measure(scenario: Scenario, seeds: range, settings: Settings = DEFAULT_SETTINGS,
            rng_for: Callable[[int], random.Random] = random.Random,
            decide: Decide = judge) -> Rates:
    """Judge one simulated run per seed and count the outcomes. ``decide`` is the harness's
    :func:`.regressions.judge` unless another design is to be weighed against it."""
    detected = false_alarms = set_aside = extended = 0
    expected = {("endpoint", "e0"), ("test", "t0")} if scenario.slowdown != 1.0 else set()
    for seed in seeds:
        verdicts, more = decide_run(scenario, *simulate_run(scenario, rng_for(seed)), settings,
                                    decide)
        flagged = {(v.kind, v.name) for v in verdicts if v.is_regression}
        detected += bool(expected) and expected <= flagged
        false_alarms += bool(flagged - expected)
        set_aside += any(v.comparison is not None and (v.comparison.base_set_aside
                                                       or v.comparison.head_set_aside)
                         for v in verdicts)
        extended += more
    return Rates(len(seeds), detected, false_alarms, set_aside, extended)
