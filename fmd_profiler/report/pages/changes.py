"""The versions page's answer to "why": for an endpoint that got slower or faster between two
versions, the functions whose time per request changed most.

Function times come from the sampled stacks of each version
(:func:`~fmd_profiler.queries.profile_queries.function_changes`). Functions on every stack (the
dispatch
root and the view itself) changed exactly as much as the endpoint did, so they are marked in the
table and left out of the chart, which shows where inside the request the change happened.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

from fmd_profiler.queries import profile_queries
from fmd_profiler.report.model import ChartSpec, Section
from fmd_profiler.report.options import ReportOptions
from fmd_profiler.report.pages.paths import endpoint_path
from fmd_profiler.report.significance import Comparison

#: Changed endpoints explained per pair of versions (the most significant first).
MAX_ENDPOINTS = 10
FUNCTIONS = 15
CHART_BARS = 8
#: Bars shorter than this fraction of the longest are left out of the chart (the table has them).
MIN_BAR = 0.02
#: A function's total within this fraction of the mean request is "the whole request".
WHOLE_REQUEST = 1e-3


def function_changes_section(con: Any, options: ReportOptions,
                             comparisons: list[Comparison]) -> Section | None:
    changed = [c for c in comparisons if c.verdict in ("slower", "faster")][:MAX_ENDPOINTS]
    blocks = [b for b in (_explain(con, options, c) for c in changed) if b is not None]
    if not blocks:
        return None
    first = comparisons[0]
    key = hashlib.sha256(f"{first.before}\0{first.after}".encode()).hexdigest()[:10]
    return Section(f"functions-{key}", "Where the time changed",
                   "section_changes.html", {"blocks": blocks},
                   charts=tuple(b["chart"] for b in blocks if b["chart"] is not None))


def _explain(con: Any, options: ReportOptions, c: Comparison) -> dict[str, Any] | None:
    window = options.window
    means: list[float] = []
    for version in (c.before, c.after):
        cover = profile_queries.coverage(con, window, endpoint=c.endpoint, version=version)
        mean = cover.get(c.endpoint, {}).get("mean_ms")
        if mean is None:
            return None  # one side was never profiled: nothing to compare
        means.append(mean)
    rows = profile_queries.function_changes(con, c.endpoint, c.before, c.after, window,
                                            limit=FUNCTIONS + 4)
    for row in rows:
        row["whole_request"] = (_close(row["before_total_ms"], means[0])
                                and _close(row["after_total_ms"], means[1]))
    inner = [r for r in rows if not r["whole_request"] and r["delta_total_ms"] != 0]
    longest = max((abs(r["delta_total_ms"]) for r in inner), default=0.0)
    inner = [r for r in inner if abs(r["delta_total_ms"]) >= MIN_BAR * longest]
    return {"comparison": c, "path": endpoint_path(c.endpoint), "rows": rows[:FUNCTIONS],
            "mean_before": means[0], "mean_after": means[1],
            "chart": _chart(c, inner[:CHART_BARS])}


def _close(value: float, mean: float) -> bool:
    return math.isclose(value, mean, rel_tol=WHOLE_REQUEST, abs_tol=1e-6)


def _chart(c: Comparison, rows: list[dict[str, Any]]) -> ChartSpec | None:
    import pandas as pd

    if not rows:
        return None
    data = pd.DataFrame({"function": [r["function"] for r in rows],
                         "delta_ms": [r["delta_total_ms"] for r in rows]})
    return ChartSpec("function_changes", data, "Change in time per function",
                     alt=f"Bar chart of the change in time per function of {c.endpoint}",
                     caption="Change in total time per request (the function and what it "
                             "calls); red: slower, green: faster.",
                     height=0.8 + 0.32 * len(rows))
