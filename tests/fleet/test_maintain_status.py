"""``fleet maintain`` and ``fleet status`` on a real lake, and the commands' errors."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from fmd_profiler.config import load_config
from fmd_profiler.errors import StoreError
from fmd_profiler.fleet.commit import commit_once
from fmd_profiler.fleet.maintain import maintain_once
from fmd_profiler.fleet.settings import LakeSettings
from fmd_profiler.fleet.status import fleet_status
from fmd_profiler.fleet.upload import upload_spool
from fmd_profiler.store.lake import Lake
from fmd_profiler.store.lake_files import DataPath
from tests.fleet.support import duplicates, spool_of, stored_requests, write_requests

ROOT = Path(__file__).resolve().parents[2]
DAY = 86400.0


def data_files(settings: LakeSettings) -> int:
    with Lake(settings).read() as con:
        found = con.execute("SELECT count(*) FROM ducklake_list_files('stored', 'requests')"
                            ).fetchone()
    return int(found[0]) if found else 0


def data_file_codecs(settings: LakeSettings) -> set[str]:
    """The compression of every column chunk of the lake's requests files."""
    with Lake(settings).read() as con:
        files = con.execute("SELECT data_file FROM ducklake_list_files('stored', 'requests')"
                            ).fetchall()
        return {codec for (path,) in files for (codec,) in con.execute(
            "SELECT DISTINCT compression FROM parquet_metadata($p)", {"p": path}).fetchall()}


def test_maintain_applies_retention_and_merges_the_uploaded_files(
        lake_settings: LakeSettings) -> None:
    now = time.time()
    location = spool_of(lake_settings)
    write_requests(lake_settings, pid=1, segments=2, rows=20, at=now - 10 * DAY)
    upload_spool(lake_settings, location, lock_wait_s=5)
    write_requests(lake_settings, pid=2, segments=2, rows=20, at=now)
    upload_spool(lake_settings, location, lock_wait_s=5)
    write_requests(lake_settings, pid=3, segments=1, rows=20, at=now)
    upload_spool(lake_settings, location, lock_wait_s=5)
    assert commit_once(lake_settings, wait_s=10).files == 3  # type: ignore[union-attr]
    assert data_files(lake_settings) == 3

    result = maintain_once(lake_settings, retention_days=5, grace_s=0, now=time.time())

    assert result is not None and result.deleted["requests"] == 40
    assert stored_requests(lake_settings) == {("test-host", 2): 40, ("test-host", 3): 20}
    assert data_files(lake_settings) == 1  # merged
    assert data_file_codecs(lake_settings) == {"ZSTD"}  # as the uploads were, not snappy
    with DataPath(lake_settings) as data:  # and the uploads merged away are deleted
        assert data.list_files("incoming/") == []
    # Committing after maintenance registers nothing again, and new uploads still arrive.
    assert commit_once(lake_settings, wait_s=10).files == 0  # type: ignore[union-attr]
    write_requests(lake_settings, pid=4, segments=1, rows=5, at=now)
    upload_spool(lake_settings, location, lock_wait_s=5)
    assert commit_once(lake_settings, wait_s=10).files == 1  # type: ignore[union-attr]
    assert stored_requests(lake_settings)[("test-host", 4)] == 5
    assert duplicates(lake_settings) == 0
    status = fleet_status(lake_settings, now=now)
    assert status["files_waiting"] == 0
    assert [(h["host"], h["files_committed"], h["rows_committed"]) for h in status["hosts"]] == [
        ("test-host", 4, 105)]


def test_maintain_merges_into_row_groups_larger_than_duckdbs_default(
        lake_settings: LakeSettings) -> None:
    """Two uploads of 100,000 requests merge into one file of one row group (DuckDB's default
    of 122,880 rows would make two): a reader fetches each column of a row group on its own."""
    location = spool_of(lake_settings)
    for pid in (1, 2):
        write_requests(lake_settings, pid=pid, segments=1, rows=100_000)
        upload_spool(lake_settings, location, lock_wait_s=5)
    assert commit_once(lake_settings, wait_s=10).files == 2  # type: ignore[union-attr]

    maintain_once(lake_settings, retention_days=0, grace_s=0)

    with Lake(lake_settings).read() as con:
        (path,), = con.execute("SELECT data_file FROM ducklake_list_files('stored', 'requests')"
                               ).fetchall()
        groups = con.execute("SELECT row_group_id, any_value(row_group_num_rows) "
                             "FROM parquet_metadata($p) GROUP BY ALL", {"p": path}).fetchall()
    assert [rows for _, rows in groups] == [200_000]


