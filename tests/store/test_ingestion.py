"""Ingestion by a child process: paced for the whole store, failures reported once, no DuckDB
in the process that records."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fmd_profiler.recording.writer import Source, Writer
from fmd_profiler.schema import REQUESTS
from fmd_profiler.store import SegmentWriter, StoreLocation
from fmd_profiler.store.ingestion import Ingestion, python_executable
from tests.helpers import query
from tests.recording.test_faults import warnings_of
from tests.store.test_store import request_row

ROOT = Path(__file__).resolve().parents[2]
CHILD_WAIT_S = 60.0  # a bound for a child that normally takes well under a second


@pytest.fixture
def location(db_path: Path) -> StoreLocation:
    return StoreLocation(db_path)


def spool(location: StoreLocation, n: int) -> None:
    writer = SegmentWriter(location)
    writer.write(REQUESTS, [request_row(f"e{i}") for i in range(n)])
    writer.close()


def run_child(ingestion: Ingestion) -> tuple[bool, Exception | None]:
    assert ingestion.launch_if_due()
    ingestion.wait(CHILD_WAIT_S)
    return ingestion.collect()


def test_a_child_moves_the_spool_into_the_database(location: StoreLocation) -> None:
    spool(location, 3)
    assert run_child(Ingestion(location, interval_s=0)) == (True, None)
    assert location.pending_segments("requests") == []
    assert query(location.database, "SELECT count(*) AS n FROM requests") == [{"n": 3}]


def test_one_child_per_interval_for_all_processes_of_a_store(location: StoreLocation) -> None:
    first, second = Ingestion(location, interval_s=3600), Ingestion(location, interval_s=3600)
    assert not first.launch_if_due()  # nothing waits: no child
    spool(location, 2)
    assert first.launch_if_due()
    assert not first.launch_if_due()  # its child still runs or was just started
    assert not second.launch_if_due()  # another worker of the same store: not its turn
    first.wait(CHILD_WAIT_S)
    assert first.collect() == (True, None)
    spool(location, 1)
    assert not first.launch_if_due()  # the interval has not passed
    os.utime(location.ingest_marker_path, (0, 0))  # as if it had
    assert run_child(second) == (True, None)
    assert query(location.database, "SELECT count(*) AS n FROM requests") == [{"n": 3}]
    spool(location, 1)
    future = time.time() + 86_400  # the clock was set back a day after the marker was touched
    os.utime(location.ingest_marker_path, (future, future))
    assert run_child(first) == (True, None)


def test_a_failing_child_is_one_warning_and_recovery_another(
        location: StoreLocation, caplog: pytest.LogCaptureFixture) -> None:
    location.database.parent.mkdir(parents=True)
    location.database.write_bytes(b"this is not a duckdb file" * 100)
    rows = [[request_row("a")]]
    ingestion = Ingestion(location, interval_s=0)
    writer = Writer([Source(REQUESTS, lambda: rows.pop() if rows else [])],
                    SegmentWriter(location), ingestion, flush_interval=1.0,
                    max_pending_rows=100)
    with caplog.at_level(logging.WARNING, logger="fmd_profiler"):
        for _ in range(3):  # each flush collects the last child and starts the next
            writer.flush()
            ingestion.wait(CHILD_WAIT_S)
        failing = [m for m in warnings_of(caplog) if "cannot ingest" in m]
        assert len(failing) == 1, failing  # one per outage, though every child failed
        assert "if it is corrupt, move it away" in failing[0]
        assert "(StoreError: cannot open the DuckDB file" in failing[0]  # the child's own line
        assert str(location.database) in failing[0]
        location.database.unlink()
        writer.flush()  # collects the last failure, starts a child that works
        ingestion.wait(CHILD_WAIT_S)
        writer.stop()
        assert any("works again" in m for m in warnings_of(caplog))
    assert query(location.database, "SELECT endpoint FROM requests") == [{"endpoint": "a"}]
    assert location.pending_segments("requests") == []


def test_a_child_past_its_time_limit_is_stopped(location: StoreLocation) -> None:
    spool(location, 1)
    ingestion = Ingestion(location, interval_s=0, child_timeout_s=0)
    assert ingestion.launch_if_due()
    finished, error = ingestion.collect()
    assert finished
    assert error is not None and "ran longer than 0 s and was stopped" in error
    assert run_child(Ingestion(location, interval_s=0)) == (True, None)  # the rows are not lost
    assert query(location.database, "SELECT count(*) AS n FROM requests") == [{"n": 1}]


def ingest_by_hand(database: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fmd_profiler.store.ingestion", str(database)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


def test_the_child_can_be_run_by_hand(location: StoreLocation, tmp_path: Path) -> None:
    spool(location, 4)
    done = ingest_by_hand(location.database)
    assert (done.returncode, done.stdout) == (0, "ingested 1 segment(s), 4 row(s)\n")
    assert query(location.database, "SELECT count(*) AS n FROM requests") == [{"n": 4}]

    typo = tmp_path / "no-such.duckdb"
    done = ingest_by_hand(typo)
    assert done.returncode == 2
    assert f"no store at {typo}: neither the file nor no-such.duckdb.spool" in done.stdout
    assert not typo.exists()  # no empty database made up at a mistyped path

    broken = StoreLocation(tmp_path / "broken" / "fmd.duckdb")
    spool(broken, 1)
    broken.database.write_bytes(b"this is not a duckdb file" * 100)
    done = ingest_by_hand(broken.database)
    assert done.returncode == 1
    assert done.stdout.startswith("StoreError: "), done.stdout + done.stderr
    assert len(broken.pending_segments("requests")) == 1  # kept for when the file is mended


RECORDING_PROCESS = """
import sys
from flask import Flask
from fmd_profiler import enable_profiler
app = Flask("worker")
app.get("/")(lambda: "ok")
enable_profiler(app, DATABASE=sys.argv[1], MONITOR_LEVEL=1, PASSWORD="secret")  # dashboard on
client = app.test_client()
for _ in range(25):
    assert client.get("/").status_code == 200
writer = app.extensions["fmd_profiler"].runtime.writer
writer.flush()  # the writer thread's own flush: segments, then an ingestion child
writer.stop()  # waits for that child
print(" ".join(m for m in ("duckdb", "numpy") if m in sys.modules))
"""


def test_a_recording_process_loads_neither_duckdb_nor_numpy(location: StoreLocation) -> None:
    done = subprocess.run([sys.executable, "-c", RECORDING_PROCESS, str(location.database)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == []
    # ... and its rows reached the database through the child, not through a reader.
    assert location.pending_segments("requests") == []
    assert query(location.database, "SELECT count(*) AS n FROM requests") == [{"n": 25}]


def test_an_embedding_server_s_binary_is_not_taken_for_python(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert python_executable() == sys.executable  # a Python: used as it is
    monkeypatch.setattr(sys, "executable", "/usr/local/bin/uwsgi")  # uWSGI reports its own binary
    chosen = Path(python_executable())
    assert chosen.name in ("python3", "python") and chosen.parent == Path(sys.prefix) / "bin"
    done = subprocess.run([str(chosen), "-c", "import sys; print(sys.prefix)"],
                          capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == sys.prefix  # the same environment, so the same packages
