"""The dashboard under gunicorn (3 workers x 4 threads): sign-in throttling and sign-out are the
same in every worker process, because both live in the store's folder."""

from __future__ import annotations

import http.client
import re
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests import servers

pytestmark = pytest.mark.slow

PASSWORD = "a-long-admin-password-for-tests"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[servers.Server]:
    port = servers.free_port()
    log = tmp_path / "gunicorn.log"
    started = servers.start(
        [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "3",
         "--threads", "4", "tests.fixtures.chaos_app:app"],
        tmp_path / "fmd.duckdb", log, port, {"FMD_TEST_PASSWORD": PASSWORD})
    try:
        yield started
    finally:
        assert started.stop(signal.SIGTERM) == 0, log.read_text()[-3000:]


def call(server: servers.Server, method: str, path: str, *, cookie: str | None = None,
         form: dict[str, str] | None = None) -> tuple[int, str, str | None]:
    """One request on a new connection (so gunicorn may give it to any worker)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    headers = {"Cookie": f"fmd_profiler_session={cookie}"} if cookie else {}
    body = None
    if form is not None:
        body = urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        text = response.read().decode("utf-8", "replace")
        found = re.search(r"fmd_profiler_session=([^;]+)", response.getheader("Set-Cookie") or "")
        return response.status, text, found.group(1) if found else None
    finally:
        connection.close()


def sign_in_form(server: servers.Server) -> tuple[str, str]:
    status, text, cookie = call(server, "GET", "/dashboard/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert status == 200 and cookie and token
    return cookie, token.group(1)


def test_every_worker_counts_the_same_failed_sign_ins(server: servers.Server) -> None:
    cookie, token = sign_in_form(server)
    statuses = [call(server, "POST", "/dashboard/login", cookie=cookie,
                     form={"username": "admin", "password": f"guess-{i}", "csrf_token": token})[0]
                for i in range(12)]
    assert statuses == [401] * 5 + [429] * 7


def test_a_signed_out_cookie_is_refused_by_every_worker(server: servers.Server) -> None:
    cookie, token = sign_in_form(server)
    status, _, session = call(server, "POST", "/dashboard/login", cookie=cookie,
                              form={"username": "admin", "password": PASSWORD,
                                    "csrf_token": token})
    assert status == 302 and session
    assert [call(server, "GET", "/dashboard/settings", cookie=session)[0]
            for _ in range(6)] == [200] * 6
    page = call(server, "GET", "/dashboard/settings", cookie=session)[1]
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf
    assert call(server, "POST", "/dashboard/logout", cookie=session,
                form={"csrf_token": csrf.group(1)})[0] == 302
    assert [call(server, "GET", "/dashboard/settings", cookie=session)[0]
            for _ in range(6)] == [302] * 6
