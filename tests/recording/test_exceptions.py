"""Exceptions of monitored requests: tracebacks grouped by fingerprint, in the store, the --json
summary, the report's and the dashboard's Errors page."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from flask import Flask

import fmd_profiler
from fmd_profiler import Profiler
from fmd_profiler.profiling.redact import Redactor
from fmd_profiler.recording.exception_log import ExceptionLog
from fmd_profiler.report.report_cli import main as report_main
from tests.fakes import FakeClock
from tests.helpers import flush, query

THIS_FILE = str(Path(__file__).resolve())


def failing_helper(n: int) -> None:
    raise ValueError(f"order {n} failed, api_key=abc123")  # the known source line


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no")


def make_app(db: Path, **overrides: object) -> Flask:
    app = Flask("errors")

    @app.route("/orders/<int:n>")
    def order(n: int) -> str:
        failing_helper(n)
        return "never"

    @app.route("/twice")
    def twice() -> str:
        failing_helper(0)
        return "never"

    @app.route("/odd")
    def odd() -> str:
        raise Unprintable()

    @app.route("/ok")
    def ok() -> str:
        return "ok"

    @app.route("/handled")
    def handled() -> str:
        try:
            failing_helper(5)
        except ValueError as exc:
            fmd_profiler.capture(exc)  # FMD 5's name: recorded, and the request goes on
        return "handled"

    settings: dict[str, object] = {"DATABASE": str(db), "MONITOR_LEVEL": 1,
                                   "REDACT_PATTERNS": [r"api_key=\w+"], **overrides}
    Profiler(app, **settings)
    return app


def _line_of(text: str) -> int:
    source = Path(THIS_FILE).read_text().splitlines()
    return next(i for i, line in enumerate(source, 1) if text in line)


def test_a_known_traceback_is_grouped_and_summarised(db_path: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    app = make_app(db_path)
    client = app.test_client()
    for n in range(3):
        assert client.get(f"/orders/{n}").status_code == 500
    assert client.get("/twice").status_code == 500
    assert client.get("/ok").status_code == 200
    app.extensions["fmd_profiler"].runtime.stop()  # a graceful stop hands over every minute

    assert report_main(["--db", str(db_path), "--json", "-"]) == 0
    summary = json.loads(capsys.readouterr().out)
    found = {e["endpoint"]: e for e in summary["exceptions"]}
    assert set(found) == {"order", "twice"}
    order = found["order"]
    assert (order["exception"], order["count"]) == ("ValueError", 3)
    assert order["message"] == "order 2 failed, api_key=[redacted]"
    assert order["first_seen"] <= order["last_seen"]
    assert order["frames"][-1] == {
        "file": THIS_FILE, "line": _line_of("# the known source line"),
        "function": "failing_helper",
        "code": ('raise ValueError(f"order {n} failed, api_key=[redacted]")'
                 "  # the known source line")}
    assert order["frames"][-2]["function"] == "make_app.<locals>.order"
    assert found["twice"]["count"] == 1  # other frames: another group
    assert set(order) >= {"endpoint", "exception", "message", "count", "first_seen",
                          "last_seen", "frames"}

    out = tmp_path / "site"
    assert report_main(["--db", str(db_path), "--out", str(out)]) == 0
    page = (out / "errors.html").read_text()
    assert "failing_helper" in page and "order 2 failed, api_key=[redacted]" in page
    assert "abc123" not in page
    assert 'href="errors.html"' in (out / "index.html").read_text()
    endpoint_page = next((out / "endpoints").glob("order-*.html")).read_text()
    assert 'href="../errors.html">Tracebacks on the Errors page' in endpoint_page


def test_the_dashboard_shows_the_errors_page(db_path: Path) -> None:
    app = make_app(db_path, PASSWORD="pw", SECRET_KEY="k" * 40)
    client = app.test_client()
    client.get("/orders/7")
    flush(app)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/dashboard/login").text)
    assert token
    client.post("/dashboard/login", data={"username": "admin", "password": "pw",
                                          "csrf_token": token.group(1)})
    app.extensions["fmd_profiler"].runtime.stop()
    page = client.get("/dashboard/errors.html")
    assert page.status_code == 200
    assert "raise ValueError" in page.text and "order 7 failed" in page.text


def test_an_exception_that_cannot_print_itself_never_breaks_anything(db_path: Path) -> None:
    app = make_app(db_path)
    assert app.test_client().get("/odd").status_code == 500
    app.extensions["fmd_profiler"].runtime.stop()
    found = query(db_path, "SELECT endpoint, exception, message, count FROM exceptions")
    assert found == [{"endpoint": "odd", "exception": "tests.recording.test_exceptions.Unprintable",
                      "message": "<message could not be read>", "count": 1}]


def test_level_zero_records_no_exception(db_path: Path) -> None:
    app = make_app(db_path, MONITOR_LEVELS={"order": 0})
    app.test_client().get("/orders/1")
    app.extensions["fmd_profiler"].runtime.stop()
    assert query(db_path, "SELECT count(*) AS n FROM exceptions") == [{"n": 0}]


def _raise(kind: type[Exception]) -> BaseException:
    try:
        raise kind("x")
    except Exception as exc:
        return exc


def test_groups_are_handed_over_when_their_minute_is_over() -> None:
    clock = FakeClock()
    log = ExceptionLog(Redactor(), per_hour=20, capacity=10, now=clock.wall)
    start = clock.wall()
    minute = start - start % 60
    log.add(("e", "v1", start, _raise(KeyError)))
    log.add(("e", "v1", start + 1, _raise(KeyError)))
    assert log.take_groups() == []  # the minute is still running
    clock.advance(60)
    rows = log.take_groups()
    assert [(r[1], r[2], r[3], r[5], r[6], r[7], r[8]) for r in rows] == [
        ("e", "v1", "KeyError", minute, 2, start, start + 1)]
    assert [r[1] for r in log.take_traces()] == ["KeyError"]


def test_new_kinds_beyond_the_hourly_cap_are_counted_without_traceback() -> None:
    clock = FakeClock()
    log = ExceptionLog(Redactor(), per_hour=1, capacity=10, now=clock.wall)
    now = clock.wall()
    log.add(("e", "v", now, _raise(KeyError)))
    log.add(("e", "v", now, _raise(ValueError)))
    groups = log.take_groups(everything=True)
    assert sorted((r[3], r[6]) for r in groups) == [("KeyError", 1), ("ValueError", 1)]
    assert [r[1] for r in log.take_traces()] == ["KeyError"]


def test_the_buffer_is_bounded_and_says_what_it_dropped(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    log = ExceptionLog(Redactor(), per_hour=20, capacity=2, now=clock.wall)
    for _ in range(5):
        log.add(("e", "v", clock.wall(), _raise(KeyError)))
    assert log.pending.dropped == 3
    with caplog.at_level("WARNING", logger="fmd_profiler"):
        assert log.take_groups(everything=True)[0][6] == 2
        log.take_traces()  # nothing new dropped: no second line
    assert [r.getMessage()[:40] for r in caplog.records] == [
        "fmd_profiler: 3 exceptions so far in pro"]


def test_capture_records_a_handled_exception(db_path: Path) -> None:
    app = make_app(db_path)
    assert app.test_client().get("/handled").text == "handled"
    fmd_profiler.capture(ValueError("outside any request"))  # nothing, and no error
    app.extensions["fmd_profiler"].runtime.stop()
    found = query(db_path, "SELECT e.endpoint, e.exception, e.message, e.count, t.frames "
                           "FROM exceptions e JOIN exception_traces t USING (fingerprint)")
    assert [(f["endpoint"], f["exception"], f["message"], f["count"]) for f in found] == [
        ("handled", "ValueError", "order 5 failed, api_key=[redacted]", 1)]
    assert json.loads(found[0]["frames"])[-1]["function"] == "failing_helper"
    assert query(db_path, "SELECT status, exception FROM requests") == [
        {"status": 200, "exception": None}]
