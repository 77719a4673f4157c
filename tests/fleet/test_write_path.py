"""The write path with real PostgreSQL and SeaweedFS: upload, commit, and their failures."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fmd_profiler.fleet.commit import commit_once
from fmd_profiler.fleet.settings import LakeSettings
from fmd_profiler.fleet.status import fleet_status
from fmd_profiler.fleet.upload import leftover_manifests, upload_spool
from fmd_profiler.schema import REQUESTS
from fmd_profiler.store.control import read_level_overrides
from fmd_profiler.store.database import load_segments
from fmd_profiler.store.lake import Lake
from fmd_profiler.store.lake_files import DataPath
from tests.fleet.support import (
    duplicates,
    pending,
    spool_of,
    stored_requests,
    write_requests,
)

ROOT = Path(__file__).resolve().parents[2]


def test_segments_of_all_processes_become_one_file_per_table_and_are_committed_once(
        lake_settings: LakeSettings) -> None:
    write_requests(lake_settings, pid=11, segments=3, rows=5)
    # Over 1,000 rows whose exception is None: DuckDB must type that column from every value.
    write_requests(lake_settings, pid=12, segments=2, rows=700)
    location = spool_of(lake_settings)

    result = upload_spool(lake_settings, location, lock_wait_s=5)

    assert result is not None
    assert (result.files, result.rows, result.segments) == (1, 1415, 5)
    assert list(pending(location)) == []
    assert leftover_manifests(location) == []
    with DataPath(lake_settings) as data:
        keys = [f.key for f in data.list_files("incoming/")]
    assert len(keys) == 1
    assert keys[0].startswith("incoming/requests/v1/test-host/test_host-11-")

    committed = commit_once(lake_settings, wait_s=10)
    assert committed is not None and (committed.files, committed.rows) == (1, 1415)
    again = commit_once(lake_settings, wait_s=10)
    assert again is not None and (again.files, again.rows) == (0, 0)
    assert stored_requests(lake_settings) == {("test-host", 11): 15, ("test-host", 12): 1400}
    assert duplicates(lake_settings) == 0

    status = fleet_status(lake_settings)
    assert status["files_waiting"] == 0
    assert [(h["host"], h["files_committed"], h["rows_committed"]) for h in status["hosts"]] == [
        ("test-host", 1, 1415)]


@pytest.mark.parametrize("where", ["s3", "folder"])
def test_the_same_segments_uploaded_twice_are_stored_once(
        lake_settings: LakeSettings, tmp_path: Path, where: str) -> None:
    if where == "folder":  # a DATA_PATH every host can reach, such as an NFS mount
        lake_settings = dataclasses.replace(lake_settings, data_path=f"{tmp_path}/lake/",
                                            s3=None)
    paths = write_requests(lake_settings, pid=21, segments=2, rows=4)
    copies = tmp_path / "copies"
    copies.mkdir()
    for path in paths:
        shutil.copy2(path, copies / path.name)
    location = spool_of(lake_settings)
    assert upload_spool(lake_settings, location, lock_wait_s=5).files == 1  # type: ignore[union-attr]
    assert commit_once(lake_settings, wait_s=10).files == 1  # type: ignore[union-attr]

    # The same segments again (a host restored from a backup, a retry after a lost answer):
    # they map to the same key, which exists, so nothing is rewritten.
    for path in paths:
        shutil.copy2(copies / path.name, path)
    second = upload_spool(lake_settings, location, lock_wait_s=5)
    assert second is not None and (second.files, second.segments) == (0, 2)
    if where == "folder":
        # The file gone from incoming/ (merged away by maintenance) and uploaded once more:
        # written again under its key, and the ledger keeps the committer from adding it.
        [uploaded] = (tmp_path / "lake" / "incoming").rglob("*.parquet")
        uploaded.unlink()
        for path in paths:
            shutil.copy2(copies / path.name, path)
        third = upload_spool(lake_settings, location, lock_wait_s=5)
        assert third is not None and third.files == 1
        assert uploaded.exists()
    assert commit_once(lake_settings, wait_s=10).files == 0  # type: ignore[union-attr]
    assert stored_requests(lake_settings) == {("test-host", 21): 8}
    assert duplicates(lake_settings) == 0


def _run_killed(code: str, settings: LakeSettings) -> int:
    """Run ``code`` in a fresh interpreter that has ``settings``; it kills itself with SIGKILL."""
    from fmd_profiler.fleet.handoff import settings_to_json

    done = subprocess.run([sys.executable, "-c", code], input=settings_to_json(settings),
                          cwd=ROOT, capture_output=True, timeout=120, check=False)
    return done.returncode


_KILL_UPLOAD = """
import os, signal, sys
from fmd_profiler.fleet.handoff import settings_from_json
from fmd_profiler.fleet.upload import upload_spool
from tests.fleet.support import spool_of
settings = settings_from_json(sys.stdin.buffer.read())
def checkpoint(step):
    if step == {step!r}:
        os.kill(os.getpid(), signal.SIGKILL)
