"""Every kind of request is recorded exactly once, with the right labels and exact durations."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from flask import Flask, abort, g, request, stream_with_context

from fmd_profiler import Profiler, SetupError, enable_profiler
from fmd_profiler.recording.current_test import current_test
from tests.fakes import FakeClock
from tests.helpers import flush, query, stored_requests


def make_app(db_path: Path, clock: FakeClock, **overrides: object) -> Flask:
    app = Flask("recorded")

    @app.route("/items/<int:item_id>")
    def item(item_id: int) -> dict[str, int]:
        clock.advance(0.005, cpu=0.002)
        return {"id": item_id}

    @app.route("/fail")
    def fail() -> str:
        clock.advance(0.001)
        raise KeyError("missing")

    @app.route("/abort")
    def aborted() -> str:
        abort(403)

    @app.route("/stream")
    def stream() -> object:
        def body() -> Iterator[str]:
            yield "a"
            clock.advance(0.030)
            yield "b"
        return app.response_class(body())

    @app.route("/stream-ctx")
    def stream_ctx() -> object:
        @stream_with_context
        def body() -> Iterator[str]:
            yield request.path
            clock.advance(0.010)
            yield "!"
        return app.response_class(body())

    @app.route("/health")
    def health() -> str:
        return "ok"

    settings: dict[str, object] = {"DATABASE": str(db_path), "MONITOR_LEVEL": 1, **overrides}
    Profiler(app, clock=clock, **settings)
    return app


def test_a_request_is_recorded_with_exact_timings(db_path: Path, clock: FakeClock) -> None:
    app = make_app(db_path, clock)
    assert app.test_client().get("/items/7").status_code == 200
    flush(app)
    [row] = stored_requests(db_path)
    assert row["endpoint"] == "item"
    assert row["rule"] == "/items/<int:item_id>"
    assert row["method"] == "GET"
    assert row["status"] == 200
    assert row["duration_ms"] == pytest.approx(5.0)
    assert row["cpu_ms"] == pytest.approx(2.0)
    assert row["started_at"] == datetime(2027, 1, 15, 8, 0, 0)  # naive UTC
    assert row["version"] == "unversioned"
    assert row["ip"] == "127.0.0.1"
    assert row["exception"] is None
    assert row["pid"] > 0 and row["host"]


def test_started_at_is_utc(db_path: Path, clock: FakeClock) -> None:
    app = make_app(db_path, clock)
    app.test_client().get("/health")
    flush(app)
    [row] = query(db_path, "SELECT CAST(started_at AS VARCHAR) AS t FROM requests")
    assert row["t"] == "2027-01-15 08:00:00"  # 1_800_000_000 seconds after the epoch, in UTC


def test_unhandled_exception_is_a_500_with_its_type(db_path: Path, clock: FakeClock) -> None:
    app = make_app(db_path, clock)
    app.logger.disabled = True  # Flask logs the traceback; we only check what was recorded
    assert app.test_client().get("/fail").status_code == 500
    flush(app)
    [row] = stored_requests(db_path)
    assert (row["endpoint"], row["status"], row["exception"]) == ("fail", 500, "KeyError")
    assert row["duration_ms"] == pytest.approx(1.0)


def test_exception_propagating_in_testing_mode_is_recorded(db_path: Path,
                                                          clock: FakeClock) -> None:
    app = make_app(db_path, clock)
    app.testing = True
    with pytest.raises(KeyError):
        app.test_client().get("/fail")
    flush(app)
    [row] = stored_requests(db_path)
    assert (row["status"], row["exception"]) == (500, "KeyError")


def test_abort_records_its_status(db_path: Path, clock: FakeClock) -> None:
    app = make_app(db_path, clock)
    assert app.test_client().get("/abort").status_code == 403
    flush(app)
    [row] = stored_requests(db_path)
    assert (row["endpoint"], row["status"], row["exception"]) == ("aborted", 403, None)


def test_unmatched_urls_share_one_bucket(db_path: Path, clock: FakeClock) -> None:
    app = make_app(db_path, clock)
    client = app.test_client()
    for path in ("/wp-login.php", "/.env", "/admin/../etc/passwd"):
        assert client.get(path).status_code == 404
    assert client.post("/health").status_code == 405
    flush(app)
    found = query(db_path, "SELECT endpoint, rule, status, count(*) AS n FROM requests "
                           "GROUP BY ALL ORDER BY status")
    assert found == [{"endpoint": "<unmatched>", "rule": None, "status": 404, "n": 3},
                     {"endpoint": "<unmatched>", "rule": None, "status": 405, "n": 1}]


def test_streamed_body_is_timed_until_it_ends(db_path: Path, clock: FakeClock) -> None:
    app = make_app(db_path, clock)
    response = app.test_client().get("/stream")
    assert response.data == b"ab"
    flush(app)
    [row] = stored_requests(db_path)
    assert row["endpoint"] == "stream"
    assert row["duration_ms"] == pytest.approx(30.0)


def test_stream_with_context_is_recorded_once(db_path: Path, clock: FakeClock) -> None:
    app = make_app(db_path, clock)
    with app.test_client().get("/stream-ctx") as response:
        assert response.data == b"/stream-ctx!"
    flush(app)
    [row] = stored_requests(db_path)
    assert row["endpoint"] == "stream_ctx"
    assert row["duration_ms"] == pytest.approx(10.0)


def test_routes_added_after_enable_profiler_are_monitored(db_path: Path,
                                                         clock: FakeClock) -> None:
    app = make_app(db_path, clock)

    @app.route("/late")
    def late() -> str:
        return "late"

    app.test_client().get("/late")
    flush(app)
    assert [r["endpoint"] for r in stored_requests(db_path)] == ["late"]


def test_every_route_is_known_even_when_never_hit(db_path: Path, clock: FakeClock) -> None:
    app = make_app(db_path, clock)
    app.test_client().get("/health")
    flush(app)
    routes = query(db_path, "SELECT endpoint, rule, methods, level FROM routes ORDER BY endpoint")
    assert {r["endpoint"] for r in routes} == {"aborted", "fail", "health", "item", "stream",
                                               "stream_ctx"}
    assert {"endpoint": "item", "rule": "/items/<int:item_id>", "methods": "GET",
            "level": 1} in routes


def test_per_endpoint_levels(db_path: Path, clock: FakeClock) -> None:
    app = make_app(db_path, clock, MONITOR_LEVELS={"health": 0})
    client = app.test_client()
    client.get("/health")
    client.get("/items/1")
    flush(app)
    assert [r["endpoint"] for r in stored_requests(db_path)] == ["item"]
    levels = {r["endpoint"]: r["level"] for r in query(db_path, "SELECT * FROM routes")}
    assert levels["health"] == 0  # still listed, so the report can say it is switched off


def test_a_request_at_level_zero_reads_the_cpu_clock_once(db_path: Path,
                                                         clock: FakeClock) -> None:
    app = make_app(db_path, clock, MONITOR_LEVELS={"health": 0})
    client = app.test_client()
    client.get("/items/1")  # the first request starts the runtime: count from the second
    before = clock.cpu_reads
    client.get("/items/1")
    recorded = clock.cpu_reads - before
    client.get("/health")
    assert (recorded, clock.cpu_reads - before - recorded) == (2, 1)


def test_level_zero_everywhere_records_nothing(db_path: Path, clock: FakeClock) -> None:
    app = make_app(db_path, clock, MONITOR_LEVEL=0)
    app.test_client().get("/items/1")
    flush(app)
    assert stored_requests(db_path) == []


def test_static_files_are_not_recorded_by_default(db_path: Path, clock: FakeClock,
                                                  tmp_path: Path) -> None:
    static = tmp_path / "static"
    static.mkdir()
    (static / "app.css").write_text("body {}")
    app = Flask("with_static", static_folder=str(static))
    Profiler(app, clock=clock, DATABASE=str(db_path))
    with app.test_client().get("/static/app.css") as response:
        assert response.status_code == 200
    flush(app)
    assert stored_requests(db_path) == []
    assert query(db_path, "SELECT * FROM routes WHERE endpoint = 'static'") == []


def test_static_files_can_be_monitored_on_request(db_path: Path, clock: FakeClock,
                                                  tmp_path: Path) -> None:
    static = tmp_path / "static"
    static.mkdir()
    (static / "app.css").write_text("body {}")
    app = Flask("with_static", static_folder=str(static))
    Profiler(app, clock=clock, DATABASE=str(db_path), MONITOR_LEVELS={"static": 1})
    with app.test_client().get("/static/app.css") as response:
        assert response.status_code == 200
    flush(app)
    assert [r["endpoint"] for r in stored_requests(db_path)] == ["static"]


def test_group_by_is_evaluated_per_request(db_path: Path, clock: FakeClock) -> None:
    app = make_app(db_path, clock)

    @app.before_request
    def login() -> None:
        g.user = request.headers.get("X-User")

    app.extensions["fmd_profiler"].profiler.get_group_by = lambda: g.user
    client = app.test_client()
    client.get("/health", headers={"X-User": "alice"})
    client.get("/health", headers={"X-User": "bob"})
    client.get("/health")
    flush(app)
    assert [r["group_by"] for r in stored_requests(db_path)] == ["alice", "bob", None]


def test_the_response_is_read_after_every_after_request_function(db_path: Path,
                                                                  clock: FakeClock) -> None:
    # Registered before the profiler, so Flask runs it after any after_request function the
    # profiler could have added: what it sets and the body it streams must still be seen.
    app = Flask("late")

    @app.route("/report")
    def report() -> str:
        return "done"

    @app.after_request
    def stream_a_footer(response: object) -> object:
        g.user = "carol"

        def body() -> Iterator[str]:
            yield "done"
            clock.advance(0.020)
            yield "\n"
        return app.response_class(body())

    Profiler(app, clock=clock, DATABASE=str(db_path), MONITOR_LEVEL=1)
    app.extensions["fmd_profiler"].profiler.get_group_by = lambda: g.user
    assert app.test_client().get("/report").data == b"done\n"
    flush(app)
    [row] = stored_requests(db_path)
    assert (row["group_by"], row["duration_ms"]) == ("carol", pytest.approx(20.0))


def test_a_failing_group_by_never_breaks_the_request(db_path: Path, clock: FakeClock,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    app = make_app(db_path, clock)

    def broken() -> str:
        raise RuntimeError("no user loaded")

    app.extensions["fmd_profiler"].profiler.get_group_by = broken
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="fmd_profiler"):
        responses = [client.get("/items/3") for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert [r.get_json() for r in responses] == [{"id": 3}] * 3
    warnings = [r for r in caplog.records if "get_group_by raised RuntimeError" in r.message]
    assert len(warnings) == 1  # once, not per request
    flush(app)
    assert [r["group_by"] for r in stored_requests(db_path)] == [None, None, None]


def test_seed_style_group_by_on_the_config_module(db_path: Path, clock: FakeClock,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import fmd_profiler

    monkeypatch.setattr(fmd_profiler.config, "get_group_by", lambda: 42)
    app = make_app(db_path, clock)
    app.test_client().get("/health")
    flush(app)
    assert stored_requests(db_path)[0]["group_by"] == "42"


@pytest.mark.parametrize(("group_by", "expected"), [
    ("fixed", "fixed"),
    (lambda: "alice", "alice"),
    ((lambda: "alice", 7), "(alice,7)"),
    ([lambda: ("red", lambda: 3.5), "x"], "((red,3.5),x)"),  # nested, as FMD documents
])
def test_fmd_style_group_by_forms_are_stored(db_path: Path, clock: FakeClock,
                                             monkeypatch: pytest.MonkeyPatch, group_by: object,
                                             expected: str) -> None:
    import fmd_profiler

    monkeypatch.setattr(fmd_profiler.config, "group_by", group_by)
    app = make_app(db_path, clock)
    app.test_client().get("/health")
    flush(app)
    assert stored_requests(db_path)[0]["group_by"] == expected


def test_fmd_inject_dependencies_get_ip_sets_the_address(db_path: Path, clock: FakeClock,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    import fmd_profiler

    monkeypatch.setattr(fmd_profiler.config, "get_ip", None)
    fmd_profiler.config.inject_dependencies(get_ip=lambda: request.headers.get("X-Real-IP"))
    app = make_app(db_path, clock)
    client = app.test_client()
    client.get("/health", headers={"X-Real-IP": "203.0.113.9"})
    client.get("/health")  # None: the address TRUSTED_PROXIES resolves
    monkeypatch.setattr(fmd_profiler.config, "get_ip", lambda: 1 / 0)
    with caplog.at_level(logging.WARNING, logger="fmd_profiler"):
        assert client.get("/health").status_code == 200
    flush(app)
    assert [r["ip"] for r in stored_requests(db_path)] == ["203.0.113.9", "127.0.0.1",
                                                          "127.0.0.1"]
    assert "get_ip given to inject_dependencies raised ZeroDivisionError" in caplog.text


def test_a_redirect_to_the_slashed_url_belongs_to_its_endpoint(db_path: Path,
                                                               clock: FakeClock) -> None:
    app = make_app(db_path, clock, PASSWORD="pw", SECRET_KEY="k" * 40)

    @app.route("/things/")
    def things() -> str:
        return "ok"

    client = app.test_client()
    assert client.get("/things").status_code == 308
    assert client.get("/dashboard").status_code == 308  # the profiler's own: not recorded
    flush(app)
    found = query(db_path, "SELECT endpoint, rule, status FROM requests ORDER BY endpoint")
    assert found == [{"endpoint": "things", "rule": "/things/", "status": 308}]


@pytest.mark.parametrize(("trusted", "remote", "forwarded", "expected"), [
    (0, "10.0.0.5", "1.2.3.4", "10.0.0.5"),  # not trusted: a client can forge the header
    (1, "10.0.0.5", "1.2.3.4", "1.2.3.4"),
    (1, "10.0.0.5", "6.6.6.6, 1.2.3.4", "1.2.3.4"),  # only the last hop was added by our proxy
    (2, "10.0.0.5", "6.6.6.6, 1.2.3.4", "6.6.6.6"),
    (["10.0.0.0/8"], "10.0.0.5", "6.6.6.6, 10.1.1.1", "6.6.6.6"),
    (["10.0.0.0/8"], "8.8.8.8", "6.6.6.6", "8.8.8.8"),  # the peer is not our proxy
])
def test_client_ip_trusts_forwarded_for_only_as_configured(
        db_path: Path, clock: FakeClock, trusted: object, remote: str, forwarded: str,
        expected: str) -> None:
    app = make_app(db_path, clock, TRUSTED_PROXIES=trusted)
    app.test_client().get("/health", headers={"X-Forwarded-For": forwarded},
                          environ_base={"REMOTE_ADDR": remote})
    flush(app)
    assert stored_requests(db_path)[0]["ip"] == expected


def test_current_test_id_is_recorded(db_path: Path, clock: FakeClock) -> None:
    app = make_app(db_path, clock)
    token = current_test.set("tests/test_x.py::test_y")
    try:
        app.test_client().get("/health")
    finally:
        current_test.reset(token)
    app.test_client().get("/health", headers={"X-Test-Id": "forged"})
    flush(app)
    assert [r["test_id"] for r in stored_requests(db_path)] == ["tests/test_x.py::test_y", None]


def test_test_id_header_is_honoured_in_test_runs(db_path: Path, clock: FakeClock,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FMD_PROFILER_TEST_RUN", "1")
    app = make_app(db_path, clock)
    app.test_client().get("/health", headers={"X-Test-Id": "tests/live.py::test_z"})
    flush(app)
    assert stored_requests(db_path)[0]["test_id"] == "tests/live.py::test_z"


def test_another_extension_short_circuiting_before_request(db_path: Path,
                                                           clock: FakeClock) -> None:
    app = Flask("guarded")

    @app.before_request
    def guard() -> object:
        if request.args.get("deny"):
            clock.advance(0.002)
            return "denied", 401
        return None

    @app.route("/")
    def index() -> str:
        return "hi"

    Profiler(app, clock=clock, DATABASE=str(db_path))
    assert app.test_client().get("/?deny=1").status_code == 401
    flush(app)
    [row] = stored_requests(db_path)
    assert (row["endpoint"], row["status"], row["duration_ms"]) == ("index", 401,
                                                                    pytest.approx(2.0))


def test_async_views_are_recorded(db_path: Path, clock: FakeClock) -> None:
    app = Flask("async_app")

    @app.route("/async")
    async def slow_async() -> str:
        await asyncio.sleep(0)
        clock.advance(0.004)
        return "done"

    Profiler(app, clock=clock, DATABASE=str(db_path))
    assert app.test_client().get("/async").data == b"done"
    flush(app)
    [row] = stored_requests(db_path)
    assert (row["endpoint"], row["status"]) == ("slow_async", 200)
    assert row["duration_ms"] == pytest.approx(4.0)


def test_enabling_twice_is_refused_with_advice(db_path: Path, clock: FakeClock) -> None:
    app = make_app(db_path, clock)
    with pytest.raises(SetupError, match=r"already enabled.*app.extensions"):
        enable_profiler(app, DATABASE=str(db_path))


def test_app_factory_one_profiler_many_apps(db_path: Path, clock: FakeClock,
                                            tmp_path: Path) -> None:
    profiler = Profiler(clock=clock, DATABASE=str(db_path))

    def create_app(name: str) -> Flask:
        app = Flask(name)
        app.add_url_rule("/", name, lambda: name)
        profiler.init_app(app)
        return app

    first, second = create_app("first"), create_app("second")
    first.test_client().get("/")
    second.test_client().get("/")
    second.test_client().get("/")
    flush(first)
    counts = query(db_path, "SELECT endpoint, count(*) AS n FROM requests GROUP BY 1 ORDER BY 1")
    assert counts == [{"endpoint": "first", "n": 1}, {"endpoint": "second", "n": 2}]


def test_report_cli_is_registered_on_the_app(db_path: Path, clock: FakeClock) -> None:
    app = make_app(db_path, clock)
    app.test_client().get("/health")
    flush(app)
    result = app.test_cli_runner().invoke(args=["profiler", "report", "--json", "-"])
    assert result.exit_code == 0, result.output
    assert '"endpoint": "health"' in result.output
