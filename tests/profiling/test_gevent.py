"""Under gevent monkey-patching the profiler degrades to timing, says so, and keeps recording."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("gevent")

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
from gevent import monkey
monkey.patch_all()

import json, logging, sys
logging.basicConfig(level=logging.WARNING, format="%(message)s")
from fmd_profiler.demo.app import create_app
from fmd_profiler.store import Database, StoreLocation
from fmd_profiler.queries.request_queries import rows
from pathlib import Path

db = Path(sys.argv[1])
app = create_app(DATABASE=str(db), MONITOR_LEVEL=3)
client = app.test_client()
for _ in range(40):
    assert client.get("/split?ms=2").status_code == 200
app.extensions["fmd_profiler"].runtime.flush(ingest=True)
with Database(StoreLocation(db)).read() as con:
    print(json.dumps({
        "requests": rows(con, "SELECT count(*) AS n FROM requests")[0]["n"],
        "samples": rows(con, "SELECT count(*) AS n FROM profile_samples")[0]["n"],
    }))
"""


def test_gevent_patching_degrades_to_timing_with_a_warning(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "fmd.duckdb")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"requests": 40, "samples": 0}
    assert "gevent monkey-patching detected" in done.stderr