upload_spool(settings, spool_of(settings), lock_wait_s=5, checkpoint=checkpoint)
"""


def test_an_uploader_killed_at_any_step_loses_and_doubles_nothing(
        lake_settings: LakeSettings) -> None:
    location = spool_of(lake_settings)
    for pid, step in enumerate(["manifest", "file", "segments"], start=31):
        write_requests(lake_settings, pid=pid, segments=3, rows=6)
        assert _run_killed(_KILL_UPLOAD.format(step=step), lake_settings) == -9, step
        assert len(leftover_manifests(location)) == 1, step
        write_requests(lake_settings, pid=pid + 10, segments=1, rows=2)  # while it was down

        result = upload_spool(lake_settings, location, lock_wait_s=5)

        assert result is not None
        assert leftover_manifests(location) == []
        assert list(pending(location)) == []
    commit_once(lake_settings, wait_s=10)
    assert stored_requests(lake_settings) == {
        ("test-host", 31): 18, ("test-host", 32): 18, ("test-host", 33): 18,
        ("test-host", 41): 2, ("test-host", 42): 2, ("test-host", 43): 2}
    assert duplicates(lake_settings) == 0


_KILL_COMMIT = """
import os, signal, sys
from fmd_profiler.fleet.handoff import settings_from_json
from fmd_profiler.fleet.commit import commit_once
settings = settings_from_json(sys.stdin.buffer.read())
commit_once(settings, wait_s=10, after_register=lambda: os.kill(os.getpid(), signal.SIGKILL))
"""


def test_a_committer_killed_after_its_commit_counts_nothing_twice(
        lake_settings: LakeSettings) -> None:
    write_requests(lake_settings, pid=41, segments=2, rows=5)
    upload_spool(lake_settings, spool_of(lake_settings), lock_wait_s=5)
    with Lake(lake_settings).transaction() as con:
        con.execute("INSERT INTO fmd_levels VALUES ('index', 3, now())")

    assert _run_killed(_KILL_COMMIT, lake_settings) == -9
    assert stored_requests(lake_settings) == {("test-host", 41): 10}
    with DataPath(lake_settings) as data:
        assert data.read_levels() is None  # killed before it published them

    again = commit_once(lake_settings, wait_s=10)  # the lock died with the killed committer
    assert again is not None and again.files == 0
    assert stored_requests(lake_settings) == {("test-host", 41): 10}
    assert duplicates(lake_settings) == 0
    # ... and the levels reach the host with its next upload.
    upload_spool(lake_settings, spool_of(lake_settings), lock_wait_s=5)
    assert read_level_overrides(spool_of(lake_settings).levels_path) == {"index": 3}


def test_a_missing_bucket_is_named_with_how_to_create_it(lake_settings: LakeSettings) -> None:
    from fmd_profiler.errors import StoreError

    write_requests(lake_settings, pid=51, segments=1, rows=1)
    wrong = dataclasses.replace(lake_settings, data_path="s3://no-such-bucket/lake/")
    with pytest.raises(StoreError) as caught:
        upload_spool(wrong, spool_of(wrong), lock_wait_s=5)
    message = str(caught.value)
    assert "'no-such-bucket' does not exist" in message
    assert "aws s3 mb s3://no-such-bucket" in message
    assert "fmd-secret" not in message
    assert len(list(pending(spool_of(wrong)))) == 1  # kept for when the bucket exists


def test_the_cli_commits_and_reports_status_as_json(
        lake_env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "fleet.cfg"
    config.write_text("[dashboard]\n" + "".join(f"{k} = {v}\n" for k, v in lake_env.items())
                      + f"HOST_NAME = cli-host\nSPOOL_DIR = {tmp_path / 'spool'}\n")
    settings_cfg = __import__("fmd_profiler.config", fromlist=["load_config"]).load_config(config)
    assert settings_cfg.lake is not None
    write_requests(settings_cfg.lake, pid=61, segments=2, rows=3)

    def fleet(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "fmd_profiler.fleet", *args,
                               "--config", str(config)], cwd=ROOT, capture_output=True,
                              text=True, timeout=120, check=False)

    upload = fleet("upload")
    assert upload.returncode == 0, upload.stderr
    assert "uploaded 1 file(s), 6 row(s) from 2 segment(s)" in upload.stdout
    # A host of a newer version uploads a file of a newer schema: it waits for its committer.
    elsewhere = dataclasses.replace(settings_cfg.lake, spool_dir=tmp_path / "elsewhere")
    batch = load_segments(REQUESTS, write_requests(elsewhere, pid=62, segments=1, rows=2))
    with DataPath(settings_cfg.lake) as data:
        data.write_parquet("incoming/requests/v99/future/x.parquet", REQUESTS,
                           dict(batch.columns))
    commit = fleet("commit")
    assert commit.returncode == 0, commit.stderr
    assert "committed 1 file(s), 6 row(s); 1 file(s) of a newer schema left alone" \
        in commit.stdout
    assert "have schema v99, newer than this committer's v1" in commit.stderr
    status = fleet("status", "--json", "-")
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["files_waiting"] == 1  # the newer one
    assert [(h["host"], h["files_waiting"], h["files_committed"]) for h in data["hosts"]] == [
        ("cli-host", 0, 1), ("future", 1, 0)]
    assert "fmd-secret" not in status.stdout + status.stderr


def test_committers_at_once_one_wins_and_the_others_wait_or_skip(
        lake_settings: LakeSettings) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from fmd_profiler.fleet import advisory

    for pid in (71, 72, 73):
        write_requests(lake_settings, pid=pid, segments=1, rows=4)
        upload_spool(lake_settings, spool_of(lake_settings), lock_wait_s=5)
    with advisory.advisory_lock(lake_settings.dsn, advisory.COMMIT, wait_s=5) as got:
        assert got
        assert commit_once(lake_settings, wait_s=0) is None  # --every skips its turn

    with ThreadPoolExecutor(3) as pool:  # once: each waits for the one before
        results = list(pool.map(lambda _: commit_once(lake_settings, wait_s=120), range(3)))

    assert sorted(r.files for r in results if r is not None) == [0, 0, 3]
    assert stored_requests(lake_settings) == {
        ("test-host", 71): 4, ("test-host", 72): 4, ("test-host", 73): 4}
    assert duplicates(lake_settings) == 0


def test_refused_s3_keys_are_named_without_the_secret(
        lake_settings: LakeSettings, tmp_path: Path) -> None:
    from fmd_profiler.demo.services import seaweedfs
    from fmd_profiler.errors import StoreError
    from fmd_profiler.fleet.settings import s3_settings

    write_requests(lake_settings, pid=81, segments=1, rows=1)
    with seaweedfs(tmp_path / "guarded", credentials=("right-key", "right-secret")) as guarded:
        wrong = dataclasses.replace(lake_settings, s3=s3_settings({
            "AWS_ACCESS_KEY_ID": "wrong-key", "AWS_SECRET_ACCESS_KEY": "wrong-secret-value",
            "AWS_ENDPOINT_URL": guarded.endpoint_url}))
        with pytest.raises(StoreError) as caught:
            upload_spool(wrong, spool_of(wrong), lock_wait_s=5)
    message = str(caught.value)
    assert "refused" in message
    assert "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in message
    assert "wrong-secret-value" not in message
    assert len(list(pending(spool_of(wrong)))) == 1  # kept for when the keys are fixed
