"""Regression verdicts: every test and endpoint of a run judged against its baseline.

A comparison is flagged (REGRESSION) only when all hold: its one-sided p-value (see
:mod:`.stats`: outlier rounds set aside, a t-test on log durations), adjusted with
Benjamini-Hochberg over every comparison of the run, is below ``alpha``; the ratio of medians
exceeds ``threshold``; and the medians differ by more than ``min_change_ms`` (so a real but
negligible change does not fail a build). For an unchanged commit every comparison is a null one,
and then the chance that anything at all is flagged stays below ``alpha``, as with Holm's method;
but when a change slows many tests down (a helper they all call), Benjamini-Hochberg flags them
together where Holm, testing the first at alpha/m, can miss all of them. A comparison not flagged
is OK only when its confidence interval rules out a slow-down beyond the threshold (or beyond
``min_change_ms``); otherwise it is INCONCLUSIVE: too noisy or too few rounds to tell, never a
silent pass. :func:`why_more_rounds` is the harness's one look at the first rounds: when any
comparison is flagged or inconclusive there, more rounds are run and :func:`judge` decides once,
on all of them. Pure: samples in, frozen verdicts out.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fmd_profiler.benchmark.stats import Comparison, compare

#: A sample key: ("test", node id) or ("endpoint", endpoint name).
Key = tuple[str, str]

REGRESSION = "regression"
OK = "ok"
INCONCLUSIVE = "inconclusive"
TOO_FEW = "too_few_samples"
NEW = "new"


@dataclass(frozen=True)
class Settings:
    threshold: float = 1.10  # flag only ratios above this
    # ... and only medians that moved by more than this many milliseconds: a 0.3 ms test is
    # shifted by tenths of a percent of a millisecond by where a process's memory happens to lie,
    # consistently, which a rank test then calls significant.
    min_change_ms: float = 0.1
    alpha: float = 0.005  # family-wise error rate of one run
    confidence: float = 0.95  # of the ratio's interval
    power: float = 0.8  # for the detectable ratio
    min_samples: int = 3  # per side, below which a comparison is not attempted


DEFAULT_SETTINGS = Settings()
#: The harness's --max-extra-rounds by default: enough to lift a x1.5 slow-down with one or two
#: stalled rounds at -n 8 to the detection rate the simulation asks for, with a margin
#: (benchmarks/RESULTS.md).
DEFAULT_EXTRA_ROUNDS = 4


@dataclass(frozen=True)
class Verdict:
    kind: str  # "test" or "endpoint"
    name: str
    verdict: str  # REGRESSION, OK, INCONCLUSIVE, TOO_FEW or NEW
    comparison: Comparison | None = None
    p_adjusted: float | None = None

    @property
    def is_regression(self) -> bool:
        return self.verdict == REGRESSION


def judge(base: Mapping[Key, Sequence[float]], head: Mapping[Key, Sequence[float]],
          settings: Settings = DEFAULT_SETTINGS) -> list[Verdict]:
    """One verdict per key of ``head``, ordered by kind then name.

    Keys missing from ``base`` are NEW; keys with fewer than ``min_samples`` on either side are
    TOO_FEW and do not count in the family.
    """
    comparable = sorted(k for k in head if len(head[k]) >= settings.min_samples
                        and len(base.get(k, ())) >= settings.min_samples)
    family = max(len(comparable), 1)
    # The detectable ratio is computed at alpha/m: the level a lone regression's p-value must
    # reach under Benjamini-Hochberg (several together need less).
    comparisons = {k: compare(base[k], head[k], alpha=settings.alpha / family,
                              confidence=settings.confidence, power=settings.power)
                   for k in comparable}
    adjusted = dict(zip(comparable, benjamini_hochberg([comparisons[k].p_value
                                                        for k in comparable]), strict=True))
    verdicts = []
    for key in sorted(head):
        kind, name = key
        if key not in comparisons:
            verdicts.append(Verdict(kind, name, NEW if key not in base else TOO_FEW))
            continue
        c, p = comparisons[key], adjusted[key]
        verdicts.append(Verdict(kind, name, _verdict(c, p, settings), c, p))
    return verdicts


def why_more_rounds(base: Mapping[Key, Sequence[float]], head: Mapping[Key, Sequence[float]],
                    settings: Settings = DEFAULT_SETTINGS) -> str | None:
    """Why the first rounds do not settle the run (None when they do).

    The harness and :mod:`.simulation` both ask this after the first rounds, and then judge
    every round once. A comparison that would be flagged asks for more rounds as well as an
    inconclusive one: so a flag is only ever raised on all rounds, never on the first look, and
    the chance of a false alarm is at most that of the one test on all rounds
    (docs/ci-harness.md has the argument).
    """
    verdicts = judge(base, head, settings)
    flagged = [v.name for v in verdicts if v.verdict == REGRESSION]
    unsure = [v.name for v in verdicts if v.verdict == INCONCLUSIVE]
    if not flagged and not unsure:
        return None
    parts = []
    if flagged:
        parts.append(f"{_count(flagged)} flagged, to be confirmed ({_names(flagged)})")
    if unsure:
        parts.append(f"{_count(unsure)} inconclusive ({_names(unsure)})")
    return " and ".join(parts)


#: Tests whose median ratio is taken for the head process's shift as a whole.
SHIFT_MIN_TESTS = 3


def whole_shift(test_ratios: Sequence[float]) -> float | None:
    """How the head's tests ran against the base's as a whole: the median ratio of all tests
    (None with fewer than :data:`SHIFT_MIN_TESTS`)."""
    if len(test_ratios) < SHIFT_MIN_TESTS:
        return None
    return statistics.median(test_ratios)


def why_run_again(verdicts: Sequence[Verdict], settings: Settings = DEFAULT_SETTINGS
                  ) -> str | None:
    """Why the run is to be made again in new processes (None: its verdicts stand).

    Base and head run in one process each, and once in a while one whole process runs slower
    than the other (CI once ran a head x1.3-1.9 slower on every test, a test without requests
    included), which interleaving cannot cancel. When the median ratio of all tests is beyond the
    threshold and anything is flagged, the run cannot tell that process from the code, so the
    harness runs both sides again in new processes, once, and decides on that run: a shift that
    the code causes (a helper every test calls) comes back, one process's bad luck does not.
    """
    ratios = [v.comparison.ratio for v in verdicts if v.kind == "test" and v.comparison]
    shift = whole_shift(ratios)
    flagged = [v.name for v in verdicts if v.is_regression]
    if shift is None or shift <= settings.threshold or not flagged:
        return None
    return (f"the head's tests ran x{shift:.2f} against the base's as a whole (median over "
            f"{len(ratios)} tests), and {_count(flagged)} flagged ({_names(flagged)})")


def _count(names: Sequence[str]) -> str:
    return f"{len(names)} comparison{'s' if len(names) != 1 else ''}"


def _names(names: Sequence[str], shown: int = 3) -> str:
    more = f", and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _verdict(c: Comparison, p_adjusted: float, settings: Settings) -> str:
    if (p_adjusted < settings.alpha and c.ratio > settings.threshold
            and c.head_median - c.base_median > settings.min_change_ms):
        return REGRESSION
    # The interval's upper end is the largest slow-down the data still allow.
    allowed_ms = (c.ci_high - 1) * c.base_median
    if c.ci_high <= settings.threshold or allowed_ms <= settings.min_change_ms:
        return OK
    return INCONCLUSIVE


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values, in the order given (the step-up procedure)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p_values[i] * m / rank)
        adjusted[i] = min(running, 1.0)
    return adjusted
