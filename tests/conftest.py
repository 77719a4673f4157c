"""The suite's fixtures: a fresh store per test, a fake clock, no runtime left running, and the
session's synthetic store and static report that the report and dashboard tests read.

The synthetic store is written through the real segment writer and ingester, with the profiler's
tables for every endpoint and three benchmark runs stored as the harness stores them, plus a few
hostile rows left as pending segments, so read sessions merge both. Helpers live in
``tests/helpers.py``, test doubles in ``tests/fakes.py``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from fmd_profiler.recording import runtime as runtime_module
from tests.fakes import FakeClock

if TYPE_CHECKING:
    from fmd_profiler.demo.synthetic import SyntheticStore


@pytest.fixture(autouse=True)
def _no_runtime_left_behind() -> Iterator[None]:
    yield
    runtime_module.forget_all()


@pytest.fixture(autouse=True)
def _no_config_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # A developer's DASHBOARD_CONFIG or ./config.cfg must not leak into tests.
    monkeypatch.delenv("DASHBOARD_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "store" / "fmd.duckdb"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> SyntheticStore:
    # Imported here: only the report and dashboard tests pay for the report's stack.
    from fmd_profiler.demo.synthetic import write_synthetic_store
    from tests.report.report_support import write_benchmark_runs, write_hostile_rows

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
    from fmd_profiler.report.report_cli import main as report_main

    out = tmp_path_factory.mktemp("site") / "report"
    assert report_main(["--db", str(store.database), "--out", str(out), "--jobs", "2"]) == 0
    return out
