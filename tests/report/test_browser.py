"""Headless Chromium opens the static report and the signed-in dashboard: they render, their
scripts run, nothing fails, and no request leaves this machine."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from fmd_profiler.demo.app import create_app
from fmd_profiler.demo.synthetic import SyntheticStore
from fmd_profiler.demo.traffic import serve
from fmd_profiler.queries import profile_queries
from fmd_profiler.report.flame_data import MIN_BOX_WIDTH
from fmd_profiler.report.pages.paths import endpoint_path
from fmd_profiler.report.sources import open_source
from tests.report.cdp import Browser

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
    # The flame graph, drawn by flame.js
    assert browser.evaluate("document.querySelector('#profile svg.flame-svg') !== null")
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
            assert browser.evaluate("document.querySelector('#profile svg.flame-svg') !== null")
            assert all_images_loaded(browser)
            exercise_flame_graph(browser, flame_boxes(browser))
            png = browser.evaluate("new URL(document.querySelector('#profile figure.flame')"
                                   ".getAttribute('data-png'), location.href).href")
            assert png not in browser.requested_urls()  # replaced: the server drew nothing
            browser.open(browser.evaluate("document.querySelector('#slow a').href"))
            assert browser.evaluate("document.querySelector('h1').textContent").startswith(
                "Detailed profile of split")
            browser.open(f"{url}/dashboard/settings")
            assert browser.evaluate("document.querySelectorAll('form.inline').length") > 1
            assert browser.problems() == []
            assert_local(browser.requested_urls())
    finally:
        state.runtime.stop()


# -- the interactive flame graph ------------------------------------------------------------------

FIGURE = "document.querySelector('#profile figure.flame')"


def flame_boxes(browser: Browser) -> list[dict[str, object]]:
    """The boxes the page embeds for flame.js, as dicts (function, depth, start, width)."""
    data = browser.evaluate(f"JSON.parse(document.getElementById({FIGURE}"
                            ".getAttribute('data-flame')).textContent)")
    return [{"function": data["frames"][b[0]][0], "depth": b[1], "start": b[2], "width": b[3]}
            for b in data["boxes"]]


def center_of(browser: Browser, selector: str) -> tuple[float, float]:
    box = browser.evaluate(f"""(() => {{
        const el = document.querySelector({json.dumps(selector)});
        el.scrollIntoView({{block: 'center'}});
        const r = el.getBoundingClientRect();
        return [r.left + r.width / 2, r.top + r.height / 2];
    }})()""")
    return float(box[0]), float(box[1])


def mouse(browser: Browser, kind: str, x: float, y: float) -> None:
    params = {"type": kind, "x": x, "y": y, "button": "left",
              "clickCount": 1 if kind != "mouseMoved" else 0}
    browser.call("Input.dispatchMouseEvent", params)


def click(browser: Browser, selector: str) -> None:
    x, y = center_of(browser, selector)
    mouse(browser, "mouseMoved", x, y)
    mouse(browser, "mousePressed", x, y)
    mouse(browser, "mouseReleased", x, y)


def settled(browser: Browser, expression: str, done: Callable[[Any], bool],
            seconds: float = 5.0) -> Any:
    """``expression``'s value once ``done`` accepts it, or its last value after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        value = browser.evaluate(expression)
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def frame_selector(index: int) -> str:
    return f"#profile svg.flame-svg g.frame[data-index='{index}'] rect"


