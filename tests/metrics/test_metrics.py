"""Prometheus metrics: counted on the writer thread, one file per process, merged by the reader
(dead processes folded into an archive), exposed as text that prometheus_client parses, and
readable only with a token, a dashboard session, or METRICS_OPEN."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from fmd_profiler import Profiler
from fmd_profiler.config import load_config
from fmd_profiler.errors import ConfigError
from fmd_profiler.metrics.counters import BUCKETS_S, RequestCounters, Totals, status_class
from fmd_profiler.metrics.exposition import render
from fmd_profiler.metrics.files import (
    ARCHIVE,
    ProcessFile,
    ProcessIdentity,
    Snapshot,
    metrics_dir,
    process_alive,
    process_start_ticks,
    read_merged,
)
from fmd_profiler.store import StoreLocation
from tests.fakes import FakeClock


def request_row(endpoint: str, method: str, status: int, ms: float) -> tuple[object, ...]:
    return (endpoint, "/x", method, status, ms, ms / 2, 1.8e9, "v1", None, "10.0.0.1", None,
            None)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, keyed by (name, sorted labels), parsed as Prometheus
    would parse it."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def series_labels(endpoint: str, method: str, klass: str) -> tuple[tuple[str, str], ...]:
    return (("endpoint", endpoint), ("method", method), ("status_class", klass))


# -- counting ------------------------------------------------------------------------------------

def test_status_classes() -> None:
    assert [status_class(s) for s in (200, 201, 302, 404, 500, 599, 99, 600, None)] == [
        "2xx", "2xx", "3xx", "4xx", "5xx", "5xx", "other", "other", "other"]


def test_rows_become_counts_and_histograms() -> None:
    counters = RequestCounters()
    counters.observe([request_row("items", "GET", 200, 0.5), request_row("items", "GET", 200, 1.0),
                      request_row("items", "POST", 201, 4.0),
                      request_row("items", "POST", 500, 30_000.0)])
    series = counters.totals.series
    get = series[("items", "GET", "2xx")]
    assert (get.count, get.sum_s) == (2, pytest.approx(0.0015))
    # 0.5 ms in the first bucket (<= 1 ms); 1.0 ms exactly on the bound counts as <= 1 ms too.
    assert get.buckets[0] == 2 and sum(get.buckets) == 2
    post_ok = series[("items", "POST", "2xx")]
    assert post_ok.buckets[BUCKETS_S.index(0.005)] == 1
    slow = series[("items", "POST", "5xx")]
    assert slow.buckets[-1] == 1  # 30 s: beyond every bound, only in +Inf


def test_exposition_parses_with_prometheus_client() -> None:
    counters = RequestCounters()
    hostile = 'a"b\\c\nd'
    counters.observe([request_row("items", "GET", 200, 2.0), request_row("items", "GET", 200, 7.0),
                      request_row(hostile, "PUT", 404, 0.2)])
    counters.set_counters({"rows_recorded": 3, "rows_dropped": 1, "samples_taken": 40,
                           "sampler_passes": 12})
    found = samples(render(Snapshot(counters.totals, 2)))
    get = series_labels("items", "GET", "2xx")
    assert found[("fmd_profiler_requests_total", get)] == 2
    assert found[("fmd_profiler_request_duration_seconds_count", get)] == 2
    assert found[("fmd_profiler_request_duration_seconds_sum", get)] == pytest.approx(0.009)
    bucket = "fmd_profiler_request_duration_seconds_bucket"
    assert found[(bucket, tuple(sorted((*get, ("le", "0.0025")))))] == 1
    assert found[(bucket, tuple(sorted((*get, ("le", "0.01")))))] == 2
    assert found[(bucket, tuple(sorted((*get, ("le", "+Inf")))))] == 2
    assert found[("fmd_profiler_requests_total", series_labels(hostile, "PUT", "4xx"))] == 1
    assert found[("fmd_profiler_rows_recorded_total", ())] == 3
    assert found[("fmd_profiler_rows_dropped_total", ())] == 1
    assert found[("fmd_profiler_samples_taken_total", ())] == 40
    assert found[("fmd_profiler_processes", ())] == 2


# -- per-process files ---------------------------------------------------------------------------

def write_process(folder: Path, pid: int, rows: list[tuple[object, ...]],
                  host: str = "here") -> ProcessFile:
    counters = RequestCounters()
    counters.observe(rows)
    counters.set_counters({"rows_recorded": len(rows)})
    file = ProcessFile(folder, ProcessIdentity(host, pid, 7, f"t{pid}"))
    file.write(counters.totals)
    return file


def count_of(totals: Totals, key: tuple[str, str, str]) -> int:
    return totals.series[key].count


def test_reader_adds_up_processes_and_folds_dead_ones_into_the_archive(tmp_path: Path) -> None:
    folder = tmp_path / "metrics"
    write_process(folder, 101, [request_row("a", "GET", 200, 1.0)] * 3)
    dead = write_process(folder, 102, [request_row("a", "GET", 200, 1.0)] * 4)
    write_process(folder, 103, [request_row("a", "GET", 200, 1.0)] * 5, host="elsewhere")
    running = {101}

    def alive(pid: int, started: int | None) -> bool:
        assert started == 7
        return pid in running

    first = read_merged(folder, alive=alive, host="here")
    # 103 is another host's: never judged dead from here.
    assert count_of(first.totals, ("a", "GET", "2xx")) == 12
    assert first.totals.counters["rows_recorded"] == 12
    assert first.processes == 2
    assert not dead.path.exists() and (folder / ARCHIVE).exists()
    # The archive keeps the dead worker's counts; a second read counts them once, not twice.
    running.clear()
    second = read_merged(folder, alive=alive, host="here")
    assert count_of(second.totals, ("a", "GET", "2xx")) == 12
    assert second.processes == 1
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == [
        ARCHIVE, ProcessIdentity("elsewhere", 103, 7, "t103").file_name]


def test_a_file_folded_before_a_crash_is_not_counted_twice(tmp_path: Path) -> None:
    folder = tmp_path / "metrics"
    dead = write_process(folder, 102, [request_row("a", "GET", 200, 1.0)] * 4)
    read_merged(folder, alive=lambda pid, started: False, host="here")
    # As if the process had crashed after writing the archive, before deleting the file:
    archive = json.loads((folder / ARCHIVE).read_text())
    archive["folded"] = [dead.path.name]
    (folder / ARCHIVE).write_text(json.dumps(archive))
    write_process(folder, 102, [request_row("a", "GET", 200, 1.0)] * 4)
    again = read_merged(folder, alive=lambda pid, started: False, host="here")
    assert count_of(again.totals, ("a", "GET", "2xx")) == 4
    assert not dead.path.exists()


def test_processes_are_told_apart_from_a_reused_pid() -> None:
    me = os.getpid()
    started = process_start_ticks(me)
    assert started is not None  # Linux /proc
    assert process_alive(me, started)
    assert not process_alive(me, started + 1)  # same pid, another process's start time
    assert not process_alive(2**22 + 12345, None)  # above pid_max: never running


# -- configuration and the route -----------------------------------------------------------------

def test_config_keys() -> None:
    config = load_config(None, environ={}, PROMETHEUS="true", METRICS_TOKEN="s3cret",
                         METRICS_PATH="/metrics/", METRICS_OPEN="false")
    assert (config.prometheus, config.metrics_token, config.metrics_path,
            config.metrics_open) == (True, "s3cret", "/metrics", False)
    assert "METRICS_TOKEN" not in config.public_dict()
    with pytest.raises(ConfigError, match="METRICS_PATH"):
        load_config(None, environ={}, METRICS_PATH="metrics")
    assert not load_config(None, environ={}).prometheus


def metrics_app(db_path: Path, clock: FakeClock, **overrides: Any) -> Flask:
    app = Flask("metrics")
    app.secret_key = "test-secret"

    @app.route("/items", methods=["GET", "POST"])
    def items() -> tuple[str, int]:
        clock.advance(0.002)
        return "ok", 200

    Profiler(app, clock=clock, DATABASE=str(db_path), MONITOR_LEVEL=1, PROMETHEUS=True,
             **overrides)
    return app


def test_route_needs_a_token_a_session_or_open(db_path: Path, clock: FakeClock) -> None:
    app = metrics_app(db_path, clock, METRICS_TOKEN="s3cret", PASSWORD="pw")
    client = app.test_client()
    for _ in range(3):
        client.get("/items")
    client.post("/items")
    app.extensions["fmd_profiler"].runtime.flush()
    refused = client.get("/dashboard/metrics")
    assert refused.status_code == 401
    assert "METRICS_TOKEN" in refused.text and "s3cret" not in refused.text
    assert client.get("/dashboard/metrics",
                      headers={"Authorization": "Bearer wrong"}).status_code == 401
    scraped = client.get("/dashboard/metrics", headers={"Authorization": "Bearer s3cret"})
    assert scraped.status_code == 200
    assert scraped.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    found = samples(scraped.text)
    assert found[("fmd_profiler_requests_total", series_labels("items", "GET", "2xx"))] == 3
    assert found[("fmd_profiler_requests_total", series_labels("items", "POST", "2xx"))] == 1
    assert found[("fmd_profiler_rows_recorded_total", ())] == 4
    # Scrapes are not requests of the app: not counted.
    assert not [k for k in found if ("endpoint", "fmd_profiler_metrics.metrics") in k[1]]
    # A signed-in dashboard user may read them too.
    login = client.get("/dashboard/login")
    csrf = login.text.split('name="csrf_token" value="')[1].split('"')[0]
    client.post("/dashboard/login", data={"username": "admin", "password": "pw",
                                          "csrf_token": csrf})
    assert client.get("/dashboard/metrics").status_code == 200


def test_open_metrics_at_the_apps_own_path(db_path: Path, clock: FakeClock,
                                           caplog: pytest.LogCaptureFixture) -> None:
    app = metrics_app(db_path, clock, METRICS_OPEN=True, METRICS_PATH="/metrics")
    client = app.test_client()
    client.get("/items")
    app.extensions["fmd_profiler"].runtime.flush()
    found = samples(client.get("/metrics").text)
    assert found[("fmd_profiler_requests_total", series_labels("items", "GET", "2xx"))] == 1
    files = list(metrics_dir(StoreLocation(db_path).spool_dir).glob("p-*.json"))
    assert len(files) == 1


def test_nobody_may_read_is_a_warning(db_path: Path, clock: FakeClock,
                                      caplog: pytest.LogCaptureFixture) -> None:
    metrics_app(db_path, clock)
    assert any("nobody may read /dashboard/metrics" in r.getMessage() for r in caplog.records)


def test_off_by_default_means_no_route_and_no_files(db_path: Path, clock: FakeClock) -> None:
    app = Flask("plain")
    app.add_url_rule("/x", "x", lambda: "x")
    Profiler(app, clock=clock, DATABASE=str(db_path), MONITOR_LEVEL=1, METRICS_OPEN=True)
    client = app.test_client()
    client.get("/x")
    app.extensions["fmd_profiler"].runtime.flush()
    assert client.get("/dashboard/metrics").status_code == 404
    assert not metrics_dir(StoreLocation(db_path).spool_dir).exists()


def test_grafana_dashboard_queries_metrics_we_expose() -> None:
    import re

    dashboard = json.loads((Path(__file__).resolve().parents[2] / "docs" /
                            "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    exprs += [v["definition"] for v in dashboard["templating"]["list"] if "definition" in v]
    counters = RequestCounters()
    counters.observe([request_row("a", "GET", 200, 1.0)])
    counters.set_counters({"rows_recorded": 1, "rows_dropped": 0, "samples_taken": 0,
                           "sampler_passes": 0})
    exposed = {s[0] for s in samples(render(Snapshot(counters.totals, 1)))}
    used = {name for expr in exprs for name in re.findall(r"fmd_profiler_[a-z_]+", expr)}
    assert used and used <= exposed, used - exposed
    labels = {name for expr in exprs for name in re.findall(r"by \(([^)]*)\)", expr)}
    assert {label.strip() for group in labels for label in group.split(",")} <= {
        "endpoint", "method", "status_class", "le"}
