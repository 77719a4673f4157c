"""A broken store never breaks the app: requests are served, one warning is logged, rows are kept
(up to the bound, drops counted) and written when the store is back."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from fmd_profiler import Profiler
from fmd_profiler.report.report_cli import main as report_main
from tests.fakes import FakeClock
from tests.helpers import query

NOBODY = 65534


@contextlib.contextmanager
def unprivileged() -> Iterator[None]:
    """Act as an ordinary user while touching the store: root ignores file permissions, so a
    read-only folder would not be read-only to it. Requests are served outside this block (the
    interpreter's own files may sit in root's private home)."""
    if os.geteuid() != 0:
        yield
        return
    os.seteuid(NOBODY)
    try:
        yield
    finally:
        os.seteuid(0)


@pytest.fixture
def shared_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder an unprivileged user may write to (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="fmd-faults-"))
    path.chmod(0o777)
    monkeypatch.chdir(path)
    yield path
    for root, dirs, _ in os.walk(path):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)
    shutil.rmtree(path, ignore_errors=True)


def make_app(db_path: Path, clock: FakeClock, **overrides: object) -> Flask:
    app = Flask("faulty")

    @app.route("/hello/<name>")
    def hello(name: str) -> str:
        clock.advance(0.001)
        return f"hello {name}"

    settings: dict[str, object] = {"DATABASE": str(db_path), "FLUSH_INTERVAL_S": 60, **overrides}
    Profiler(app, clock=clock, **settings)
    return app


def serve(app: Flask, count: int, start: int = 0) -> None:
    client = app.test_client()
    for i in range(start, start + count):
        response = client.get(f"/hello/{i}")
        assert (response.status_code, response.data) == (200, f"hello {i}".encode())


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "fmd_profiler" and r.levelno == logging.WARNING]


def test_read_only_store_folder_then_writable_again(shared_dir: Path, clock: FakeClock,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    db = shared_dir / "store" / "fmd.duckdb"
    spool = db.parent / "fmd.duckdb.spool"
    def folders() -> list[Path]:
        return [db.parent, spool, *(p for p in spool.iterdir() if p.is_dir())]

    app = make_app(db, clock)
    runtime = app.extensions["fmd_profiler"].runtime
    with caplog.at_level(logging.WARNING, logger="fmd_profiler"):
        serve(app, 5)
        with unprivileged():
            runtime.flush(ingest=True)
            for folder in folders():
                folder.chmod(0o555)
        serve(app, 7, start=5)  # every request still answered correctly
        with unprivileged():
            runtime.flush(ingest=True)
            runtime.flush(ingest=True)
        assert runtime.writer is not None and runtime.writer.pending_rows >= 7
        failing = [m for m in warnings_of(caplog) if "cannot write segments" in m]
        assert len(failing) == 1  # one warning, not one per flush
        assert "Permission denied" in failing[0]
        with unprivileged():
            for folder in folders():
                folder.chmod(0o755)
            runtime.flush(ingest=True)
        assert any("works again" in m for m in warnings_of(caplog))
    assert query(db, "SELECT count(*) AS n FROM requests") == [{"n": 12}]


def test_store_folder_removed_mid_run(db_path: Path, clock: FakeClock) -> None:
    app = make_app(db_path, clock)
    runtime = app.extensions["fmd_profiler"].runtime
    serve(app, 3)
    runtime.flush(ingest=True)
    shutil.rmtree(db_path.parent)
    serve(app, 4, start=3)
    runtime.flush(ingest=True)
    names = query(db_path, "SELECT endpoint, count(*) AS n FROM requests GROUP BY 1")
    assert names == [{"endpoint": "hello", "n": 4}]  # the folder (and what it held) came back


def test_corrupt_database_file(db_path: Path, clock: FakeClock,
                               caplog: pytest.LogCaptureFixture,
                               capsys: pytest.CaptureFixture[str]) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"this is not a duckdb file" * 100)
    app = make_app(db_path, clock)
    runtime = app.extensions["fmd_profiler"].runtime
    with caplog.at_level(logging.WARNING, logger="fmd_profiler"):
        serve(app, 6)
        runtime.flush(ingest=True)
    [warning] = [m for m in warnings_of(caplog) if "cannot ingest" in m]
    assert "if it is corrupt, move it away" in warning
    # The report says the same, in one line, without a traceback.
    assert report_main(["--db", str(db_path), "--json", "-"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "move it away" in err
    # Nothing was lost: once the file is moved away, the spool goes into a new database.
    db_path.rename(db_path.with_suffix(".broken"))
    runtime.flush(ingest=True)
    assert query(db_path, "SELECT count(*) AS n FROM requests") == [{"n": 6}]


LOCK_HOLDER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("locked", flush=True)
sys.stdin.readline()
con.close()
"""


