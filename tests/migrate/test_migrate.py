"""python -m fmd_profiler.migrate against a database written by the real Flask-MonitoringDashboard
5.1 (installed from the package index into a virtualenv of its own, cached between runs)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import subprocess
import sys
import venv
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fmd_profiler.migrate.__main__ import main as migrate_main
from fmd_profiler.migrate.fmd_source import MigrateError, open_source
from fmd_profiler.report.report_cli import main as report_main
from fmd_profiler.store.control import read_level_overrides
from fmd_profiler.store.segments import StoreLocation
from tests.helpers import query

FMD_VERSION = "5.1.0"
RECORDER = Path(__file__).resolve().parents[1] / "fixtures" / "fmd_recorder.py"


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fmd_profiler-tests"


@pytest.fixture(scope="session")
def fmd_python() -> Path:
    """The python of a virtualenv with Flask-MonitoringDashboard (made once, then reused): FMD
    pins its own dependency set, so it stays out of the test environment."""
    folder = _cache_dir() / f"fmd-{FMD_VERSION}"
    python = folder / "bin" / "python"
    stamp = folder / ".installed-with-psycopg2"
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f".fmd-{FMD_VERSION}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not stamp.exists():
            venv.create(folder, with_pip=True, clear=True)
            done = subprocess.run([str(python), "-m", "pip", "install", "-q",
                                   f"Flask-MonitoringDashboard=={FMD_VERSION}",
                                   "psycopg2-binary"],  # FMD on PostgreSQL, for one test
                                  capture_output=True, text=True, timeout=900)
            assert done.returncode == 0, f"installing FMD {FMD_VERSION} failed:\n{done.stderr}"
            stamp.touch()
    return python


def _record_with_fmd(fmd_python: Path, folder: Path, database_url: str) -> None:
    """FMD 5.1 records the recorder's known requests into ``database_url``."""
    (folder / "fmd.cfg").write_text(f"""\
[dashboard]
APP_VERSION=1.0
MONITOR_LEVEL=3
OUTLIER_DETECTION_CONSTANT=2.5

[database]
DATABASE={database_url}
""")
    done = subprocess.run([str(fmd_python), str(RECORDER), str(folder / "fmd.cfg")],
                          capture_output=True, text=True, timeout=300, cwd=folder,
                          env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                               "HOME": str(folder)})
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="session")
def fmd_database(fmd_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An FMD 5.1 SQLite database with a known set of requests, exceptions and outliers."""
    folder = tmp_path_factory.mktemp("fmd")
    database = folder / "fmd.db"
    _record_with_fmd(fmd_python, folder, f"sqlite:///{database}")
    return database


def _fmd_rows(database: Path, sql: str) -> list[tuple[object, ...]]:
    # sqlite3's own context manager commits but does not close (3.13 warns about that)
    with contextlib.closing(sqlite3.connect(database)) as con:
        return con.execute(sql).fetchall()


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def _store(folder: Path) -> Path:
    return folder / "store" / "fmd.duckdb"


def test_migrate_brings_exactly_what_fmd_recorded(fmd_database: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    db = _store(tmp_path)
    source = f"sqlite:///{fmd_database}"
    assert migrate_main([source, "--db", str(db)]) == 0
    first = capsys.readouterr().out
    assert "imported 18 requests" in first
    assert "imported 2 exceptions" in first
    assert "skipped" in first and "StackLine" in first

    expected = sorted(
        (endpoint, round(duration, 6), round(_epoch(when), 3), version, group, ip, status)
        for endpoint, duration, when, version, group, ip, status in _fmd_rows(
            fmd_database, "SELECT e.name, r.duration, r.time_requested, r.version_requested, "
                          "r.group_by, r.ip, r.status_code FROM Request r "
                          "JOIN Endpoint e ON e.id = r.endpoint_id"))
    stored = sorted(
        (r["endpoint"], round(r["duration_ms"], 6),
         round(r["started_at"].replace(tzinfo=UTC).timestamp(), 3), r["version"],
         r["group_by"], r["ip"], r["status"])
        for r in query(db, "SELECT * FROM requests"))
    assert stored == expected
    assert len(stored) == 18  # 5 fast + 11 slow + 2 boom
    assert {r[0] for r in stored} == {"fast", "slow", "boom"}
    assert {r[4] for r in stored} == {"alice"}
    assert query(db, "SELECT count(*) AS n FROM requests WHERE exception = 'ValueError' AND "
                     "status = 500") == [{"n": 2}]

    # Outliers: exactly FMD's, with the secrets FMD kept in clear removed.
    fmd_outliers = _fmd_rows(fmd_database, "SELECT request_id FROM Outlier ORDER BY id")
    ours = query(db, "SELECT request_id, endpoint, url, headers FROM outliers "
                     "ORDER BY request_id")
    assert sorted(int(o["request_id"].rsplit("-", 1)[1]) for o in ours) == \
        sorted(r[0] for r in fmd_outliers)
    slow = [o for o in ours if o["url"] == "/slow?s=0.6"]
    assert len(slow) == 1
    headers = json.loads(slow[0]["headers"])
    assert headers["Authorization"] == headers["Cookie"] == "[redacted]"
    text = json.dumps(ours)
    assert "fmd-secret-token" not in text and "fmd-secret-cookie" not in text

    # Endpoints, the never-requested one included; FMD level 1 kept as our 1.
    assert {r["endpoint"] for r in query(db, "SELECT endpoint FROM routes")} == \
        {"fast", "slow", "boom", "never"}
    assert read_level_overrides(StoreLocation(db).levels_path) == {"fast": 1}
    # FMD kept no URL rules; once the app lists its routes, the rule is the app's alone.
    from fmd_profiler.queries.request_queries import endpoint_summary
    from fmd_profiler.schema import ROUTES
    from fmd_profiler.store import Database
    from fmd_profiler.store.database import insert_rows

    with Database(StoreLocation(db)).transaction() as con:
        insert_rows(con, ROUTES, [("fast", "/fast", "GET", 1, 0.0, "app", 1)])
    with Database(StoreLocation(db)).read() as con:
        rules = {e["endpoint"]: e["rule"] for e in endpoint_summary(con)}
    assert (rules["fast"], rules["never"]) == ("/fast", None)

    # Exceptions: the known traceback, in the --json summary.
    assert report_main(["--db", str(db), "--json", "-"]) == 0
    summary = json.loads(capsys.readouterr().out)
    (boom,) = summary["exceptions"]
    recorder_lines = RECORDER.read_text().splitlines()
    known = next(i for i, line in enumerate(recorder_lines, 1) if "# KNOWN LINE" in line)
    assert (boom["endpoint"], boom["exception"], boom["message"], boom["count"]) == \
        ("boom", "ValueError", "it broke", 2)
    assert boom["frames"][-1] == {"file": str(RECORDER), "line": known, "function": "boom",
                                  "code": 'raise ValueError("it broke")  # KNOWN LINE'}

    # Twice run: nothing imported twice.
    assert migrate_main([source, "--db", str(db)]) == 0
    second = capsys.readouterr().out
    assert "imported 0 requests" in second and "imported 0 outliers" in second
    assert query(db, "SELECT count(*) AS n FROM requests") == [{"n": 18}]
    assert query(db, "SELECT sum(count) AS n FROM exceptions") == [{"n": 2}]
    assert query(db, "SELECT count(*) AS n FROM outliers") == [{"n": len(fmd_outliers)}]


def test_the_imported_store_makes_a_report(fmd_database: Path, tmp_path: Path) -> None:
    db = _store(tmp_path)
    assert migrate_main([f"sqlite:///{fmd_database}", "--db", str(db)]) == 0
    out = tmp_path / "site"
    assert report_main(["--db", str(db), "--out", str(out)]) == 0
    assert "it broke" in (out / "errors.html").read_text()
    assert "slow" in (out / "outliers.html").read_text()


def test_an_fmd_config_names_the_store_and_the_table_prefix(
        fmd_database: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "fmd.cfg"
    config.write_text(f"[database]\nDATABASE=sqlite:///{tmp_path}/history.db\nTABLE_PREFIX=x_\n"
                      "[dashboard]\nBRAND_NAME=Shop\n")
    assert migrate_main([f"sqlite:///{fmd_database}", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "x_Endpoint" in err and "TABLE_PREFIX" in err  # FMD wrote no x_ tables
    # Config warnings are one line each; the hint to run migrate is not repeated here.
    assert "BRAND_NAME is ignored" in err and "To bring the recorded history" not in err
    with pytest.raises(MigrateError, match="TABLE_PREFIX"):
        open_source(f"sqlite:///{fmd_database}", "x_")
    config.write_text(f"[database]\nDATABASE=sqlite:///{tmp_path}/history.db\n")
    assert migrate_main([f"sqlite:///{fmd_database}", "--config", str(config)]) == 0
    assert query(tmp_path / "history.duckdb", "SELECT count(*) AS n FROM requests") == \
        [{"n": 18}]


def test_bad_sources_are_one_line_naming_the_fix(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    db = ["--db", str(_store(tmp_path))]
    assert migrate_main([f"sqlite:///{tmp_path}/missing.db", *db]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty.db").write_bytes(b"")
    assert migrate_main([f"sqlite:///{tmp_path}/empty.db", *db]) == 2
    assert "no Flask-MonitoringDashboard tables" in capsys.readouterr().err
    code = migrate_main(["postgresql://fmd:hunter2@127.0.0.1:9/fmd", *db])
    err = capsys.readouterr().err
    assert code == 2 and "hunter2" not in err
    assert "postgresql://fmd:***@127.0.0.1:9/fmd" in err
    assert err.count("\n") == 1


def test_batches_resume_after_the_last_imported_id(fmd_database: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from fmd_profiler.migrate import importer

    monkeypatch.setattr(importer, "BATCH", 5)  # 18 requests: four batches, four commits
    db = _store(tmp_path)
    assert migrate_main([f"sqlite:///{fmd_database}", "--db", str(db)]) == 0
    assert "imported 18 requests" in capsys.readouterr().out
    ledger = query(db, "SELECT fmd_table, last_id, imported FROM fmd_imports "
                       "WHERE fmd_table = 'Request'")
    assert ledger == [{"fmd_table": "Request", "last_id": 18, "imported": 18}]
    assert migrate_main([f"sqlite:///{fmd_database}", "--db", str(db)]) == 0
    assert "imported 0 requests" in capsys.readouterr().out


def test_a_progress_bar_on_a_terminal(fmd_database: Path, tmp_path: Path) -> None:
    import pty
    import struct
    import termios
    import threading

    leader, follower = pty.openpty()
    # A terminal 100 columns wide (a new pty is 0 x 0, where tqdm draws nothing).
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the other side is closed
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        done = subprocess.run([sys.executable, "-m", "fmd_profiler.migrate",
                               f"sqlite:///{fmd_database}", "--db", str(_store(tmp_path))],
                              stdout=subprocess.PIPE, stderr=follower, timeout=120, cwd=tmp_path,
                              text=True)
    finally:
        os.close(follower)
        reader.join(timeout=10)
        os.close(leader)
    bar = b"".join(chunks).decode("utf-8", "replace")
    assert done.returncode == 0
    assert "requests" in bar and "/18" in bar and "rows" in bar  # tqdm, on the terminal only
    assert "imported 18 requests" in done.stdout


# FMD 2.x-3.x's tables, as its SQLAlchemy models declared them (no status_code, no exception
# tables, test results from its Travis harness).
FMD3_SCHEMA = """
CREATE TABLE fmd_Endpoint (id INTEGER PRIMARY KEY, name VARCHAR(250) UNIQUE NOT NULL,
    monitor_level INTEGER, time_added DATETIME, version_added VARCHAR(100),
    last_requested DATETIME);
CREATE TABLE fmd_Request (id INTEGER PRIMARY KEY, endpoint_id INTEGER, duration FLOAT NOT NULL,
    time_requested DATETIME, version_requested VARCHAR(100), group_by VARCHAR(100),
    ip VARCHAR(100) NOT NULL);
CREATE TABLE fmd_Outlier (id INTEGER PRIMARY KEY, request_id INTEGER, request_header TEXT,
    request_environment TEXT, request_url VARCHAR(2100), cpu_percent VARCHAR(150), memory TEXT,
    stacktrace TEXT);
CREATE TABLE fmd_Test (id INTEGER PRIMARY KEY, name VARCHAR(250) UNIQUE, passing BOOLEAN NOT NULL,
    last_tested DATETIME, version_added VARCHAR(100) NOT NULL, time_added DATETIME);
CREATE TABLE fmd_TestResult (id INTEGER PRIMARY KEY, test_id INTEGER, duration FLOAT NOT NULL,
    time_added DATETIME, app_version VARCHAR(100) NOT NULL, travis_job_id VARCHAR(10) NOT NULL,
    run_nr INTEGER NOT NULL);
CREATE TABLE fmd_TestEndpoint (id INTEGER PRIMARY KEY, endpoint_id INTEGER, test_id INTEGER,
    duration FLOAT NOT NULL, app_version VARCHAR(100) NOT NULL,
    travis_job_id VARCHAR(10) NOT NULL, time_added DATETIME);
INSERT INTO fmd_Endpoint VALUES (1, 'index', 2, '2019-03-01 10:00:00', '1.0', NULL);
INSERT INTO fmd_Request VALUES (1, 1, 12.5, '2019-03-01 10:00:01.250000', '1.0', 'bob', '10.1.1.1');
INSERT INTO fmd_Request VALUES (2, 1, 250.0, '2019-03-01 10:00:02', '1.0', NULL, '10.1.1.2');
INSERT INTO fmd_Outlier VALUES (1, 2, 'Cookie: session=s3cr3t', '', 'http://x/?token=abc', '[1]',
    '', 'stack');
INSERT INTO fmd_Test VALUES (1, 'test_index', 1, '2019-03-02', '1.0', '2019-03-02');
INSERT INTO fmd_Test VALUES (2, 'test_other', 0, '2019-03-02', '1.0', '2019-03-02');
INSERT INTO fmd_TestResult VALUES (1, 1, 3.0, '2019-03-02 08:00:00', '1.0', '777', 0);
INSERT INTO fmd_TestResult VALUES (2, 1, 5.0, '2019-03-02 08:00:01', '1.0', '777', 1);
INSERT INTO fmd_TestResult VALUES (3, 2, 7.0, '2019-03-02 08:00:02', '1.0', '777', 0);
INSERT INTO fmd_TestEndpoint VALUES (1, 1, 1, 2.0, '1.0', '777', '2019-03-02 08:00:00');
INSERT INTO fmd_TestEndpoint VALUES (2, 1, 1, 4.0, '1.0', '777', '2019-03-02 08:00:01');
"""


def test_an_fmd3_database_with_a_table_prefix_and_test_results(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "fmd3.db"
    with contextlib.closing(sqlite3.connect(source)) as con:
        con.executescript(FMD3_SCHEMA)
    config = tmp_path / "fmd.cfg"
    config.write_text(f"[dashboard]\nMONITOR_LEVEL=3\n[database]\nTABLE_PREFIX=fmd_\n"
                      f"DATABASE=sqlite:///{tmp_path}/fmd3.db\n")
    for _ in range(2):  # twice: nothing twice
        assert migrate_main([f"sqlite:///{source}", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "imported 2 requests" in out and "imported 3 test results" in out
    db = tmp_path / "fmd3.duckdb"
    assert query(db, "SELECT endpoint, duration_ms, group_by, ip, status FROM requests "
                     "ORDER BY duration_ms") == [
        {"endpoint": "index", "duration_ms": 12.5, "group_by": "bob", "ip": "10.1.1.1",
         "status": None},
        {"endpoint": "index", "duration_ms": 250.0, "group_by": None, "ip": "10.1.1.2",
         "status": None}]
    (outlier,) = query(db, "SELECT url, headers FROM outliers")
    assert "s3cr3t" not in outlier["headers"] and "abc" not in outlier["url"]
    # FMD level 2 (outliers) is our 3; the config's FMD 3 is our 3 too: no override needed.
    assert query(db, "SELECT level FROM routes WHERE endpoint = 'index'") == [{"level": 3}]
    assert query(db, "SELECT test_id, round, call_ms, outcome FROM bench_tests "
                     "ORDER BY test_id, round") == [
        {"test_id": "test_index", "round": 1, "call_ms": 3.0, "outcome": "passed"},
        {"test_id": "test_index", "round": 2, "call_ms": 5.0, "outcome": "passed"},
        {"test_id": "test_other", "round": 1, "call_ms": 7.0, "outcome": "failed"}]
    assert query(db, "SELECT app_version, ci_job_id, rounds FROM bench_runs") == [
        {"app_version": "1.0", "ci_job_id": "777", "rounds": 2}]
    assert query(db, "SELECT test_id, endpoint, hits, total_ms FROM bench_endpoints") == [
        {"test_id": "test_index", "endpoint": "index", "hits": 2, "total_ms": 6.0}]
    site = tmp_path / "site"
    assert report_main(["--db", str(db), "--out", str(site)]) == 0
    assert "test_index" in (site / "tests.html").read_text()
    pages = "".join(p.read_text() for p in site.rglob("*.html"))
    assert "could not be drawn" not in pages


# -- PostgreSQL, through SQLAlchemy -----------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL server of this test session (the fleet tests' own: trust auth, 127.0.0.1
    only, its own port, stopped as a process group); the URL of an empty database in it."""
    from fmd_profiler.demo.services import postgres

    with postgres(tmp_path_factory.mktemp("migrate-postgres")) as server:
        server.create_database("fmd")
        yield f"postgresql+psycopg2://{server.user}@127.0.0.1:{server.port}/fmd"


def test_migrate_from_postgresql_through_sqlalchemy(
        fmd_python: Path, postgres_url: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    _record_with_fmd(fmd_python, tmp_path, postgres_url)
    # trust auth accepts any password: one that must never be printed
    url = postgres_url.replace("fmd@", "fmd:pg-secret-pw@")
    db = _store(tmp_path)
    for _ in range(2):
        assert migrate_main([url, "--db", str(db)]) == 0
    out, err = capsys.readouterr()
    assert "pg-secret-pw" not in out + err
    assert "postgresql+psycopg2://fmd:***@" in out
    assert out.count("imported 18 requests") == 1 and "imported 0 requests" in out
    assert query(db, "SELECT endpoint, count(*) AS n FROM requests GROUP BY ALL "
                     "ORDER BY endpoint") == [{"endpoint": "boom", "n": 2},
                                              {"endpoint": "fast", "n": 5},
                                              {"endpoint": "slow", "n": 11}]
    assert query(db, "SELECT exception, message, sum(count) AS n FROM exceptions GROUP BY ALL"
                 ) == [{"exception": "ValueError", "message": "it broke", "n": 2}]
    assert query(db, "SELECT count(*) AS n FROM outliers WHERE url = '/slow?s=0.6'") == \
        [{"n": 1}]


def test_fleet_mode_is_refused_as_a_destination_with_what_to_do(
        fmd_database: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The import keeps its progress and the direct tables in the store it writes; a fleet's
    # hosts only upload segments, so the history goes to a file kept beside the lake.
    config = tmp_path / "fleet.cfg"
    config.write_text("[dashboard]\nDATABASE = ducklake:postgres:host=127.0.0.1 port=1 "
                      f"dbname=fmd password=pw-7c1e\nDATA_PATH = {tmp_path / 'data'}/\n"
                      f"SPOOL_DIR = {tmp_path / 'spool'}\n")
    assert migrate_main([str(fmd_database), "--config", str(config), "--no-progress"]) == 2
    error = capsys.readouterr().err
    assert "not into a fleet's lake" in error and "--db fmd-history.duckdb" in error
    assert "pw-7c1e" not in error
    assert not (tmp_path / "spool").exists() and not (tmp_path / "data").exists()
