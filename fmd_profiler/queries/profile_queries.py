"""What the profiler recorded, read back for reports, the dashboard and the exports.

Every function takes a read session (:meth:`fmd_profiler.store.Database.read`) and returns plain
rows (dicts) whose columns its docstring lists. Times are *milliseconds per request*: sample
weights are scaled so that the self times of an endpoint's functions add up to the mean measured
duration of its profiled requests (``profile_requests``), which corrects for the time no sample
saw. Windows select the minutes (``bucket``) that overlap ``[since, until)``. Call-tree arithmetic
is in :mod:`fmd_profiler.queries.calltree`; ordering is explicit everywhere, so reports are
deterministic.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from fmd_profiler.queries.calltree import (
    FlameBox,
    WeightedStack,
    flame_layout,
    folded_lines,
    function_weights,
)
from fmd_profiler.queries.request_queries import ALL_TIME, Window, rows

BUCKET_OVERLAPS = """
    ($since::TIMESTAMP IS NULL OR {col} + INTERVAL 60 SECOND > $since::TIMESTAMP)
    AND ($until::TIMESTAMP IS NULL OR {col} < $until::TIMESTAMP)
"""
STARTED_IN = """
    ($since::TIMESTAMP IS NULL OR {col} >= $since::TIMESTAMP)
    AND ($until::TIMESTAMP IS NULL OR {col} < $until::TIMESTAMP)
