"""The profiler's and the harness's pages in the live dashboard: the same pages as the static
report through the page builders, the profile exports as downloads, hostile outlier data kept as
text for a guest, and runs uploaded to ``/submit-test-results`` on the tests page."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from fmd_profiler.demo.app import create_app
from fmd_profiler.report.exports import endpoint_file_name, folded_bytes, speedscope_file_name
from fmd_profiler.report.pages.paths import endpoint_path, request_path
from fmd_profiler.store import Database, StoreLocation
from tests.benchmark.test_storage import run_payload
from tests.dashboard.test_security import SECRET, dashboard_urls, sign_in
from tests.report.report_support import (
    HOSTILE_ENDPOINT,
    HOSTILE_REQUEST_ID,
    SCRIPT_MARKERS,
    write_hostile_rows,
)

GUEST_PASSWORD = "guest-pass-2"
TOKEN = "upload-token-for-tests"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    app = create_app(DATABASE=str(tmp_path / "dash.duckdb"), PASSWORD="admin-pass",
                     GUEST_PASSWORD=[GUEST_PASSWORD], SECRET_KEY=SECRET, SUBMIT_TOKEN=TOKEN,
                     MONITOR_LEVEL=3, DETAIL_SAMPLE_RATE=0.5)
    client = app.test_client()
    # About half the requests get a detailed profile (and stay out of the sampled aggregate):
    # with 20 of them, both kinds exist but for a chance of 2 in a million.
    for _ in range(20):
        client.get("/split?ms=20")
    state = app.extensions["fmd_profiler"]
    state.runtime.flush(ingest=True)
    # Profile data whose every name tries to become markup, left pending: the dashboard's
    # read sessions merge it with the stored rows.
    write_hostile_rows(state.runtime.location.database, time.time())
    yield app
    state.runtime.stop()


def test_new_routes_are_in_the_security_crawl(app: Flask) -> None:
    urls = [url for _, url in dashboard_urls(app)]
    assert "/dashboard/profiles/style.css" in urls  # the crawl refuses it signed out
    assert app.test_client().get(f"/dashboard/profiles/{endpoint_file_name('split')}"
                                 ).status_code == 302


def test_guest_sees_profiler_pages_with_hostile_data_as_text(app: Flask) -> None:
    client = app.test_client()
    assert sign_in(client, "guest", GUEST_PASSWORD).status_code == 302
    pages = ["outliers.html", request_path(HOSTILE_REQUEST_ID), endpoint_path(HOSTILE_ENDPOINT),
             endpoint_path("split")]
    for path in pages:
        response = client.get(f"/dashboard/{path}")
        assert response.status_code == 200, path
        for marker in SCRIPT_MARKERS:
            assert marker not in response.text, (path, marker)
        for src in re.findall(r'<img src="([^"]+)"', response.text):
            image = client.get("/dashboard/" + src.lstrip("./"))
            assert image.status_code == 200, (path, src)
            assert image.data[:4] == {"image/png": b"\x89PNG", "image/svg+xml": b"<svg"}[
                image.mimetype], (path, src)
    outlier = client.get(f"/dashboard/{request_path(HOSTILE_REQUEST_ID)}").text
    assert "&lt;script&gt;alert(&#34;url&#34;)&lt;/script&gt;" in outlier
    assert "&lt;script&gt;alert(&#34;header&#34;)&lt;/script&gt;" in outlier
    split = client.get(f"/dashboard/{endpoint_path('split')}").text
    assert 'id="profile"' in split and "split_sixty" in split
    # Detailed profiles: linked, and each link answers.
    linked = re.findall(r'href="\.\./(requests/[^"]+)"', split)
    assert linked
    for href in linked:
        assert client.get(f"/dashboard/{href}").status_code == 200
    assert client.get("/dashboard/requests/nope-00000000.html").status_code == 404


def test_profile_exports_are_downloads_of_the_endpoint_page(app: Flask) -> None:
    client = app.test_client()
    sign_in(client, "guest", GUEST_PASSWORD)
    folded = client.get(f"/dashboard/profiles/{endpoint_file_name('split')}")
    assert folded.status_code == 200
    assert folded.headers["Content-Disposition"] == "attachment"
    assert folded.mimetype == "text/plain"
    with Database(StoreLocation(app.extensions["fmd_profiler"].config.database)).read() as con:
        assert folded.data == folded_bytes(con, "split")
    speedscope = client.get(f"/dashboard/profiles/{speedscope_file_name('split')}")
    assert speedscope.mimetype == "application/json"
    assert speedscope.json["profiles"][0]["name"] == "split"
    assert client.get("/dashboard/profiles/unknown.folded").status_code == 404
    assert client.get("/dashboard/profiles/..%2Fsettings").status_code == 404


def test_an_uploaded_run_appears_on_the_tests_page(app: Flask) -> None:
    client = app.test_client()
    sign_in(client, "guest", GUEST_PASSWORD)
    assert client.get("/dashboard/tests.html").status_code == 404  # no run yet
    assert ">Tests</a>" not in client.get("/dashboard/").text
    payload = run_payload("uploaded-run-7", test_ms={"tests/test_up.py::test_up": [2.0, 1.0]},
                          endpoint_ms={"split": [4.0, 4.5]}, rounds=2)
    stored = client.post("/dashboard/submit-test-results", data=payload.to_json(),
                         headers={"Authorization": f"Bearer {TOKEN}",
                                  "Content-Type": "application/json"})
    assert stored.status_code == 201, stored.text
    page = client.get("/dashboard/tests.html")
    assert page.status_code == 200
    assert "tests/test_up.py::test_up" in page.text and "aaaaaaa" in page.text
    # In the navigation from now on (pages built earlier follow within FRESH_FOR_S).
    assert 'class="current" aria-current="page">Tests</a>' in page.text
