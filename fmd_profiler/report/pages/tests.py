"""The tests page: what the benchmark harness measured, run by run and commit by commit.

Shown when the store holds benchmark runs (``python -m fmd_profiler.benchmark``, locally or
uploaded to ``/submit-test-results``): every run with its provenance, the latest run's medians
per test and per endpoint with their verdicts against the baseline, the endpoints' history across
runs, and which test requests which endpoint. Runs are not limited by the report's window: a
run is one measurement, whenever it was stored.
"""

from __future__ import annotations

from typing import Any

from fmd_profiler.benchmark import benchmark_queries as bench
from fmd_profiler.report import report_queries as queries
from fmd_profiler.report.model import ChartSpec, Page
from fmd_profiler.report.options import ReportOptions
from fmd_profiler.report.pages.paths import TESTS

MAX_RUNS = 50
#: Runs per endpoint in the history chart, and endpoints in it (those that moved most).
HISTORY_RUNS = 30
HISTORY_ENDPOINTS = 12
MAX_VERDICT_ROWS = 30


def has_tests_page(con: Any, options: ReportOptions) -> bool:
    return queries.has_benchmark_runs(con)


def build_tests(con: Any, options: ReportOptions) -> Page:
    runs = bench.runs(con, limit=MAX_RUNS)
    # The newest run measured on its own commit; an --against base run is a reference only.
    latest = next((r for r in runs if r["label"] != "base"), runs[0])
    verdicts = {(v["kind"], v["name"]): v for v in bench.verdicts(con, latest["run_id"])}
    tests = [{**t, "verdict": verdicts.get(("test", t["test_id"]))}
             for t in bench.test_medians(con, latest["run_id"])]
    endpoints = [{**e, "verdict": verdicts.get(("endpoint", e["endpoint"]))}
                 for e in bench.endpoint_medians(con, latest["run_id"])]
    charts = [c for c in (_verdict_chart(list(verdicts.values())),
                          _history_chart(con, [e["endpoint"] for e in endpoints]))
              if c is not None]
    context = {
        "runs": runs,
        "latest": latest,
        "baseline": next((r for r in runs if r["run_id"] == latest["baseline_run_id"]), None),
        "tests": tests,
        "endpoints": endpoints,
        "mapping": bench.test_endpoints(con, latest["run_id"]),
        "regressions": sum(1 for v in verdicts.values() if v["verdict"] == "regression"),
    }
    return Page(TESTS, "Tests", "tests.html", context, charts=tuple(charts))


def _verdict_chart(verdicts: list[dict[str, Any]]) -> ChartSpec | None:
    import pandas as pd

    compared = [v for v in verdicts if v["ratio"] is not None and v["ci_low"] is not None
                and v["ci_high"] is not None]
    if not compared:
        return None
    compared.sort(key=lambda v: (-v["ratio"], v["kind"], v["name"]))
    shown = compared[:MAX_VERDICT_ROWS]
    data = pd.DataFrame({"name": [f"{v['kind']} {v['name']}" for v in shown],
                         "ratio": [v["ratio"] for v in shown],
                         "ci_low": [v["ci_low"] for v in shown],
                         "ci_high": [v["ci_high"] for v in shown],
                         "verdict": [v["verdict"] for v in shown]})
    more = len(compared) - len(shown)
    return ChartSpec("verdict_ratios", data, "Latest run against its baseline",
                     alt="Ratio of medians with confidence intervals per test and endpoint",
                     caption="Median of the latest run / median of the baseline, with the 95 % "
                             "interval; red: flagged as a regression."
                             + (f" The {len(shown)} largest ratios; {more} more in the tables."
                                if more else ""),
                     height=0.9 + 0.26 * len(shown))


def _history_chart(con: Any, endpoints: list[str]) -> ChartSpec | None:
    import pandas as pd

    flagged = queries.regression_flags(con)
    series = []
    for endpoint in endpoints:
        history = bench.endpoint_history(con, endpoint, limit=HISTORY_RUNS)
        medians = [h["median_ms"] for h in history if h["median_ms"] is not None]
        if len(medians) >= 2:
            moved = max(medians) / max(min(medians), 1e-9)
            series.append((-moved, endpoint, history))
    if not series:
        return None
    series.sort(key=lambda s: (s[0], s[1]))
    shown = series[:HISTORY_ENDPOINTS]
    order = {run: i for i, run in enumerate(sorted(
        {(h["started_at"], h["run_id"]) for _, _, history in shown for h in history}))}
    data = pd.DataFrame.from_records([
        {"name": endpoint, "run": order[(h["started_at"], h["run_id"])],
         "commit": h["short_sha"] or h["run_id"][:8], "median_ms": h["median_ms"],
         "regression": (h["run_id"], endpoint) in flagged}
        for _, endpoint, history in shown for h in history])
    rows = -(-len(shown) // 3)  # three panels a row (charts.run_history)
    return ChartSpec("run_history", data, "Median per run",
                     alt="Small multiples of each endpoint's median request duration per run",
                     caption="One panel per endpoint (those that moved most across runs), oldest "
                             "run on the left; red: flagged as a regression in that run.",
                     width=12.8, height=0.7 + 1.7 * rows)