def exercise_flame_graph(browser: Browser, expected: list[dict[str, object]]) -> None:
    """Real mouse clicks and typing on the endpoint page's flame graph: it replaced the PNG,
    zooms into a clicked box, names a hovered box's time and share, highlights the functions a
    search matches (as many as ``expected`` has), and Reset shows everything again."""
    state = f"""(() => {{ const f = {FIGURE}; const svg = f.querySelector('svg.flame-svg');
        return {{live: f.classList.contains('live'),
                 png: !!f.querySelector('img.flame-png'),
                 width: Number(svg.getAttribute('width')),
                 frames: svg.querySelectorAll('g.frame').length,
                 zoom: f.getAttribute('data-zoom'), matches: f.getAttribute('data-matches'),
                 marked: svg.querySelectorAll('g.frame.match').length,
                 status: f.querySelector('.flame-status').textContent}}; }})()"""
    before = browser.evaluate(state)
    assert before["live"] and not before["png"] and before["frames"] > 2, before
    boxes = browser.evaluate(f"JSON.parse(document.getElementById({FIGURE}"
                             ".getAttribute('data-flame')).textContent).boxes")
    # A box below the root, wide enough to click, narrower than the graph.
    target = max((i for i, b in enumerate(boxes) if b[1] >= 1 and 0.02 < b[3] < 0.9),
                 key=lambda i: boxes[i][3])
    click(browser, frame_selector(target))
    # Input events reach a busy page a moment after the protocol call returns.
    zoomed = settled(browser, state, lambda s: s["zoom"] == str(target))
    assert zoomed["zoom"] == str(target)
    rect = browser.evaluate(f"""(() => {{ const r = document.querySelector(
        {json.dumps(frame_selector(target))}); return [Number(r.getAttribute('x')),
        Number(r.getAttribute('width'))]; }})()""")
    assert rect[0] == 0 and rect[1] >= zoomed["width"] - 1  # the clicked box fills the width
    # Hover: the status line names the box, its share and its time per request.
    root = next(i for i, b in enumerate(boxes) if b[1] == 0)
    x, y = center_of(browser, frame_selector(root))
    mouse(browser, "mouseMoved", x, y)
    status = settled(browser, state, lambda s: "100.0 %" in s["status"])["status"]
    assert "100.0 % of the request" in status and " ms per request" in status, status
    # Reset: back to the full graph.
    click(browser, "#profile figure.flame button.flame-reset")
    reset = settled(browser, state, lambda s: s["zoom"] == "")
    assert reset["zoom"] == "" and reset["frames"] == before["frames"]
    # Search, typed: every box whose function contains the term is counted and marked.
    function = browser.evaluate(f"JSON.parse(document.getElementById({FIGURE}"
                                f".getAttribute('data-flame')).textContent).frames"
                                f"[{boxes[target][0]}][0]")
    term = function.rpartition(".")[2][:6].lower()
    browser.evaluate(f"{FIGURE}.querySelector('input[type=search]').focus()")
    browser.call("Input.insertText", {"text": term})
    found = settled(browser, state, lambda s: s["matches"] not in (None, "0"))
    want = sum(1 for b in expected if term in str(b["function"]).lower())
    assert want >= 1 and found["matches"] == str(want), (term, found)
    assert 1 <= found["marked"] <= want
    assert term in found["status"] and "match" in found["status"]
    titles = browser.evaluate("Array.from(document.querySelectorAll("
                              "'#profile svg.flame-svg g.match title')).map(t => t.textContent)")
    assert all(term in t.split(" \u2014 ")[0].lower() for t in titles)


def test_flame_graph_is_interactive_from_file(browser: Browser, site: Path,
                                              store: SyntheticStore) -> None:
    endpoint = store.endpoints[0]
    browser.events.clear()
    browser.open((site / endpoint_path(endpoint)).as_uri())
    with open_source(str(store.database)) as con:
        expected = [b for b in profile_queries.flame_graph(con, endpoint)
                    if b["width"] >= MIN_BOX_WIDTH]
    shown = flame_boxes(browser)
    key = lambda b: (b["depth"], b["start"], b["function"])  # noqa: E731
    assert sorted(map(key, shown)) == sorted(
        (b["depth"], round(b["start"], 6), b["function"]) for b in expected)
    exercise_flame_graph(browser, expected)
    assert browser.problems() == []
    assert_local(browser.requested_urls())
    # Without JavaScript the PNG is the flame graph.
    browser.call("Emulation.setScriptExecutionDisabled", {"value": True})
    try:
        browser.open((site / endpoint_path(endpoint)).as_uri())
        assert browser.evaluate("""(() => {
            const figure = document.querySelector('#profile figure.flame');
            const png = figure.querySelector('img.flame-png');
            png.scrollIntoView();
            return !figure.classList.contains('live') && !figure.querySelector('svg')
                && getComputedStyle(png).display !== 'none';
        })()""")
        browser.settle(1.0)
        assert browser.evaluate("document.querySelector('#profile img.flame-png').naturalWidth") > 0
    finally:
        browser.call("Emulation.setScriptExecutionDisabled", {"value": False})
