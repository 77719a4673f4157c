"""Helpers of the fleet read-path tests: config files for a lake, and rows put into a lake.

``put_segments_into_lake`` stands where the uploader and committer stand in production: it turns
a spool's segments into Parquet files, registers them with ``ducklake_add_data_files`` (as the
committer does) in one lake transaction, and leaves the segments where they were, so the same
rows can also be ingested into an embedded DuckDB file.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from fmd_profiler.fleet.settings import LakeSettings
from fmd_profiler.schema import SEGMENT_TABLES
from fmd_profiler.store import StoreLocation
from fmd_profiler.store.database import load_segments, select_sql
from fmd_profiler.store.lake import Lake


def write_config(path: Path, values: dict[str, object]) -> Path:
    """An INI config file with ``values`` under ``[dashboard]``."""
    lines = ["[dashboard]"] + [f"{key} = {value}" for key, value in values.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def copy_spool(location: StoreLocation, target: StoreLocation) -> None:
    shutil.copytree(location.spool_dir, target.spool_dir)


def put_segments_into_lake(location: StoreLocation, settings: LakeSettings,
                           name: str = "batch") -> int:
    """Every pending segment of ``location`` into the lake as Parquet files; returns the rows."""
    lake = Lake(settings)
    rows = 0
    with lake.transaction() as con:
        for table in SEGMENT_TABLES.values():
            files = location.pending_segments(table.name)
            if not files:
                continue
            batch = load_segments(table, files)
            assert not batch.unreadable
            con.register("fmd_batch", batch.columns)
            key = f"{settings.data_path}incoming/{table.name}/{name}.parquet"
            con.execute(f"COPY (SELECT {select_sql(table)} FROM fmd_batch) TO '{key}' "
                        "(FORMAT parquet)")
            con.unregister("fmd_batch")
            con.execute(f"CALL ducklake_add_data_files('lake', '{table.name}', '{key}')")
            rows += batch.rows
    return rows
