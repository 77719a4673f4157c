"""The live dashboard on the lake: a dashboard-only app, pages cached by snapshot, levels in
the catalog, and no secret on any page, in any log line or error."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fmd_profiler.dashboard import cache as cache_module
from fmd_profiler.dashboard.source import LakeSource
from fmd_profiler.dashboard.standalone import create_app
from fmd_profiler.fleet.commit import commit_once
from fmd_profiler.fleet.level_overrides import current_levels
from fmd_profiler.fleet.settings import LakeSettings
from fmd_profiler.report.pages.paths import endpoint_path
from fmd_profiler.report.report_cli import main as report_main
from fmd_profiler.store.lake import LAKE_VERSION, Lake, connect, ensure_lake_schema
from fmd_profiler.store.lake_files import DataPath
from tests.fleet.read_support import write_config

PASSWORD = "boss-pass-1"
DSN_PASSWORD = "pg-Hunter2-secret"
S3_SECRET = "s3-Wildcat9-secret"


def add_requests(settings: LakeSettings, endpoint: str, count: int, host: str = "h1") -> None:
    """``count`` requests of ``endpoint`` and its route, straight into the lake."""
    with Lake(settings).transaction() as con:
        con.execute("INSERT INTO routes (endpoint, rule, methods, level, seen_at, host, pid) "
                    "VALUES ($e, $r, 'GET', 1, TIMESTAMP '2026-12-01 10:00', $h, 1)",
                    {"e": endpoint, "r": f"/{endpoint}", "h": host})
        con.execute("INSERT INTO requests (endpoint, rule, method, status, duration_ms, cpu_ms, "
                    "started_at, version, host, pid) SELECT $e, $r, 'GET', 200, 1.0 + i, 0.5, "
                    "TIMESTAMP '2026-12-01 10:00' + INTERVAL (i) SECOND, '1.0', $h, 1 "
                    "FROM range($n) t(i)", {"e": endpoint, "r": f"/{endpoint}", "h": host,
                                            "n": count})


@pytest.fixture
def fleet_values(lake_env: dict[str, str], tmp_path: Path) -> dict[str, Any]:
    """Config keys of a dashboard-only pod of the lake, with secrets that must never show."""
    dsn = lake_env["DATABASE"] + f" password={DSN_PASSWORD}"  # trust auth: accepted, unused
    return {**lake_env, "DATABASE": dsn, "AWS_SECRET_ACCESS_KEY": S3_SECRET,
            "SPOOL_DIR": str(tmp_path / "no-spool-here"), "PASSWORD": PASSWORD,
            "SECRET_KEY": "a-session-secret-for-tests", "MONITOR_LEVEL": 1}


@pytest.fixture
def dashboard(fleet_values: dict[str, Any], lake_settings: LakeSettings) -> Iterator[Flask]:
    ensure_lake_schema(lake_settings)
    add_requests(lake_settings, "items", 30)
    yield create_app(**fleet_values)


def csrf_of(text: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert found, text[:500]
    return found.group(1)


def signed_in(app: Flask) -> FlaskClient:
    client = app.test_client()
    token = csrf_of(client.get("/dashboard/login").text)
    response = client.post("/dashboard/login", data={"username": "admin", "password": PASSWORD,
                                                     "csrf_token": token})
    assert response.status_code == 302
    return client


def test_a_dashboard_only_app_serves_the_lake_without_a_spool(
        dashboard: Flask, fleet_values: dict[str, Any]) -> None:
    client = signed_in(dashboard)
    index = client.get("/dashboard/")
    assert index.status_code == 200
    assert "items" in index.text
    assert client.get("/dashboard/settings").status_code == 200
    assert not Path(fleet_values["SPOOL_DIR"]).exists()


def test_warm_pages_do_not_open_the_lake_until_its_snapshot_changes(
        dashboard: Flask, lake_settings: LakeSettings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_module, "FRESH_FOR_S", 0.0)  # only the snapshot decides
    sessions = []
    original = LakeSource.read

    def counted(self: LakeSource) -> Any:
        sessions.append(1)
        return original(self)

    monkeypatch.setattr(LakeSource, "read", counted)
    client = signed_in(dashboard)
    assert "orders" not in client.get("/dashboard/").text
    assert len(sessions) == 1
    for _ in range(3):
        assert client.get("/dashboard/").status_code == 200
    assert len(sessions) == 1  # warm: one catalog query each, no lake session

    add_requests(lake_settings, "orders", 5)  # a commit: a new snapshot
    assert "orders" in client.get("/dashboard/").text
    assert len(sessions) == 2


def test_levels_set_on_the_dashboard_live_in_the_catalog(
        dashboard: Flask, lake_settings: LakeSettings) -> None:
    client = signed_in(dashboard)
    token = csrf_of(client.get("/dashboard/settings").text)
    response = client.post("/dashboard/settings/level",
                           data={"endpoint": "items", "level": "3", "csrf_token": token})
    assert response.status_code == 302
    with Lake(lake_settings).read() as con:
        assert current_levels(con, "stored.fmd_levels") == {"items": 3}
    settings = client.get("/dashboard/settings").text
    assert re.search(r"items.*?3", settings, re.S)
    # The committer publishes them where every host's uploader fetches them.
    assert commit_once(lake_settings, wait_s=30.0) is not None
    with DataPath(lake_settings) as data:
        assert data.read_levels() == {"items": 3}

    response = client.post("/dashboard/settings/level",
                           data={"endpoint": "items", "level": "default", "csrf_token": token})
    assert response.status_code == 302
    with Lake(lake_settings).read() as con:
        assert current_levels(con, "stored.fmd_levels") == {}
        # Rows are only added: the history stays, the newest (a NULL level) wins.
        assert con.execute("SELECT count(*) FROM stored.fmd_levels").fetchone() == (2,)
    response = client.post("/dashboard/settings/level",
                           data={"endpoint": "nope", "level": "1", "csrf_token": token})
    assert response.status_code == 400


def test_the_admin_prunes_old_data_from_the_lake(
        dashboard: Flask, lake_settings: LakeSettings) -> None:
    with Lake(lake_settings).transaction() as con:  # one recent request, which stays
        con.execute("INSERT INTO requests (endpoint, method, status, duration_ms, started_at, "
                    "host, pid) VALUES ('items', 'GET', 200, 1.0, now()::TIMESTAMP, 'h1', 2)")
    client = signed_in(dashboard)
    token = csrf_of(client.get("/dashboard/settings").text)
    response = client.post("/dashboard/settings/prune", data={"days": "1", "csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("done=pruned")
    with Lake(lake_settings).read() as con:
        assert con.execute("SELECT count(*), min(pid) FROM requests").fetchone() == (1, 2)


def test_no_secret_shows_on_pages_in_errors_or_in_logs(
        dashboard: Flask, fleet_values: dict[str, Any], lake_settings: LakeSettings,
        tmp_path: Path, caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    client = signed_in(dashboard)
    shown = [client.get(url).text for url in ("/dashboard/", "/dashboard/settings",
                                              f"/dashboard/{endpoint_path('items')}")]
    # A catalog that cannot be reached, with the same password: pages and the CLI fail clearly.
    broken = {**fleet_values, "DATABASE": re.sub(r"port=\d+", "port=1", fleet_values["DATABASE"])}
    broken_client = signed_in(create_app(**broken))
    failed = broken_client.get("/dashboard/")
    assert failed.status_code == 503
    assert "password=***" in failed.text
    shown.append(failed.text)
    token = csrf_of(broken_client.get("/dashboard/login").text)
    for response in (broken_client.get("/dashboard/settings"),
                     broken_client.post("/dashboard/settings/level", data={
                         "endpoint": "items", "level": "1", "csrf_token": token})):
        assert response.status_code == 503
        shown.append(response.text)
    config = write_config(tmp_path / "broken.cfg", broken)
    assert report_main(["--config", str(config), "--json", "-"]) == 2
    out, err = capsys.readouterr()
    assert "cannot" in err and "password=***" in err
    shown += [out, err, caplog.text, repr(lake_settings)]
    # The static report of the lake, every file of it.
    good = write_config(tmp_path / "fleet.cfg", fleet_values)
    assert report_main(["--config", str(good), "--out", str(tmp_path / "site"), "--jobs",
                        "1"]) == 0
    site = [p.read_bytes().decode("utf-8", "replace")
            for p in (tmp_path / "site").rglob("*") if p.is_file()]
    assert len(site) > 3
    shown += site
    for text in shown:
        assert DSN_PASSWORD not in text
        assert S3_SECRET not in text


def test_readers_refuse_a_lake_made_by_a_newer_version(
        dashboard: Flask, fleet_values: dict[str, Any], lake_settings: LakeSettings,
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_module, "FRESH_FOR_S", 0.0)
    client = signed_in(dashboard)
    assert client.get("/dashboard/").status_code == 200  # its lake connection is kept open
    con = connect(lake_settings, read_only=False)
    try:
        con.execute("INSERT INTO lake.fmd_meta VALUES ('lake_version', $v)",
                    {"v": str(LAKE_VERSION + 1)})
    finally:
        con.close()
    config = write_config(tmp_path / "fleet.cfg", fleet_values)
    assert report_main(["--config", str(config), "--json", "-"]) == 2
    assert "newer fmd_profiler" in capsys.readouterr().err
    page = client.get("/dashboard/")  # a new snapshot: rebuilt, and refused
    assert page.status_code == 503
    assert "upgrade fmd_profiler" in page.text
