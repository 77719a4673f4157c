"""Storing benchmark runs: one payload, one transaction, under the store lock (in fleet mode the
lake, under an advisory lock: DuckLake has no keys, the stored digest is the check).

Used by the harness (its local store) and by the upload receiver (the dashboard's store), so both
store alike: the measured tables, ``bench_endpoints`` derived from the raw requests in SQL, the
regression verdicts with the outlier rounds they set aside (those the payload brings, else
computed here against the right baseline: the base run of the same payload for an ``--against``
head, or the store's last run of the same branch on the same machine), and a digest that makes
storing the same run twice a no-op.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fmd_profiler.benchmark import benchmark_queries as queries
from fmd_profiler.benchmark.payload import TABLES, Payload
from fmd_profiler.benchmark.regressions import DEFAULT_SETTINGS, Key, Settings, Verdict, judge
from fmd_profiler.errors import ProfilerError
from fmd_profiler.schema import BENCH_RUNS, BENCH_SUBMISSIONS, BENCH_VERDICTS
from fmd_profiler.store.database import insert_rows
from fmd_profiler.store.factory import Store, exclusive_transaction

STORED = "stored"
EXISTS = "exists"


class RunConflictError(ProfilerError):
    """A run id is already stored with different data."""


@dataclass(frozen=True)
class StoreResult:
    status: str  # STORED or EXISTS
    payload: Payload  # with the verdicts computed while storing


def store_payload(database: Store, payload: Payload, settings: Settings = DEFAULT_SETTINGS, *,
                  clock: Callable[[], float] = time.time) -> StoreResult:
    """Store every run of ``payload`` or none; storing the same runs again changes nothing."""
    digest = payload.digest()
    with exclusive_transaction(database) as con:
        stored = queries.submission_digests(con, payload.run_ids)
        if stored:
            if set(stored) == set(payload.run_ids) and set(stored.values()) == {digest}:
                return StoreResult(EXISTS, payload.with_rows(
                    BENCH_VERDICTS.name, _stored_verdicts(con, payload.run_ids)))
            raise RunConflictError(
                f"run {sorted(stored)[0]} is already stored with different data; a run id "
                "names one run - send a new run under a new id")
        for name, table in TABLES.items():
            if name != BENCH_VERDICTS.name:
                insert_rows(con, table, payload.rows(name))
        _derive_endpoint_stats(con, payload.run_ids)
        verdict_rows = list(payload.rows(BENCH_VERDICTS.name))
        if not verdict_rows:
            verdict_rows = compute_verdicts(con, payload, settings)
        insert_rows(con, BENCH_VERDICTS, verdict_rows)
        now = clock()
        insert_rows(con, BENCH_SUBMISSIONS, [(run_id, digest, now) for run_id in payload.run_ids])
    return StoreResult(STORED, payload.with_rows(BENCH_VERDICTS.name, verdict_rows))


def compute_verdicts(con: Any, payload: Payload,
                     settings: Settings) -> list[tuple[object, ...]]:
    """Verdict rows for every head or plain run of ``payload`` that has a baseline."""
    labels = {row[0]: row[1] for row in payload.rows(BENCH_RUNS.name)}
    base_of_payload = next((run for run, label in labels.items() if label == "base"), None)
    result: list[tuple[object, ...]] = []
    for run_id, label in labels.items():
        if label == "base":
            continue
        baseline = base_of_payload if label == "head" else queries.find_baseline(con, run_id)
        if baseline is not None:
            base_rounds, base = samples(con, baseline)
            head_rounds, head = samples(con, run_id)
            result += verdict_rows(run_id, baseline, judge(base, head, settings),
                                   base_rounds, head_rounds)
    return result


def samples(con: Any, run_id: str) -> tuple[dict[Key, list[int]], dict[Key, list[float]]]:
    """Every comparable sample of a run (call durations per test, round medians per endpoint)
    and the round each value comes from."""
    rounds: dict[Key, list[int]] = {}
    found: dict[Key, list[float]] = {}
    for kind, per_name in (("test", queries.test_samples(con, run_id)),
                           ("endpoint", queries.endpoint_samples(con, run_id))):
        for name, (round_numbers, values) in per_name.items():
            rounds[kind, name], found[kind, name] = round_numbers, values
    return rounds, found


def verdict_rows(run_id: str, baseline: str, verdicts: list[Verdict],
                 base_rounds: Mapping[Key, Sequence[int]],
                 head_rounds: Mapping[Key, Sequence[int]]) -> list[tuple[object, ...]]:
    """Verdicts as bench_verdicts rows (an infinite detectable ratio or interval end is stored
    as NULL; set-aside samples as the numbers of their rounds)."""
    result: list[tuple[object, ...]] = []
    for v in verdicts:
        c = v.comparison
        if c is None:
            result.append((run_id, baseline, v.kind, v.name, None, None, None, None, None, None,
                           None, None, None, None, None, None, v.verdict))
            continue
        key = (v.kind, v.name)
        result.append((run_id, baseline, v.kind, v.name, c.n_base, c.n_head, c.base_median,
                       c.head_median, c.ratio, c.ci_low, _finite(c.ci_high), c.p_value,
                       v.p_adjusted, _finite(c.detectable_ratio),
                       _round_list(base_rounds[key], c.base_set_aside),
                       _round_list(head_rounds[key], c.head_set_aside), v.verdict))
    return result


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _round_list(rounds: Sequence[int], indices: Sequence[int]) -> str | None:
    return ", ".join(str(rounds[i]) for i in indices) if indices else None


def _derive_endpoint_stats(con: Any, run_ids: list[str]) -> None:
    con.execute("""
        INSERT INTO bench_endpoints
        SELECT run_id, test_id, endpoint, round, count(*), sum(duration_ms), median(duration_ms),
               max(duration_ms), count(*) FILTER (WHERE status >= 500)
        FROM bench_requests WHERE run_id IN (SELECT unnest($ids))
        GROUP BY run_id, test_id, endpoint, round""", {"ids": run_ids})


def _stored_verdicts(con: Any, run_ids: list[str]) -> list[tuple[object, ...]]:
    columns = ", ".join(BENCH_VERDICTS.column_names)
    return [tuple(r) for r in con.execute(
        f"SELECT {columns} FROM bench_verdicts WHERE run_id IN (SELECT unnest($ids)) "
        "ORDER BY run_id, kind, name", {"ids": run_ids}).fetchall()]
