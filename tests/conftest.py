"""Shared fixtures: a fresh store per test, a fake clock, and no runtime left running."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from fmd_profiler import runtime as runtime_module
from fmd_profiler.queries import rows
from fmd_profiler.store import Database, StoreLocation
from tests.fakes import FakeClock


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


def flush(app: Flask) -> None:
    """Write everything the app recorded and ingest it."""
    app.extensions["fmd_profiler"].runtime.flush(ingest=True)


def query(db: Path, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    with Database(StoreLocation(db)).read() as con:
        return rows(con, sql, params)


def stored_requests(db: Path) -> list[dict[str, Any]]:
    return query(db, "SELECT * FROM requests ORDER BY started_at, endpoint")


def running_as_root() -> bool:
    return os.geteuid() == 0
