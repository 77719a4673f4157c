"""``python -m fmd_profiler.report --json``: the figures are SQL's; errors are one line."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask

from fmd_profiler import Profiler
from fmd_profiler.report.report_cli import main, parse_time
from tests.fakes import FakeClock
from tests.helpers import flush


def recorded_app(db_path: Path, clock: FakeClock) -> Flask:
    app = Flask("summary")

    @app.route("/work/<int:ms>")
    def work(ms: int) -> str:
        clock.advance(ms / 1000, cpu=ms / 4000)  # a quarter of each request computes
        if ms == 13:
            raise RuntimeError("unlucky")
        return "ok"

    @app.route("/unused")
    def unused() -> str:
        return "never called"

    Profiler(app, clock=clock, DATABASE=str(db_path), MONITOR_LEVEL=1)
    app.logger.disabled = True
    client = app.test_client()
    for ms in range(1, 101):  # durations 1..100 ms, one per request, one second apart
        client.get(f"/work/{ms}")
        clock.advance(1.0 - ms / 1000)
    client.get("/nope")
    flush(app)
    return app


def summary(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main([*args, "--json", "-"]) == 0
    return json.loads(capsys.readouterr().out)


def test_summary_figures(db_path: Path, clock: FakeClock,
                         capsys: pytest.CaptureFixture[str]) -> None:
    recorded_app(db_path, clock)
    result = summary(capsys, "--db", str(db_path))
    assert result["requests"] == 101
    assert result["dropped_rows"] == 0
    by_name = {e["endpoint"]: e for e in result["endpoints"]}
    assert list(by_name) == ["unused", "work", "<unmatched>"]
    work = by_name["work"]
    assert work == {
        "endpoint": "work", "rule": "/work/<int:ms>", "methods": "GET", "level": 1,
        "hits": 100,
        "median_ms": 50.5,  # continuous quantiles of 1..100
        "p95_ms": 95.05,
        "p99_ms": 99.01,
        "median_cpu_ms": 12.625,  # a quarter of 50.5
        "errors": 1,
        "last_requested": "2027-01-15T08:01:39.000+00:00",
        "by_method": [{"method": "GET", "rule": "/work/<int:ms>", "hits": 100,
                       "median_ms": 50.5, "p95_ms": 95.05, "p99_ms": 99.01, "errors": 1}],
    }
    assert by_name["unused"]["hits"] == 0
    assert by_name["unused"]["last_requested"] is None
    assert by_name["<unmatched>"]["hits"] == 1
    assert result["functions"] == []


def test_time_window(db_path: Path, clock: FakeClock, capsys: pytest.CaptureFixture[str]) -> None:
    recorded_app(db_path, clock)
    result = summary(capsys, "--db", str(db_path), "--since", "2027-01-15T08:00:10",
                     "--until", "2027-01-15T08:00:20")
    work = next(e for e in result["endpoints"] if e["endpoint"] == "work")
    assert work["hits"] == 10  # requests 11..20
    assert work["median_ms"] == 15.5


def test_json_file_and_config_file(db_path: Path, clock: FakeClock, tmp_path: Path) -> None:
    recorded_app(db_path, clock)
    config = tmp_path / "conf" / "app.cfg"
    config.parent.mkdir()
    config.write_text(f"[dashboard]\nDATABASE=duckdb:///{db_path}\n")
    out = tmp_path / "out" / "summary.json"
    assert main(["--config", str(config), "--json", str(out)]) == 0
    assert json.loads(out.read_text())["requests"] == 101


def test_segments_glob_without_a_database(db_path: Path, clock: FakeClock,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    app = recorded_app(db_path, clock)
    # Re-create the rows as bare segments, as a fleet would ship them.
    app.extensions["fmd_profiler"].runtime.requests.add(
        ("work", "/work/<int:ms>", "GET", 200, 2.0, 1.0, 1_900_000_000.0, "2", None, None, None,
         None))
    app.extensions["fmd_profiler"].runtime.flush(ingest=False)
    pattern = str(db_path) + ".spool/requests/*.seg"
    result = summary(capsys, "--db", pattern)
    assert result["requests"] == 1


def test_missing_database_is_one_clear_line(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", str(tmp_path / "none.duckdb"), "--json", "-"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("python -m fmd_profiler.report: error: no data at")
    assert "enable_profiler(app)" in err and err.count("\n") == 1


def test_bad_time_is_one_clear_line(db_path: Path, clock: FakeClock,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    recorded_app(db_path, clock)
    assert main(["--db", str(db_path), "--since", "yesterday", "--json", "-"]) == 2
    assert "cannot read the time 'yesterday'" in capsys.readouterr().err


def test_parse_time_forms() -> None:
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    assert parse_time("2026-11-01", "UTC") == datetime(2026, 11, 1)
    assert parse_time("2026-11-01T08:00", "Europe/Amsterdam") == datetime(2026, 11, 1, 7)
    assert parse_time("2026-11-01T08:00+02:00", "UTC") == datetime(2026, 11, 1, 6)
    assert parse_time("24h", "UTC", now=now) == datetime(2026, 11, 28, 12, 0)
    assert parse_time("7d", "UTC", now=now) == datetime(2026, 11, 22, 12, 0)
    assert parse_time("30m", "UTC", now=now) == datetime(2026, 11, 29, 11, 30)


def test_module_entry_point_runs(db_path: Path, clock: FakeClock, tmp_path: Path) -> None:
    recorded_app(db_path, clock)
    done = subprocess.run([sys.executable, "-m", "fmd_profiler.report", "--db", str(db_path),
                           "--json", "-"], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["requests"] == 101