def test_database_locked_by_another_program(db_path: Path, clock: FakeClock,
                                            caplog: pytest.LogCaptureFixture) -> None:
    app = make_app(db_path, clock)
    runtime = app.extensions["fmd_profiler"].runtime
    serve(app, 2)
    runtime.flush(ingest=True)
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(db_path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with caplog.at_level(logging.WARNING, logger="fmd_profiler"):
            serve(app, 3, start=2)
            runtime.flush(ingest=True)
        [warning] = [m for m in warnings_of(caplog) if "cannot ingest" in m]
        assert "locked by another program" in warning
    finally:
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=30)
        holder.stdout.close()
    runtime.flush(ingest=True)
    assert query(db_path, "SELECT count(*) AS n FROM requests") == [{"n": 5}]


def test_a_full_buffer_drops_and_counts(db_path: Path, clock: FakeClock,
                                        caplog: pytest.LogCaptureFixture,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    app = make_app(db_path, clock, MAX_BUFFERED_ROWS=1000)
    runtime = app.extensions["fmd_profiler"].runtime
    with caplog.at_level(logging.WARNING, logger="fmd_profiler"):
        serve(app, 1250)  # no flush in between: the writer thread sleeps for 60 s
        runtime.flush(ingest=True)
    assert runtime.requests.dropped == 250
    assert any("250 request rows dropped" in m for m in warnings_of(caplog))
    assert report_main(["--db", str(db_path), "--json", "-"]) == 0
    out = capsys.readouterr().out
    assert '"requests": 1000' in out and '"dropped_rows": 250' in out


def test_a_store_broken_for_long_keeps_a_bounded_backlog(shared_dir: Path,
                                                         clock: FakeClock) -> None:
    db = shared_dir / "store" / "fmd.duckdb"
    app = make_app(db, clock, MAX_BUFFERED_ROWS=1000)
    runtime = app.extensions["fmd_profiler"].runtime
    with unprivileged():
        db.parent.mkdir(parents=True)
        db.parent.chmod(0o555)
    for _ in range(3):
        serve(app, 600)
        with unprivileged():
            runtime.flush()
    writer = runtime.writer
    assert writer is not None
    assert writer.dropped == {"requests": 800}  # the oldest 800 of 1,800 requests
    assert writer.pending_rows >= 1000
    with unprivileged():
        db.parent.chmod(0o755)
        runtime.flush(ingest=True)
    assert query(db, "SELECT count(*) AS n FROM requests") == [{"n": 1000}]
    assert query(db, "SELECT max(dropped) AS d FROM process_stats") == [{"d": 800}]


@contextlib.contextmanager
def tiny_filesystem(path: Path, size: str = "256k") -> Iterator[bool]:
    """A real, small tmpfs at ``path`` when this machine lets us mount one."""
    path.mkdir(parents=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True)
    try:
        yield done.returncode == 0
    finally:
        if done.returncode == 0:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


def test_disk_full_then_space_again(tmp_path: Path, clock: FakeClock,
                                    caplog: pytest.LogCaptureFixture) -> None:
    mount = tmp_path / "small"
    with tiny_filesystem(mount) as mounted:
        if not mounted:
            pytest.skip("cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN)")
        db = mount / "fmd.duckdb"
        app = make_app(db, clock)
        runtime = app.extensions["fmd_profiler"].runtime
        filler = mount / "filler"
        with open(filler, "wb") as fh, contextlib.suppress(OSError):
            fh.write(b"x" * 1024 * 1024)  # fill the disk
        with caplog.at_level(logging.WARNING, logger="fmd_profiler"):
            serve(app, 50)
            runtime.flush()
            [warning] = [m for m in warnings_of(caplog) if "cannot write segments" in m]
            assert "No space left" in warning or "space" in warning.lower()
            filler.unlink()
            runtime.flush()
        assert query(db, "SELECT count(*) AS n FROM requests") == [{"n": 50}]
        runtime.stop()  # release the files before the tmpfs goes away
