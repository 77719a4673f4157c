"""How often the harness's verdicts catch a slow-down, and how often an unchanged commit raises a
false alarm, on simulated ``--against`` runs with hiccup rounds (fmd_profiler.benchmark.simulation).

``python -m benchmarks.verdicts [--seeds N]`` prints the Markdown section that benchmarks/RESULTS.md
carries (a full ``python -m benchmarks.run`` writes it there with the rest). Beside the shipped
decision (extra rounds when the first ones leave a doubt) it runs the same decision on the -n
rounds alone (``--max-extra-rounds 0``) and the one before issue 27 - a one-sided Mann-Whitney
test on the raw rounds - on the same seeds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

from fmd_profiler.benchmark.regressions import (
    DEFAULT_EXTRA_ROUNDS,
    OK,
    REGRESSION,
    Key,
    Settings,
    Verdict,
    benjamini_hochberg,
    judge,
)
from fmd_profiler.benchmark.simulation import BASE, HEAD, NOISY, QUIET, Decide, Scenario, measure

HICCUPS = ((0, BASE), (1, BASE), (1, HEAD), (2, BASE), (2, HEAD))
NOISES = {"the issue's spread (σ of log durations 0.05-0.15 a comparison)": NOISY,
          "a quieter machine (σ 0.02-0.08)": QUIET}
SLOWDOWNS = (1.5, 3.0)


def rank_test_on_raw_rounds(base: Mapping[Key, Sequence[float]],
                            head: Mapping[Key, Sequence[float]],
                            settings: Settings) -> list[Verdict]:
    """The decision before issue 27: exact one-sided Mann-Whitney on every round, BH, ratio of
    medians above the threshold and a change above min_change_ms."""
    from scipy.stats import mannwhitneyu

    keys = sorted(head)
    p_values = []
    for key in keys:
        exact = len(set(base[key]) | set(head[key])) == len(base[key]) + len(head[key])
        p_values.append(float(mannwhitneyu(head[key], base[key], alternative="greater",
                                           method="exact" if exact else "asymptotic").pvalue))
    verdicts = []
    for key, p in zip(keys, benjamini_hochberg(p_values), strict=True):
        b, h = statistics.median(base[key]), statistics.median(head[key])
        flagged = (p < settings.alpha and h / b > settings.threshold
                   and h - b > settings.min_change_ms)
        verdicts.append(Verdict(key[0], key[1], REGRESSION if flagged else OK, None, p))
    return verdicts


#: name -> (decision on a run's rounds, extra rounds allowed after the first look).
DESIGNS: dict[str, tuple[Decide, int]] = {
    "shipped": (judge, DEFAULT_EXTRA_ROUNDS),
    "no extra rounds": (judge, 0),
    "rank test": (rank_test_on_raw_rounds, 0),
}


def run(seeds: int = 1000) -> dict[str, Any]:
    """Every cell of the grid, for each design. Settings are the harness's defaults."""
    started = time.monotonic()
    settings = Settings()
    cells = []
    for noise_name, noise in NOISES.items():
        for n in (8, 10):
            for hiccups, side in HICCUPS:
                cell: dict[str, Any] = {"noise": noise_name, "n": n, "hiccups": hiccups,
                                        "side": side}
                for design, (decide, extra) in DESIGNS.items():
                    for slowdown in (*SLOWDOWNS, 1.0):
                        scenario = Scenario(n, slowdown, hiccups, side, noise=noise,
                                            extra_rounds=extra)
                        rates = measure(scenario, range(seeds), settings, decide=decide)
                        cell[design, slowdown] = (rates.detection_rate if slowdown != 1.0
                                                  else rates.false_alarm_rate)
                        if design == "shipped":
                            cell["extended", slowdown] = rates.extended / rates.runs
                cells.append(cell)
    return {"seeds": seeds, "cells": cells, "comparisons": Scenario(8).endpoints
            + Scenario(8).tests, "alpha": settings.alpha, "threshold": settings.threshold,
            "extra_rounds": DEFAULT_EXTRA_ROUNDS, "designs": list(DESIGNS),
            "seconds": time.monotonic() - started}


def main(argv: Sequence[str] | None = None) -> int:
    from benchmarks.report import render_verdicts

    parser = argparse.ArgumentParser(prog="python -m benchmarks.verdicts", description=__doc__)
    parser.add_argument("--seeds", type=int, default=1000, help="simulated runs per cell")
    args = parser.parse_args(argv)
    print("\n".join(render_verdicts(run(args.seeds))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
