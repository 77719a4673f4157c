"""Helpers of the fleet read-path tests: config files for a lake, and rows put into a lake
through the real uploader and committer (a copy of a spool, so the same rows can also be
ingested into an embedded DuckDB file)."""

from __future__ import annotations

import shutil
from pathlib import Path

from fmd_profiler.fleet.commit import commit_once
from fmd_profiler.fleet.maintain import maintain_once
from fmd_profiler.fleet.settings import LakeSettings
from fmd_profiler.fleet.upload import upload_spool
from fmd_profiler.schema import SEGMENT_TABLES
from fmd_profiler.store import StoreLocation


def write_config(path: Path, values: dict[str, object]) -> Path:
    """An INI config file with ``values`` under ``[dashboard]``."""
    lines = ["[dashboard]"] + [f"{key} = {value}" for key, value in values.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def copy_spool(location: StoreLocation, target: StoreLocation) -> None:
    shutil.copytree(location.spool_dir, target.spool_dir)


def put_segments_into_lake(location: StoreLocation, settings: LakeSettings) -> int:
    """Every pending segment of ``location`` into the lake, the production way: the uploader
    (Parquet files under deterministic keys), then the committer; returns the rows committed."""
    while any(location.pending_segments(table) for table in SEGMENT_TABLES):
        uploaded = upload_spool(settings, location, lock_wait_s=30.0)
        assert uploaded is not None and uploaded.segments > 0
    rows = 0
    while True:
        committed = commit_once(settings, wait_s=30.0)
        assert committed is not None
        if committed.files == 0:
            return rows
        rows += committed.rows


def maintain(settings: LakeSettings) -> None:
    """``fleet maintain`` without retention: merge files, expire snapshots, delete old files."""
    assert maintain_once(settings, retention_days=0, wait_s=30.0) is not None
