"""Turning what the test processes left behind into a :class:`~.payload.Payload`.

Per side: the plugin's results file (tests, rounds, outcomes, exact-mode functions) and the
side's own store (every request the profiled apps served, labelled with round and test). Requests
no test label reached are counted, not guessed: timestamps are never matched to tests.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from fmd_profiler import __version__
from fmd_profiler.benchmark import benchmark_queries as queries
from fmd_profiler.benchmark.labels import split_test_label
from fmd_profiler.benchmark.payload import Payload
from fmd_profiler.benchmark.provenance import Provenance
from fmd_profiler.benchmark.runner import SideResult
from fmd_profiler.schema import BENCH_FUNCTIONS, BENCH_REQUESTS, BENCH_RUNS, BENCH_TESTS
from fmd_profiler.store import Database, StoreLocation


@dataclass(frozen=True)
class SideSummary:
    """What the harness tells the user about a side beyond the stored rows."""

    run_id: str
    label: str
    unattributed: int  # requests without a test label (live server without X-Test-Id?)
    untested_endpoints: tuple[str, ...]  # routes of the profiled apps no test requested
    foreign_modules: tuple[str, ...]  # base runs: modules imported from the head checkout


def build_payload(sides: Sequence[tuple[SideResult, Provenance]], *,
                  exact: bool) -> tuple[Payload, list[SideSummary]]:
    tables: dict[str, list[tuple[object, ...]]] = {
        BENCH_RUNS.name: [], BENCH_TESTS.name: [], BENCH_REQUESTS.name: [],
        BENCH_FUNCTIONS.name: []}
    summaries = []
    for result, provenance in sides:
        run_id = str(uuid.uuid4())
        requests, unattributed, untested = _read_side_store(result)
        results = result.results
        tables[BENCH_RUNS.name].append(_run_row(run_id, result, provenance, unattributed, exact))
        tables[BENCH_TESTS.name] += [(run_id, node_id, round_no, setup, call, teardown,
                                      outcome or "error")
                                     for node_id, round_no, setup, call, teardown, outcome
                                     in results["tests"]]
        for test_label, *rest in requests:
            parsed = split_test_label(str(test_label))
            if parsed is not None:
                tables[BENCH_REQUESTS.name].append((run_id, parsed[1], parsed[0], *rest))
        tables[BENCH_FUNCTIONS.name] += [(run_id, *row) for row in results["functions"]]
        summaries.append(SideSummary(run_id, result.side.label, unattributed, tuple(untested),
                                     tuple(results.get("foreign_modules", ()))))
    return Payload({name: tuple(rows) for name, rows in tables.items()}), summaries


def _read_side_store(result: SideResult) -> tuple[list[tuple[object, ...]], int, list[str]]:
    location = StoreLocation(result.store)
    if not result.store.exists() and not location.spool_dir.exists():
        return [], 0, []  # no app was profiled: tests without HTTP requests
    with Database(location).read() as con:
        requests, unattributed = queries.recorded_requests(con)
        untested = queries.routes_not_hit(con)
    return requests, unattributed, untested


def _run_row(run_id: str, result: SideResult, provenance: Provenance, unattributed: int,
             exact: bool) -> tuple[object, ...]:
    commit, machine, ci = provenance.commit, provenance.machine, provenance.ci
    results = result.results
    rounds = int(results["rounds_run"])
    return (
        run_id, result.side.label, results["started_at"], results["finished_at"],
        commit.sha if commit else None, commit.short_sha if commit else None,
        commit.tag if commit else None, commit.branch if commit else None, ci.ref,
        commit.dirty if commit else None, commit.committed_at if commit else None,
        provenance.app_version, machine.fingerprint, json.dumps(dict(machine.info),
                                                               sort_keys=True),
        machine.python, provenance.packages_hash, ci.provider, ci.job_id, machine.host,
        rounds, warmup_rounds(rounds), int(results["collected"]), int(results["exitstatus"] or 0),
        unattributed, exact, __version__)


def warmup_rounds(rounds: int) -> int:
    """The first round warms caches and imports up; with a single round there is no other."""
    return 1 if rounds > 1 else 0
