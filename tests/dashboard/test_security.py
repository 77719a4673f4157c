"""The dashboard's gate: signed-out crawl, guest limits, CSRF, throttling, cookies, secrets."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from fmd_profiler.dashboard.views import SESSION_MAX_AGE_S
from fmd_profiler.demo.app import create_app
from fmd_profiler.recording.levels import DASHBOARD_BLUEPRINT
from fmd_profiler.schema import REQUESTS
from fmd_profiler.store import Database, SegmentWriter, StoreLocation
from fmd_profiler.store.control import read_level_overrides
from tests.report.report_support import HOSTILE_USERS

ADMIN_PASSWORD = "correct horse battery staple"
GUEST_PASSWORD = "guest-pass-1"
SECRET = "test-secret-key-that-is-long-enough"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    app = create_app(DATABASE=str(tmp_path / "dash.duckdb"), USERNAME="boss",
                     PASSWORD=generate_password_hash(ADMIN_PASSWORD),
                     GUEST_PASSWORD=[GUEST_PASSWORD], SECRET_KEY=SECRET,
                     SUBMIT_TOKEN="token-never-shown", FLUSH_INTERVAL_S=0.05)
    client = app.test_client()
    for i in range(12):
        client.get("/api/items", headers={"X-User": HOSTILE_USERS[i % 2]})
        client.get("/compute", headers={"X-User": f"user{i % 3}"})
    state = app.extensions["fmd_profiler"]
    state.runtime.flush(ingest=True)
    yield app
    state.runtime.stop()


def csrf_of(text: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert found, "no CSRF token in the page"
    return found.group(1)


def sign_in(client: FlaskClient, username: str, password: str) -> Any:
    token = csrf_of(client.get("/dashboard/login").text)
    return client.post("/dashboard/login", data={"username": username, "password": password,
                                                 "csrf_token": token})


def dashboard_urls(app: Flask) -> list[tuple[str, str]]:
    """(method, url) of every dashboard route, with sample values for URL arguments."""
    samples = {"path": "index.html", "key": "0" * 24, "suffix": "svg", "name": "style.css"}
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith(DASHBOARD_BLUEPRINT + "."):
            continue
        url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: samples[m.group(1)], rule.rule)
        found += [(m, url) for m in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})]
    return found


def test_every_route_refuses_a_visitor_without_session(app: Flask) -> None:
    client = app.test_client()
    urls = dashboard_urls(app)
    assert len(urls) >= 10
    for method, url in urls:
        if url == "/dashboard/login":
            continue
        response = client.open(url, method=method)
        if method == "GET" and url.startswith("/dashboard/api/"):
            assert response.status_code == 401, url  # an API answers with a status
        elif method == "GET":
            assert response.status_code == 302, url
            assert response.headers["Location"].startswith("/dashboard/login?next="), url
        else:
            assert response.status_code == 401, (method, url)
        assert b"Overview" not in response.data and b"compute" not in response.data


def test_forged_or_expired_cookies_are_refused(app: Flask) -> None:
    client = app.test_client()
    client.set_cookie("fmd_profiler_session", "eyJ1IjoiYm9zcyIsInIiOiJhZG1pbiJ9.forged",
                      path="/dashboard")
    assert client.get("/dashboard/").status_code == 302
    dashboard = app.blueprints[DASHBOARD_BLUEPRINT].dashboard  # type: ignore[attr-defined]
    now = [1_800_000_000.0]
    dashboard.clock = lambda: now[0]
    signed_in = app.test_client()
    assert sign_in(signed_in, "boss", ADMIN_PASSWORD).status_code == 302
    now[0] += SESSION_MAX_AGE_S - 1
    assert signed_in.get("/dashboard/settings").status_code == 200
    now[0] += 2  # past the 12 hours the cookie was signed for
    assert signed_in.get("/dashboard/settings").status_code == 302


def session_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("fmd_profiler_session", path="/dashboard")
    assert cookie is not None
    return cookie.value


def test_a_cookie_copied_before_sign_out_is_refused_after_it(app: Flask, tmp_path: Path) -> None:
    client = app.test_client()
    sign_in(client, "boss", ADMIN_PASSWORD)
    copied = session_cookie(client)
    token = csrf_of(client.get("/dashboard/").text)
    assert client.post("/dashboard/logout", data={"csrf_token": token}).status_code == 302
    replay = app.test_client()
    replay.set_cookie("fmd_profiler_session", copied, path="/dashboard")
    assert replay.get("/dashboard/settings").status_code == 302
    # another worker process of the same server (another app on the same store) agrees
    other = create_app(DATABASE=str(tmp_path / "dash.duckdb"), USERNAME="boss",
                       PASSWORD=generate_password_hash(ADMIN_PASSWORD), SECRET_KEY=SECRET)
    try:
        elsewhere = other.test_client()
        elsewhere.set_cookie("fmd_profiler_session", copied, path="/dashboard")
        assert elsewhere.get("/dashboard/settings").status_code == 302
        again = other.test_client()
        sign_in(again, "boss", ADMIN_PASSWORD)  # a new sign-in works at once
        assert again.get("/dashboard/settings").status_code == 200
    finally:
        other.extensions["fmd_profiler"].runtime.stop()


def test_the_session_cookie_is_secure_unless_turned_off(app: Flask, tmp_path: Path) -> None:
    response = sign_in(app.test_client(), "boss", ADMIN_PASSWORD)
    assert "Secure" in response.headers["Set-Cookie"]  # although the request was plain http
    plain = create_app(DATABASE=str(tmp_path / "plain.duckdb"), PASSWORD=ADMIN_PASSWORD,
                       SECRET_KEY=SECRET, SECURE_COOKIE=False)
    try:
        response = sign_in(plain.test_client(), "admin", ADMIN_PASSWORD)
        assert response.status_code == 302 and "Secure" not in response.headers["Set-Cookie"]
    finally:
        plain.extensions["fmd_profiler"].runtime.stop()


def test_admin_signs_in_with_a_hashed_password(app: Flask) -> None:
    client = app.test_client()
    response = sign_in(client, "boss", ADMIN_PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard/"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/dashboard" in cookie
    page = client.get("/dashboard/")
    assert page.status_code == 200 and "Overview" in page.text
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    for marker in ("<img src=x", "<script>"):
        assert marker not in page.text


def test_wrong_passwords_are_throttled(app: Flask) -> None:
    client = app.test_client()
    for _ in range(5):
        assert sign_in(client, "boss", "wrong").status_code == 401
    blocked = sign_in(client, "boss", ADMIN_PASSWORD)
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0


def test_login_without_csrf_token_is_refused(app: Flask) -> None:
    client = app.test_client()
    client.get("/dashboard/login")
    response = client.post("/dashboard/login", data={"username": "boss",
                                                     "password": ADMIN_PASSWORD})
    assert response.status_code == 400
    assert client.get("/dashboard/").status_code == 302


def test_posts_without_csrf_token_are_refused(app: Flask) -> None:
    client = app.test_client()
    sign_in(client, "boss", ADMIN_PASSWORD)
    location = app.extensions["fmd_profiler"].runtime.location
    for url, data in (("/dashboard/settings/level", {"endpoint": "items", "level": "0"}),
                      ("/dashboard/settings/prune", {"days": "1"}),
                      ("/dashboard/logout", {})):
        assert client.post(url, data=data).status_code == 400, url
        assert client.post(url, data={**data, "csrf_token": "x" * 43}).status_code == 400, url
    assert read_level_overrides(location.levels_path) == {}
    assert client.get("/dashboard/").status_code == 200  # still signed in


def test_guest_sees_pages_but_no_admin_action_and_no_secret(app: Flask) -> None:
    client = app.test_client()
    assert sign_in(client, "guest", GUEST_PASSWORD).status_code == 302
    config = app.extensions["fmd_profiler"].config
    secrets = [ADMIN_PASSWORD, GUEST_PASSWORD, SECRET, "token-never-shown", config.password,
               str(config.database), config.database.name]
    pages = ["/dashboard/", "/dashboard/settings"]
    pages += ["/dashboard/" + p for p in re.findall(r'href="(endpoints/[^"]+)"',
                                                    client.get("/dashboard/").text)]
    for url in pages:
        text = client.get(url).text
        for secret in secrets:
            assert secret not in text, (url, secret)
    settings = client.get("/dashboard/settings").text
    assert "settings/level" not in settings and "settings/prune" not in settings
    token = csrf_of(settings)  # the sign-out form's token
    location = app.extensions["fmd_profiler"].runtime.location
    response = client.post("/dashboard/settings/level",
                           data={"endpoint": "items", "level": "0", "csrf_token": token})
    assert response.status_code == 403
    response = client.post("/dashboard/settings/prune", data={"days": "1", "csrf_token": token})
    assert response.status_code == 403
    assert read_level_overrides(location.levels_path) == {}


def test_admin_level_change_reaches_the_workers(app: Flask) -> None:
    client = app.test_client()
    sign_in(client, "boss", ADMIN_PASSWORD)
    token = csrf_of(client.get("/dashboard/settings").text)
    response = client.post("/dashboard/settings/level",
                           data={"endpoint": "compute", "level": "0", "csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].endswith("done=level")
    runtime = app.extensions["fmd_profiler"].runtime
    assert read_level_overrides(runtime.location.levels_path) == {"compute": 0}
    runtime.flush()  # what every worker's writer thread does each flush interval
    assert runtime.levels.of("compute") == 0
    unknown = client.post("/dashboard/settings/level",
                          data={"endpoint": "nope", "level": "1", "csrf_token": token})
    assert unknown.status_code == 400


def test_admin_prunes_old_data(app: Flask) -> None:
    client = app.test_client()
    sign_in(client, "boss", ADMIN_PASSWORD)
    token = csrf_of(client.get("/dashboard/settings").text)
    location = app.extensions["fmd_profiler"].runtime.location
    now = time.time()
    old = [("old", "/old", "GET", 200, 5.0, 1.0, now - 3 * 86400, "1.0", None, "127.0.0.1",
            None, None)] * 4
    recent = [("recent", "/recent", "GET", 200, 5.0, 1.0, now - 3600, "1.0", None,
               "127.0.0.1", None, None)] * 2
    SegmentWriter(location).write(REQUESTS, old + recent)
    before = count_requests(location)
    assert before["old"] == 4 and before["recent"] == 2
    response = client.post("/dashboard/settings/prune", data={"days": "1", "csrf_token": token})
    assert response.status_code == 302
    after = count_requests(location)
    assert "old" not in after and after["recent"] == 2
    assert after == {k: v for k, v in before.items() if k != "old"}  # the app's own rows stay
    assert "Overview" in client.get("/dashboard/").text
    for days in ("0", "-3", "x", str(10**6), str(10**30)):
        response = client.post("/dashboard/settings/prune", data={"days": days,
                                                                  "csrf_token": token})
        assert response.status_code == 400, days
    assert count_requests(location) == after


def count_requests(location: StoreLocation) -> dict[str, int]:
    with Database(location).read(ingest_first=False) as con:
        return dict(con.execute("SELECT endpoint, count(*) FROM requests GROUP BY endpoint "
                                "ORDER BY endpoint").fetchall())


def test_next_parameter_cannot_leave_the_dashboard(app: Flask) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/elsewhere",
                   "/dashboard\\@evil.example"):
        client = app.test_client()
        token = csrf_of(client.get("/dashboard/login").text)
        response = client.post("/dashboard/login", data={
            "username": "boss", "password": ADMIN_PASSWORD, "csrf_token": token,
            "next": target})
        assert response.headers["Location"] == "/dashboard/", target


def test_a_line_break_in_next_is_refused(app: Flask) -> None:
    for target in ("/dashboard/\r\nSet-Cookie: x=1", "/dashboard/%0d%0a", "/dashboard/\n"):
        client = app.test_client()
        token = csrf_of(client.get("/dashboard/login").text)
        response = client.post("/dashboard/login", data={
            "username": "boss", "password": ADMIN_PASSWORD, "csrf_token": token,
            "next": target})
        assert response.status_code == 302, target
        assert "\n" not in response.headers["Location"], target
        assert response.headers["Location"] in ("/dashboard/", "/dashboard/%0d%0a"), target


def test_sign_out_ends_the_session(app: Flask) -> None:
    client = app.test_client()
    sign_in(client, "boss", ADMIN_PASSWORD)
    token = csrf_of(client.get("/dashboard/").text)
    assert client.post("/dashboard/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/dashboard/").status_code == 302


def test_no_password_means_no_dashboard(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("fmd_profiler.dashboard._told_off", set())
    with caplog.at_level(logging.WARNING, logger="fmd_profiler"):
        app = create_app(DATABASE=str(tmp_path / "off.duckdb"))
    assert DASHBOARD_BLUEPRINT not in app.blueprints
    assert app.test_client().get("/dashboard/").status_code == 404
    assert any("set PASSWORD" in r.getMessage() for r in caplog.records)


def test_without_a_secret_one_is_made_and_shared_by_every_worker(tmp_path: Path) -> None:
    database = tmp_path / "nosecret.duckdb"
    first = create_app(DATABASE=str(database), PASSWORD="pw")
    second = create_app(DATABASE=str(database), PASSWORD="pw")  # another worker, same store
    assert first.secret_key is None
    client = first.test_client()
    assert sign_in(client, "admin", "pw").status_code == 302
    secret = tmp_path / "nosecret.duckdb.secret"
    assert secret.stat().st_mode & 0o777 == 0o600
    # The other worker honours the first worker's session cookie: same key.
    other = second.test_client()
    cookie = client.get_cookie("fmd_profiler_session", path="/dashboard")
    assert cookie is not None
    other.set_cookie("fmd_profiler_session", cookie.value, path="/dashboard")
    assert other.get("/dashboard/settings").status_code == 200
    assert secret.read_text().strip() not in client.get("/dashboard/settings").text


def test_a_secret_that_cannot_be_kept_means_no_sessions(tmp_path: Path) -> None:
    app = create_app(DATABASE=str(tmp_path / "x.duckdb"), PASSWORD="pw")
    (tmp_path / "x.duckdb.secret").mkdir()  # in the way: the key file cannot be made or read
    assert app.test_client().get("/dashboard/login").status_code == 503
    app.secret_key = "the app's own secret"  # falls back to the app's secret
    assert app.test_client().get("/dashboard/login").status_code == 200


def test_settings_say_when_raised_levels_need_a_restart(tmp_path: Path) -> None:
    note = "records only its timing (level 1) until the app restarts"
    timing_only = create_app(DATABASE=str(tmp_path / "l1.duckdb"), PASSWORD=ADMIN_PASSWORD,
                             SECRET_KEY=SECRET, MONITOR_LEVEL=1)
    profiled = create_app(DATABASE=str(tmp_path / "l2.duckdb"), PASSWORD=ADMIN_PASSWORD,
                          SECRET_KEY=SECRET, MONITOR_LEVEL=1, MONITOR_LEVELS={"compute": 2})
    for app, shown in ((timing_only, True), (profiled, False)):
        client = app.test_client()
        client.get("/api/items")
        app.extensions["fmd_profiler"].runtime.flush(ingest=True)
        sign_in(client, "admin", ADMIN_PASSWORD)
        try:
            assert (note in client.get("/dashboard/settings").text) is shown
        finally:
            app.extensions["fmd_profiler"].runtime.stop()


def test_the_dashboard_shows_what_this_process_just_served(tmp_path: Path) -> None:
    app = create_app(DATABASE=str(tmp_path / "fresh.duckdb"), PASSWORD=ADMIN_PASSWORD,
                     SECRET_KEY=SECRET, FLUSH_INTERVAL_S=60)  # no flush of its own meanwhile
    try:
        client = app.test_client()
        for _ in range(3):
            assert client.get("/compute").status_code == 200
        sign_in(client, "admin", ADMIN_PASSWORD)
        page = client.get("/dashboard/")
        assert page.status_code == 200 and "No data recorded yet" not in page.text
        assert "compute" in page.text
    finally:
        app.extensions["fmd_profiler"].runtime.stop()
