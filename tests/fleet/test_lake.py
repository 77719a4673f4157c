"""The lake itself: extensions from packages, the schema created once, versions, clear errors."""

from __future__ import annotations

import dataclasses

import pytest

from fmd_profiler.errors import StoreError
from fmd_profiler.fleet.settings import LakeSettings
from fmd_profiler.schema import REQUESTS, SEGMENT_TABLES
from fmd_profiler.store.lake import (
    LAKE_VERSION,
    Lake,
    LakeVersionError,
    connect,
    ensure_lake_schema,
)


def test_the_schema_is_created_once_and_read_through_the_same_views(
        lake_settings: LakeSettings) -> None:
    ensure_lake_schema(lake_settings)
    ensure_lake_schema(lake_settings)  # a second host finds it there
    with Lake(lake_settings).transaction() as con:
        con.execute("INSERT INTO requests (endpoint, method, status, duration_ms, started_at, "
                    "host, pid) VALUES ('index', 'GET', 200, 1.5, TIMESTAMP '2026-12-01', "
                    "'h1', 7)")
    with Lake(lake_settings).read() as con:
        assert con.execute("SELECT endpoint, duration_ms, host FROM requests").fetchall() == [
            ("index", 1.5, "h1")]
        views = {r[0] for r in con.execute(
            "SELECT view_name FROM duckdb_views() WHERE temporary").fetchall()}
        assert set(SEGMENT_TABLES) <= views
        columns = [r[0] for r in con.execute("DESCRIBE requests").fetchall()]
        assert columns == list(REQUESTS.column_names)


def test_a_lake_made_by_a_newer_version_is_refused(lake_settings: LakeSettings) -> None:
    ensure_lake_schema(lake_settings)
    con = connect(lake_settings, read_only=False)
    try:
        con.execute("INSERT INTO lake.fmd_meta VALUES ('lake_version', $v)",
                    {"v": str(LAKE_VERSION + 1)})
    finally:
        con.close()
    with pytest.raises(LakeVersionError, match="newer fmd_profiler"):
        ensure_lake_schema(lake_settings)
    with pytest.raises(LakeVersionError, match="upgrade fmd_profiler"), \
            Lake(lake_settings).read():
        pass


def test_a_wrong_dsn_names_the_problem_without_the_password(
        lake_settings: LakeSettings) -> None:
    wrong = dataclasses.replace(
        lake_settings, dsn=lake_settings.dsn.replace("user=fmd", "user=nobody password=hunter2"))
    with pytest.raises(StoreError) as caught:
        ensure_lake_schema(wrong)
    message = str(caught.value)
    assert "hunter2" not in message
    assert "password=***" in message
    assert "catalog" in message
