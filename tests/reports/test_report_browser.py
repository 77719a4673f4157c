"""Headless Chromium opens the static report and the signed-in dashboard: they render, their
scripts run, nothing fails, and no request leaves this machine."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from fmd_profiler.demo.app import create_app
from fmd_profiler.demo.traffic import serve
from tests.reports.cdp import Browser

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(shutil.which("chromium") is None,
                                 reason="Debian chromium is not installed (make system-deps)")]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    driver = Browser()
    yield driver
    driver.close()


def assert_local(urls: list[str]) -> None:
    for url in urls:
        parts = urlsplit(url)
        assert parts.scheme in ("file", "data", "about") or parts.hostname in (
            "127.0.0.1", "localhost"), url


def test_static_report_renders_offline(browser: Browser, site: Path) -> None:
    browser.events.clear()
    browser.open((site / "index.html").as_uri())
    assert browser.evaluate("document.querySelector('h1').textContent") == "Overview"
    broken = browser.evaluate(
        "Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).length")
    assert broken == 0
    assert browser.evaluate("document.images.length") == 4
    # The sort script works: clicking "Hits" twice puts the busiest endpoint first.
    first = browser.evaluate("""(() => {
        const table = document.getElementById('endpoints');
        const header = Array.from(table.tHead.rows[0].cells).find(c => c.textContent === 'Hits');
        header.click(); header.click();
        return [header.getAttribute('aria-sort'),
                table.tBodies[0].rows[0].cells[4].getAttribute('data-sort'),
                table.tBodies[0].rows[table.tBodies[0].rows.length - 1].cells[4]
                     .getAttribute('data-sort')];
    })()""")
    assert first[0] == "descending" and int(first[1]) >= int(first[2])
    endpoint = browser.evaluate("document.querySelector('#endpoints a').href")
    browser.open(endpoint)
    assert browser.evaluate("document.images.length") >= 3
    assert all_images_loaded(browser)
    assert browser.evaluate("document.querySelector('#profile img') !== null")  # flame graph
    # The function table sorts: "Total ms" descending puts the whole request (100 %) first.
    assert browser.evaluate("""(() => {
        const table = document.getElementById('functions');
        const header = Array.from(table.tHead.rows[0].cells)
            .find(c => c.textContent === 'Total ms');
        header.click(); header.click();
        return table.tBodies[0].rows[0].cells[4].textContent;
    })()""") == "100.0 %"
    for page in ("outliers.html", "tests.html"):
        browser.open((site / page).as_uri())
        assert all_images_loaded(browser) and browser.evaluate("document.images.length") >= 1
    browser.open((site / "outliers.html").as_uri())
    browser.open(browser.evaluate("document.querySelector('#outliers a[href^=\"requests/\"]')"
                                  ".href"))
    assert browser.evaluate("document.querySelector('h1').textContent").startswith("Outlier")
    assert browser.problems() == []
    assert_local(browser.requested_urls())


def all_images_loaded(browser: Browser) -> bool:
    return bool(browser.evaluate(
        "Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"))


def test_signed_in_dashboard_renders(browser: Browser, tmp_path: Path) -> None:
    app = create_app(DATABASE=str(tmp_path / "live.duckdb"), PASSWORD="open sesame",
                     SECRET_KEY="browser-test-secret", MONITOR_LEVEL=3, DETAIL_SAMPLE_RATE=0.5)
    client = app.test_client()
    for i in range(30):
        client.get("/split?ms=20", headers={"X-User": f"user{i % 4}"})
        client.get("/api/items")
    state = app.extensions["fmd_profiler"]
    state.runtime.flush(ingest=True)
    try:
        with serve(app) as url:
            browser.events.clear()
            browser.open(f"{url}/dashboard/")
            assert "/dashboard/login" in browser.evaluate("location.pathname")
            browser.evaluate("""(() => {
                document.getElementById('username').value = 'admin';
                document.getElementById('password').value = 'open sesame';
                document.querySelector('form.login').submit();
            })()""")
            browser.wait_for("Page.loadEventFired")
            browser.settle()
            assert browser.evaluate("location.pathname") == "/dashboard/"
            assert browser.evaluate("document.querySelector('h1').textContent") == "Overview"
            assert browser.evaluate(
                "Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
            browser.open(browser.evaluate(
                "document.querySelector('#endpoints a[href*=\"/split-\"]').href"))
            assert browser.evaluate("document.querySelector('nav.toc') !== null")
            assert browser.evaluate("document.querySelector('#profile img') !== null")
            assert all_images_loaded(browser)
            browser.open(browser.evaluate("document.querySelector('#slow a').href"))
            assert browser.evaluate("document.querySelector('h1').textContent").startswith(
                "Detailed profile of split")
            browser.open(f"{url}/dashboard/settings")
            assert browser.evaluate("document.querySelectorAll('form.inline').length") > 1
            assert browser.problems() == []
            assert_local(browser.requested_urls())
    finally:
        state.runtime.stop()
