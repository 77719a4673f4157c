"""The upload child loads only what reaching DATA_PATH needs: it runs every UPLOAD_INTERVAL_S on
every host, so what it imports is paid again and again. It never touches the catalog, so it
needs no psycopg; a folder DATA_PATH needs none of DuckDB's extensions."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from fmd_profiler.schema import REQUESTS
from fmd_profiler.store.segments import SegmentWriter, StoreLocation

ROOT = Path(__file__).resolve().parents[2]


def test_an_upload_to_a_folder_needs_neither_psycopg_nor_extensions(tmp_path: Path) -> None:
    data = tmp_path / "data"
    spool = tmp_path / "spool"
    writer = SegmentWriter(StoreLocation(spool / "local"), host="h", pid=1)
    writer.write(REQUESTS, [("a", "/a", "GET", 200, 1.0, 1.0, time.time() + i, "1", "u", "ip",
                             None, None) for i in range(50)])
    writer.close()
    # Neither psycopg nor the extension packages import: a module of each name that fails,
    # first on the path. The catalog named in DATABASE does not exist either.
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    for name in ("psycopg", "duckdb_extension_ducklake", "duckdb_extension_httpfs",
                 "duckdb_extension_postgres"):
        (shadow / f"{name}.py").write_text(
            f"raise ModuleNotFoundError(\"No module named '{name}'\", name='{name}')\n")
    config = tmp_path / "fleet.cfg"
    config.write_text("[dashboard]\nDATABASE = ducklake:postgres:host=127.0.0.1 port=1 "
                      f"dbname=none\nDATA_PATH = {data}/\nHOST_NAME = h1\nSPOOL_DIR = {spool}\n")
    # An empty HOME: DuckDB finds no extension installed by an earlier run either.
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{shadow}:{ROOT}",
           "HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-m", "fmd_profiler.fleet", "upload", "--config",
                           str(config)], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          check=False, env=env)
    assert done.returncode == 0, done.stderr
    assert "uploaded 1 file(s), 50 row(s) from 1 segment(s)" in done.stdout
    assert len(list(data.glob("incoming/requests/v*/h1/*.parquet"))) == 1