def test_status_shows_files_waiting_and_the_lag(lake_settings: LakeSettings) -> None:
    with pytest.raises(StoreError, match=r"no fmd_profiler tables yet: run python -m "
                                          r"fmd_profiler\.fleet commit"):
        fleet_status(lake_settings)
    write_requests(lake_settings, pid=1, segments=1, rows=3)
    upload_spool(lake_settings, spool_of(lake_settings), lock_wait_s=5)
    commit_once(lake_settings, wait_s=10)  # the ledger exists
    write_requests(lake_settings, pid=2, segments=1, rows=3)
    upload_spool(lake_settings, spool_of(lake_settings), lock_wait_s=5)

    status = fleet_status(lake_settings, now=time.time() + 60)

    assert status["files_waiting"] == 1
    assert 55 <= float(status["lag_s"]) <= 120  # type: ignore[arg-type]
    [host] = status["hosts"]  # type: ignore[misc]
    assert (host["host"], host["files_waiting"], host["files_committed"]) == ("test-host", 1, 1)


def _fleet(config: Path, *args: str, env: dict[str, str] | None = None
           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fmd_profiler.fleet", *args, "--config",
                           str(config)], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          check=False, env=env)


def _config(tmp_path: Path, lake_env: dict[str, str], **changes: str) -> Path:
    values = {**lake_env, "SPOOL_DIR": str(tmp_path / "spool"), **changes}
    path = tmp_path / "fleet.cfg"
    path.write_text("[dashboard]\n" + "".join(f"{k} = {v}\n" for k, v in values.items()))
    return path


def test_a_wrong_dsn_fails_with_the_fix_and_without_the_password(
        lake_env: dict[str, str], tmp_path: Path) -> None:
    dsn = lake_env["DATABASE"].replace("user=fmd", "user=nobody password=hunter2")
    done = _fleet(_config(tmp_path, lake_env, DATABASE=dsn), "commit")
    assert done.returncode == 1
    assert "hunter2" not in done.stdout + done.stderr
    assert "password=***" in done.stderr and "check DATABASE" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_config_without_fleet_mode_is_refused_with_what_to_set(tmp_path: Path) -> None:
    config = tmp_path / "plain.cfg"
    config.write_text(f"[dashboard]\nDATABASE = {tmp_path / 'x.duckdb'}\n")
    done = _fleet(config, "status")
    assert done.returncode == 2
    assert "does not configure fleet mode: set DATABASE = ducklake:postgres:<DSN>" in done.stderr


def test_a_missing_extra_is_named(lake_env: dict[str, str], tmp_path: Path) -> None:
    # psycopg "not installed": a module of that name that fails to import, first on the path.
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "psycopg.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'psycopg'\", name='psycopg')\n")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{shadow}:{ROOT}"}
    done = _fleet(_config(tmp_path, lake_env), "commit", env=env)
    assert done.returncode == 2
    assert "fleet mode needs psycopg, which is not installed: pip install " \
           "'fmd_profiler[fleet]'" in done.stderr


def test_a_lake_made_by_a_newer_version_is_refused_by_the_committer(
        lake_env: dict[str, str], tmp_path: Path) -> None:
    config = _config(tmp_path, lake_env)
    settings = load_config(config).lake
    assert settings is not None
    with Lake(settings).transaction() as con:
        con.execute("INSERT INTO fmd_meta VALUES ('lake_version', '999')")
    done = _fleet(config, "commit")
    assert done.returncode == 1
    assert "newer fmd_profiler" in done.stderr and "upgrade fmd_profiler" in done.stderr
