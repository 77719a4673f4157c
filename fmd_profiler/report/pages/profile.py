"""The profiler's sections of an endpoint page: where its time goes, and its slow requests.

:func:`profile_section` shows the endpoint's sampled stacks as a flame graph (interactive, with
the PNG as the fallback without JavaScript), a sortable table of
its functions (self and total time per request, share of the request, exact-mode calls) and
links to the same stacks as folded and speedscope files. :func:`slow_requests_section` lists its
newest outliers and detailed per-request profiles, each with a page of its own
(:mod:`~fmd_profiler.report.pages.requests_page`). Both return None when the profiler recorded
nothing.
"""

from __future__ import annotations

from typing import Any

from fmd_profiler.queries import profile_queries
from fmd_profiler.report.exports import (
    endpoint_file_name,
    folded_bytes,
    speedscope_bytes,
    speedscope_file_name,
)
from fmd_profiler.report.flame_data import flame_data
from fmd_profiler.report.model import ChartSpec, Download, Section
from fmd_profiler.report.options import ReportOptions
from fmd_profiler.report.pages.paths import PROFILE_DIR, request_path

#: The function table lists functions with at least this share of the request (self or total)
#: or with exact-mode calls, at most MAX_FUNCTIONS of them; the exports have every one.
MIN_FUNCTION_SHARE = 0.005
MAX_FUNCTIONS = 80
#: Below this many samples the profile says it rests on few (a share is then known to about
#: ±100/sqrt(n) points).
FEW_SAMPLES = 400
#: Full page width, in inches at the charts' 100 dpi.
FLAME_WIDTH = 12.8
FLAME_MAX_DEPTH = 40
#: Per endpoint page (the outliers page lists the newest ones of every endpoint).
OUTLIERS_PER_ENDPOINT = 10
DETAILS_PER_ENDPOINT = 5


def profile_section(con: Any, options: ReportOptions, row: dict[str, Any]) -> Section | None:
    endpoint = row["endpoint"]
    window = options.window
    functions = profile_queries.function_table(con, endpoint, window)
    if not functions:
        return None
    coverage = profile_queries.coverage(con, window, endpoint=endpoint).get(endpoint, {})
    shown = [f for f in functions
             if max(f["self_share"], f["total_share"]) >= MIN_FUNCTION_SHARE
             or f["calls"] is not None][:MAX_FUNCTIONS]
    downloads = (
        Download(f"{PROFILE_DIR}/{endpoint_file_name(endpoint)}",
                 folded_bytes(con, endpoint, window), "text/plain; charset=utf-8"),
        Download(f"{PROFILE_DIR}/{speedscope_file_name(endpoint)}",
                 speedscope_bytes(con, endpoint, window), "application/json"),
    )
    context = {
        "functions": shown,
        "hidden": len(functions) - len(shown),
        "exact": any(f["calls"] is not None for f in functions),
        "coverage": coverage,
        # Every stack starts at the dispatch root, so the busiest row counts every sample.
        "samples": max(f["samples"] for f in functions),
        "sampling": sampling_note(profile_queries.sampling(con, endpoint, window)),
        "folded": downloads[0].path,
        "speedscope": downloads[1].path,
    }
    flame = profile_queries.flame_graph(con, endpoint, window)
    chart = flame_chart(flame, coverage.get("mean_ms"), coverage.get("requests") or 0)
    # The interactive graph (static/flame.js) draws the same boxes; the PNG stays beside it.
    context["flame"] = flame_data(flame, coverage.get("mean_ms"), coverage.get("requests") or 0)
    return Section("profile", "Where the time goes", "section_profile.html", context,
                   charts=(chart,) if chart is not None else (), downloads=downloads)


def sampling_note(sampling: dict[str, Any]) -> dict[str, Any]:
    """What the profile rests on, said plainly: the samples, how far apart they came, and (when
    few) how far a share can be off."""
    samples, interval_ms = sampling["samples"], sampling["interval_ms"]
    # Two standard deviations of a share estimated from n samples, at its widest (50 %).
    noise_pp = 100.0 / samples ** 0.5 if samples else None
    return {"samples": samples, "interval_ms": interval_ms, "noise_pp": noise_pp,
            "few": samples < FEW_SAMPLES}


def flame_chart(flame: list[dict[str, Any]], mean_ms: float | None,
                requests: int) -> ChartSpec | None:
    import pandas as pd

    if not flame:
        return None
    data = pd.DataFrame.from_records(flame)[["function", "depth", "start", "width",
                                             "self_width"]]
    depth = min(int(data["depth"].max()) + 1, FLAME_MAX_DEPTH)
    over = f" over {requests:,} profiled requests" if requests else ""
    return ChartSpec(
        "flame_graph", data, "Flame graph",
        alt="Flame graph of the endpoint's sampled call stacks",
        caption=f"Each box is a function in a call path; its width is the time spent in it and "
                f"the functions it called{over}. Callers above callees, siblings by name, "
                "colour by package.",
        options={"width": FLAME_WIDTH, "mean_ms": mean_ms, "max_depth": FLAME_MAX_DEPTH},
        width=FLAME_WIDTH, height=1.3 + 0.2 * depth)


def slow_requests_section(con: Any, options: ReportOptions,
                          row: dict[str, Any]) -> Section | None:
    endpoint = row["endpoint"]
    outliers = profile_queries.outlier_list(con, options.window, endpoint=endpoint,
                                            limit=OUTLIERS_PER_ENDPOINT)
    details = profile_queries.request_profile_list(con, options.window, endpoint=endpoint,
                                                   kind="detail", limit=DETAILS_PER_ENDPOINT)
    if not outliers and not details:
        return None
    for found in (*outliers, *details):
        found["path"] = request_path(found["request_id"])
    for outlier in outliers:
        outlier["ratio"] = (outlier["duration_ms"] / outlier["baseline_ms"]
                            if outlier["baseline_ms"] else None)
    return Section("slow", "Outliers and detailed profiles", "section_slow_requests.html",
                   {"outliers": outliers, "details": details,
                    "outlier_limit": OUTLIERS_PER_ENDPOINT})