"""
UNKNOWN = ("<unknown>", "", 0)


# -- building blocks ---------------------------------------------------------------------------

def stacks_by_endpoint(con: Any, window: Window = ALL_TIME, *, endpoint: str | None = None,
                       version: str | None = None) -> dict[str, list[WeightedStack]]:
    """endpoint -> its sampled stacks (weight in ms, summed over the window), heaviest first."""
    result = con.execute(f"""
        SELECT s.endpoint, st.frames, sum(s.weight_ms) AS weight, sum(s.samples) AS samples
        FROM profile_samples s JOIN profile_stacks st USING (stack_id)
        WHERE {BUCKET_OVERLAPS.format(col='s.bucket')}
          AND ($endpoint::VARCHAR IS NULL OR s.endpoint = $endpoint)
          AND ($version::VARCHAR IS NULL OR s.version = $version)
        GROUP BY s.endpoint, st.frames
        ORDER BY s.endpoint, weight DESC, st.frames
        """, {**window.params(), "endpoint": endpoint, "version": version}).fetchall()
    out: dict[str, list[WeightedStack]] = {}
    for name, frames, weight, samples in result:
        out.setdefault(name, []).append(WeightedStack(tuple(frames), weight, int(samples)))
    return out


def coverage(con: Any, window: Window = ALL_TIME, *, endpoint: str | None = None,
             version: str | None = None) -> dict[str, dict[str, Any]]:
    """endpoint -> {requests, duration_ms, mean_ms, exact_requests} of its profiled requests."""
    found = rows(con, f"""
        SELECT endpoint, sum(requests)::BIGINT AS requests, sum(duration_ms) AS duration_ms,
               sum(exact_requests)::BIGINT AS exact_requests
        FROM profile_requests
        WHERE {BUCKET_OVERLAPS.format(col='bucket')}
          AND ($endpoint::VARCHAR IS NULL OR endpoint = $endpoint)
          AND ($version::VARCHAR IS NULL OR version = $version)
        GROUP BY endpoint ORDER BY endpoint
        """, {**window.params(), "endpoint": endpoint, "version": version})
    for row in found:
        row["mean_ms"] = row["duration_ms"] / row["requests"] if row["requests"] else None
    return {row.pop("endpoint"): row for row in found}


def sampling(con: Any, endpoint: str, window: Window = ALL_TIME) -> dict[str, Any]:
    """How much an endpoint's profile rests on: ``samples`` and ``interval_ms``, the time a
    sample stands for on average (the sampler's interval, or longer where PROFILER_BUDGET_PCT
    stretched it under load)."""
    found = rows(con, f"""
        SELECT sum(samples)::BIGINT AS samples, sum(weight_ms) AS sampled_ms
        FROM profile_samples
        WHERE {BUCKET_OVERLAPS.format(col='bucket')} AND endpoint = $endpoint
        """, {**window.params(), "endpoint": endpoint})
    samples = int(found[0]["samples"] or 0) if found else 0
    sampled_ms = float(found[0]["sampled_ms"] or 0.0) if found else 0.0
    return {"samples": samples, "interval_ms": sampled_ms / samples if samples else None}


def frame_names(con: Any, frame_ids: Iterable[int]) -> dict[int, tuple[str, str, int]]:
    """frame_id -> (function, file, line); unknown ids are left out."""
    ids = sorted(set(frame_ids))
    if not ids:
        return {}
    found = con.execute("""
        SELECT frame_id, any_value(function), any_value(file), any_value(line)
        FROM profile_frames WHERE frame_id IN (SELECT unnest($ids::BIGINT[]))
        GROUP BY frame_id ORDER BY frame_id""", {"ids": ids}).fetchall()
    return {r[0]: (r[1], r[2] or "", int(r[3] or 0)) for r in found}


def _names_of(con: Any, stacks: Iterable[WeightedStack]) -> dict[int, tuple[str, str, int]]:
    return frame_names(con, (f for s in stacks for f in s.frames))


def _scale(stacks: list[WeightedStack], mean_ms: float | None) -> float:
    """Factor from summed sample weight to milliseconds per request."""
    total = sum(s.weight for s in stacks)
    if total <= 0:
        return 0.0
    return (mean_ms / total) if mean_ms is not None else 1.0


# -- per endpoint ------------------------------------------------------------------------------

def function_table(con: Any, endpoint: str, window: Window = ALL_TIME, *,
                   version: str | None = None) -> list[dict[str, Any]]:
    """Where an endpoint's time goes, one row per function, most self time first.

    Columns: ``frame_id``, ``function`` (module:qualname), ``file``, ``line``, ``self_ms`` and
    ``total_ms`` (mean per request; self times add up to the mean request duration),
    ``self_share`` and ``total_share`` (0-1 of the request time), ``samples``; from exact mode
    when it ran: ``calls`` (total), ``calls_per_request``, ``exact_own_ms`` and
    ``exact_total_ms`` (per request, yappi's wall-clock figures) - else None.
    """
    stacks = stacks_by_endpoint(con, window, endpoint=endpoint, version=version).get(endpoint, [])
    cover = coverage(con, window, endpoint=endpoint, version=version).get(endpoint, {})
    exact = {r["frame_id"]: r for r in exact_function_totals(con, window, endpoint=endpoint,
                                                             version=version)}
    return _function_rows(con, stacks, cover.get("mean_ms"), exact,
                          cover.get("exact_requests") or 0)


def _function_rows(con: Any, stacks: list[WeightedStack], mean_ms: float | None,
                   exact: dict[int, dict[str, Any]], exact_requests: int,
                   names: dict[int, tuple[str, str, int]] | None = None) -> list[dict[str, Any]]:
    scale = _scale(stacks, mean_ms)
    total = sum(s.weight for s in stacks)
    weights = function_weights(stacks)
    names = frame_names(con, weights) if names is None else names
    out: list[dict[str, Any]] = []
    for frame_id in set(weights) | set(exact):
        w = weights.get(frame_id)
        x = exact.get(frame_id)
        function, file, line = names.get(frame_id) or (
            (x["function"], x["file"], x["line"]) if x else UNKNOWN)
        per_request = exact_requests or None
        out.append({
            "frame_id": frame_id, "function": function, "file": file, "line": line,
            "self_ms": round(w.self_weight * scale, 4) if w else 0.0,
            "total_ms": round(w.total_weight * scale, 4) if w else 0.0,
            "self_share": round(w.self_weight / total, 5) if w and total else 0.0,
            "total_share": round(w.total_weight / total, 5) if w and total else 0.0,
            "samples": w.samples if w else 0,
            "calls": x["calls"] if x else None,
            "calls_per_request": (round(x["calls"] / per_request, 3)
                                  if x and per_request else None),
            "exact_own_ms": (round(x["own_ms"] / per_request, 4) if x and per_request else None),
            "exact_total_ms": (round(x["total_ms"] / per_request, 4)
                               if x and per_request else None),
        })
    out.sort(key=lambda r: (-r["self_ms"], -(r["exact_own_ms"] or 0.0), r["function"],
                            r["frame_id"]))
    return out


def functions_summary(con: Any, window: Window = ALL_TIME) -> list[dict[str, Any]]:
    """The ``functions`` list of the JSON summary, every endpoint, most self time first.

    Columns: ``endpoint``, ``function``, ``file``, ``line``, ``self_ms``, ``total_ms`` (mean per
    request, scaled as in :func:`function_table`), ``self_share``, ``samples``.
    """
    by_endpoint = stacks_by_endpoint(con, window)
    cover = coverage(con, window)
    names = frame_names(con, (f for stacks in by_endpoint.values() for s in stacks
                              for f in s.frames))
    out = []
    for endpoint in sorted(by_endpoint):
        stacks = by_endpoint[endpoint]
        scale = _scale(stacks, cover.get(endpoint, {}).get("mean_ms"))
        total = sum(s.weight for s in stacks)
        weights = function_weights(stacks)
        rows_: list[dict[str, Any]] = []
        for frame_id, w in weights.items():
            function, file, line = names.get(frame_id, UNKNOWN)
            rows_.append({"endpoint": endpoint, "function": function, "file": file,
                          "line": line, "self_ms": round(w.self_weight * scale, 4),
                          "total_ms": round(w.total_weight * scale, 4),
                          "self_share": round(w.self_weight / total, 5) if total else 0.0,
                          "samples": w.samples})
        rows_.sort(key=lambda r: (-r["self_ms"], -r["total_ms"], r["function"], r["line"]))
        out.extend(rows_)
    return out


def flame_graph(con: Any, endpoint: str, window: Window = ALL_TIME, *,
                version: str | None = None) -> list[dict[str, Any]]:
    """The boxes of an endpoint's flame graph (icicle order: root at depth 0).

    Columns: ``frame_id``, ``function``, ``file``, ``line``, ``depth``, ``start`` and ``width``
    (fractions 0-1 of the endpoint's time; children sorted by function name), ``self_width``,
    ``ms`` and ``self_ms`` (mean per request).
    """
    stacks = stacks_by_endpoint(con, window, endpoint=endpoint, version=version).get(endpoint, [])
    mean = coverage(con, window, endpoint=endpoint, version=version).get(endpoint, {})
    return _flame_rows(con, stacks, mean.get("mean_ms"))


def _flame_rows(con: Any, stacks: list[WeightedStack], mean_ms: float | None,
                names: dict[int, tuple[str, str, int]] | None = None) -> list[dict[str, Any]]:
    names = _names_of(con, stacks) if names is None else names
    per_request = mean_ms if mean_ms is not None else sum(s.weight for s in stacks)
    boxes: list[FlameBox] = flame_layout(stacks, lambda f: names.get(f, UNKNOWN)[0])
    return [{"frame_id": b.frame_id, "function": names.get(b.frame_id, UNKNOWN)[0],
             "file": names.get(b.frame_id, UNKNOWN)[1], "line": names.get(b.frame_id, UNKNOWN)[2],
             "depth": b.depth, "start": round(b.start, 6), "width": round(b.width, 6),
             "self_width": round(b.self_width, 6), "ms": round(b.width * per_request, 4),
             "self_ms": round(b.self_width * per_request, 4)} for b in boxes]


def folded(con: Any, endpoint: str, window: Window = ALL_TIME, *,
           version: str | None = None) -> list[str]:
    """Folded stacks of an endpoint (``a;b;c <µs>``): the total time of the window in integer
    microseconds, scaled to the measured durations of its profiled requests."""
    stacks = stacks_by_endpoint(con, window, endpoint=endpoint, version=version).get(endpoint, [])
    cover = coverage(con, window, endpoint=endpoint, version=version).get(endpoint, {})
    names = _names_of(con, stacks)
    return folded_lines(stacks, lambda f: names.get(f, UNKNOWN)[0],
                        total_scale_us(stacks, cover.get("duration_ms")))


def total_scale_us(stacks: list[WeightedStack], duration_ms: float | None) -> float:
    """Factor from summed sample weight (ms) to microseconds of measured request time."""
    total = sum(s.weight for s in stacks)
    if total <= 0:
        return 0.0
    return (duration_ms if duration_ms is not None else total) * 1000.0 / total


def profiled_endpoints(con: Any, window: Window = ALL_TIME) -> list[dict[str, Any]]:
    """Endpoints with sampled stacks. Columns: ``endpoint``, ``requests``, ``mean_ms``,
    ``samples``, ``stacks`` (distinct), ``sampled_ms`` (time the samples stand for)."""
    return rows(con, f"""
        WITH s AS (
            SELECT endpoint, sum(samples)::BIGINT AS samples,
                   count(DISTINCT stack_id) AS stacks, sum(weight_ms) AS sampled_ms
            FROM profile_samples WHERE {BUCKET_OVERLAPS.format(col='bucket')}
            GROUP BY endpoint),
        r AS (
            SELECT endpoint, sum(requests)::BIGINT AS requests,
                   sum(duration_ms) / nullif(sum(requests), 0) AS mean_ms
            FROM profile_requests WHERE {BUCKET_OVERLAPS.format(col='bucket')}
            GROUP BY endpoint)
        SELECT s.endpoint, coalesce(r.requests, 0) AS requests, round(r.mean_ms, 4) AS mean_ms,
               s.samples, s.stacks, round(s.sampled_ms, 3) AS sampled_ms
        FROM s LEFT JOIN r USING (endpoint) ORDER BY s.endpoint""", window.params())


# -- versions ----------------------------------------------------------------------------------

def function_times_by_version(con: Any, endpoint: str, window: Window = ALL_TIME
                              ) -> list[dict[str, Any]]:
    """Per version, the mean time per request in each function (by name, across lines).

    Columns: ``version``, ``function``, ``self_ms``, ``total_ms``, ``requests``. Ordered by
    version, then self time.
    """
    versions = [r[0] for r in con.execute(
        "SELECT DISTINCT version FROM profile_samples WHERE endpoint = $e ORDER BY version",
        {"e": endpoint}).fetchall()]
    out = []
    for version in versions:
        table = function_table(con, endpoint, window, version=version)
        cover = coverage(con, window, endpoint=endpoint, version=version).get(endpoint, {})
        merged: dict[str, list[float]] = {}
        for row in table:
            sums = merged.setdefault(row["function"], [0.0, 0.0])
            sums[0] += row["self_ms"]
            sums[1] = max(sums[1], row["total_ms"])  # the same name on two lines nests rarely
        for function, (self_ms, total_ms) in sorted(merged.items(),
                                                     key=lambda kv: (-kv[1][0], kv[0])):
            out.append({"version": version, "function": function, "self_ms": round(self_ms, 4),
                        "total_ms": round(total_ms, 4), "requests": cover.get("requests", 0)})
    return out


def function_changes(con: Any, endpoint: str, before: str, after: str,
                     window: Window = ALL_TIME, *, limit: int = 20) -> list[dict[str, Any]]:
    """The functions whose time per request changed most between two versions.

    Columns: ``function``, ``before_self_ms``, ``after_self_ms``, ``before_total_ms``,
    ``after_total_ms``, ``delta_total_ms`` (after - before), ``ratio`` (after/before total, None
    when new). Ordered by the size of the change in total time.
    """
    times = function_times_by_version(con, endpoint, window)
    a = {r["function"]: r for r in times if r["version"] == before}
    b = {r["function"]: r for r in times if r["version"] == after}
    out = []
    for function in set(a) | set(b):
        ra, rb = a.get(function), b.get(function)
        bt, at = (ra["total_ms"] if ra else 0.0), (rb["total_ms"] if rb else 0.0)
        out.append({"function": function,
                    "before_self_ms": ra["self_ms"] if ra else 0.0,
                    "after_self_ms": rb["self_ms"] if rb else 0.0,
                    "before_total_ms": bt, "after_total_ms": at,
                    "delta_total_ms": round(at - bt, 4),
                    "ratio": round(at / bt, 4) if bt > 0 else None})
    out.sort(key=lambda r: (-abs(r["delta_total_ms"]), r["function"]))
    return out[:limit]


# -- outliers and per-request profiles ---------------------------------------------------------

def outlier_list(con: Any, window: Window = ALL_TIME, *, endpoint: str | None = None,
                 limit: int = 100) -> list[dict[str, Any]]:
    """Outliers, newest first. Columns: ``request_id``, ``endpoint``, ``version``,
    ``started_at``, ``duration_ms``, ``baseline_ms``, ``threshold_ms``, ``cpu_ms``, ``method``,
    ``url``, ``memory_rss_bytes``, ``load_1m``, ``has_stacks``."""
    return rows(con, f"""
        SELECT o.request_id, o.endpoint, o.version, o.started_at, o.duration_ms, o.baseline_ms,
               o.threshold_ms, o.cpu_ms, o.method, o.url, o.memory_rss_bytes, o.load_1m,
               EXISTS (SELECT 1 FROM request_profiles p WHERE p.request_id = o.request_id)
                   AS has_stacks
        FROM outliers o
        WHERE {STARTED_IN.format(col='o.started_at')}
          AND ($endpoint::VARCHAR IS NULL OR o.endpoint = $endpoint)
        ORDER BY o.started_at DESC, o.request_id LIMIT $limit
        """, {**window.params(), "endpoint": endpoint, "limit": limit})


def outlier_detail(con: Any, request_id: str) -> dict[str, Any] | None:
    """One outlier: the columns of :func:`outlier_list` plus ``args`` and ``headers`` (dicts,
    secrets redacted), ``functions`` (as :func:`function_table`, for this request alone) and
    ``flame`` (as :func:`flame_graph`). None when unknown."""
    return outlier_details(con, [request_id]).get(request_id)


def outlier_details(con: Any, request_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """:func:`outlier_detail` of many outliers with three queries; unknown ids are left out."""
    found = rows(con, """
        SELECT * EXCLUDE (host, pid) FROM outliers
        WHERE request_id IN (SELECT unnest($ids::VARCHAR[]))
        QUALIFY row_number() OVER (PARTITION BY request_id ORDER BY started_at) = 1
        ORDER BY request_id""", {"ids": sorted(set(request_ids))})
    profiles = request_profiles(con, [d["request_id"] for d in found], kind="outlier")
    out = {}
    for detail in found:
        detail["args"] = json.loads(detail["args"] or "{}")
        detail["headers"] = json.loads(detail["headers"] or "{}")
        profile = profiles.get(detail["request_id"])
        detail["functions"] = profile["functions"] if profile else []
        detail["flame"] = profile["flame"] if profile else []
        out[detail["request_id"]] = detail
    return out


def request_profile_list(con: Any, window: Window = ALL_TIME, *, endpoint: str | None = None,
                         kind: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Per-request profiles (``kind`` 'detail' or 'outlier'), newest first. Columns:
    ``request_id``, ``kind``, ``endpoint``, ``version``, ``started_at``, ``duration_ms``,
    ``samples``, ``stacks``."""
    return rows(con, f"""
        SELECT request_id, kind, endpoint, version, started_at, max(duration_ms) AS duration_ms,
               sum(samples)::BIGINT AS samples, count(*) AS stacks
        FROM request_profiles
        WHERE {STARTED_IN.format(col='started_at')}
          AND ($endpoint::VARCHAR IS NULL OR endpoint = $endpoint)
          AND ($kind::VARCHAR IS NULL OR kind = $kind)
        GROUP BY ALL ORDER BY started_at DESC, request_id LIMIT $limit
        """, {**window.params(), "endpoint": endpoint, "kind": kind, "limit": limit})


def request_profile(con: Any, request_id: str, *, kind: str | None = None
                    ) -> dict[str, Any] | None:
    """One request's profile: ``request_id``, ``kind``, ``endpoint``, ``version``,
    ``started_at``, ``duration_ms``, ``functions`` (as :func:`function_table`, scaled to this
    request's duration) and ``flame`` (as :func:`flame_graph`). None when unknown."""
    return request_profiles(con, [request_id], kind=kind).get(request_id)


def request_profiles(con: Any, request_ids: Iterable[str], *, kind: str | None = None
                     ) -> dict[str, dict[str, Any]]:
    """:func:`request_profile` of many requests with two queries; unknown ids are left out.
    A request profiled both ways (``kind`` None) shows the kind of its heaviest stack."""
    found = con.execute("""
        SELECT p.request_id, p.kind, p.endpoint, p.version, p.started_at, p.duration_ms,
               st.frames, p.weight_ms, p.samples
        FROM request_profiles p JOIN profile_stacks st USING (stack_id)
        WHERE p.request_id IN (SELECT unnest($ids::VARCHAR[]))
          AND ($kind::VARCHAR IS NULL OR p.kind = $kind)
        ORDER BY p.request_id, p.weight_ms DESC, st.frames""",
                        {"ids": sorted(set(request_ids)), "kind": kind}).fetchall()
    by_request: dict[str, list[tuple[Any, ...]]] = {}
    for row in found:
        by_request.setdefault(row[0], []).append(row)
    names = frame_names(con, (f for row in found for f in row[6]))
    out = {}
    for request_id, found_rows in by_request.items():
        first = found_rows[0]
        stacks = [WeightedStack(tuple(r[6]), r[7], int(r[8])) for r in found_rows
                  if r[1] == first[1]]
        out[request_id] = {
            "request_id": request_id, "kind": first[1], "endpoint": first[2],
            "version": first[3], "started_at": first[4], "duration_ms": first[5],
            "functions": _function_rows(con, stacks, first[5], {}, 0, names),
            "flame": _flame_rows(con, stacks, first[5], names)}
    return out


# -- exact mode --------------------------------------------------------------------------------

def exact_function_totals(con: Any, window: Window = ALL_TIME, *, endpoint: str | None = None,
                          version: str | None = None, test_id: str | None = None
                          ) -> list[dict[str, Any]]:
    """Exact-mode totals over the window. Columns: ``endpoint``, ``test_id`` (None summed over
    tests unless ``test_id`` is given), ``frame_id``, ``function``, ``file``, ``line``,
    ``calls``, ``primitive_calls``, ``own_ms``, ``total_ms`` (sums, not per request)."""
    return rows(con, f"""
        SELECT endpoint, $test::VARCHAR AS test_id, frame_id, any_value(function) AS function,
               any_value(file) AS file, any_value(line) AS line, sum(calls)::BIGINT AS calls,
               sum(primitive_calls)::BIGINT AS primitive_calls, sum(own_ms) AS own_ms,
               sum(total_ms) AS total_ms
        FROM exact_functions
        WHERE {BUCKET_OVERLAPS.format(col='bucket')}
          AND ($endpoint::VARCHAR IS NULL OR endpoint = $endpoint)
          AND ($version::VARCHAR IS NULL OR version = $version)
          AND ($test::VARCHAR IS NULL OR test_id = $test)
        GROUP BY endpoint, frame_id
        ORDER BY endpoint, own_ms DESC, function, frame_id
        """, {**window.params(), "endpoint": endpoint, "version": version, "test": test_id})


def exact_functions_by_test(con: Any, window: Window = ALL_TIME) -> list[dict[str, Any]]:
    """Exact-mode figures per test (for the benchmark harness). Columns: ``test_id``,
    ``endpoint``, ``function``, ``file``, ``line``, ``calls``, ``own_ms``, ``total_ms``."""
    return rows(con, f"""
        SELECT test_id, endpoint, function, any_value(file) AS file, any_value(line) AS line,
               sum(calls)::BIGINT AS calls, sum(own_ms) AS own_ms, sum(total_ms) AS total_ms
        FROM exact_functions
        WHERE test_id IS NOT NULL AND {BUCKET_OVERLAPS.format(col='bucket')}
        GROUP BY test_id, endpoint, function
        ORDER BY test_id, endpoint, own_ms DESC, function
        """, window.params())
