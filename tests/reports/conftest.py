"""Fixtures for the report and dashboard tests: real stores in temporary folders.

One synthetic store per session (written through the real segment writer and ingester, with
the profiler's tables for every endpoint and three benchmark runs stored as the harness stores
them, plus a few hostile rows left as pending segments, so read sessions merge both) and one
static report built from it by the real CLI.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from fmd_profiler.demo.synthetic import SyntheticStore, write_synthetic_store
from fmd_profiler.report.cli import main as report_main
from tests.reports.support import write_benchmark_runs, write_hostile_rows


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> SyntheticStore:
    folder = tmp_path_factory.mktemp("store")
    end = time.time()
    synthetic = write_synthetic_store(folder / "store.duckdb", requests=5000, endpoints=4,
                                      unused=2, days=10, versions=3, users=12, end=end,
                                      profiles=True)
    write_benchmark_runs(synthetic.database, end)
    write_hostile_rows(synthetic.database, end)  # left pending: read sessions merge it
    return synthetic


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory, store: SyntheticStore) -> Path:
    out = tmp_path_factory.mktemp("site") / "report"
    assert report_main(["--db", str(store.database), "--out", str(out), "--jobs", "2"]) == 0
    return out
