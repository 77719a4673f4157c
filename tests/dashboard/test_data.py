"""The dashboard's data as data: the JSON summary API, CSV of every table, a time range on
every page."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fmd_profiler.dashboard.tables import html_tables
from fmd_profiler.demo.app import create_app


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    app = create_app(DATABASE=str(tmp_path / "data.duckdb"), PASSWORD="pw",
                     SECRET_KEY="k" * 40, FLUSH_INTERVAL_S=0.05)
    client = app.test_client()
    for _ in range(6):
        client.get("/api/items")
    for _ in range(3):
        client.get("/compute")
    app.extensions["fmd_profiler"].runtime.flush(ingest=True)
    yield app
    app.extensions["fmd_profiler"].runtime.stop()


def signed_in(app: Flask) -> FlaskClient:
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/dashboard/login").text)
    assert token
    client.post("/dashboard/login", data={"username": "admin", "password": "pw",
                                          "csrf_token": token.group(1)})
    return client


def test_the_summary_api_is_the_json_summary_for_signed_in_users(app: Flask) -> None:
    assert app.test_client().get("/dashboard/api/summary").status_code == 401
    client = signed_in(app)
    summary = client.get("/dashboard/api/summary").json
    assert summary is not None
    assert set(summary) >= {"endpoints", "functions", "exceptions", "requests"}
    hits = {e["endpoint"]: e["hits"] for e in summary["endpoints"]}
    assert (hits["items"], hits["compute"], summary["requests"]) == (6, 3, 9)
    empty = client.get("/dashboard/api/summary?until=2000-01-01").json
    assert empty is not None and empty["requests"] == 0
    assert empty["window"]["until"].startswith("2000-01-01")
    answer = client.get("/dashboard/api/summary?since=yesterday-ish")
    assert answer.status_code == 400 and "7d" in answer.text


def test_the_csv_of_the_overview_equals_its_table(app: Flask) -> None:
    client = signed_in(app)
    page = client.get("/dashboard/")
    (table,) = html_tables(page.text)[:1]
    link = re.search(r'<a href="(/dashboard/csv/index\.html\?table=0)" download>CSV</a>',
                     page.text)
    assert link
    answer = client.get(link.group(1))
    assert answer.mimetype == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows == table
    header, *body = rows
    by_endpoint = {r[header.index("Endpoint")]: r for r in body}
    summary = client.get("/dashboard/api/summary").json
    assert summary is not None
    for endpoint in summary["endpoints"]:
        row = by_endpoint[endpoint["endpoint"]]
        assert int(row[header.index("Hits")]) == endpoint["hits"]
        if endpoint["median_ms"] is not None:
            assert float(row[header.index("Median ms")]) == pytest.approx(endpoint["median_ms"])


def test_every_table_of_every_page_has_its_csv(app: Flask) -> None:
    client = signed_in(app)
    index = client.get("/dashboard/").text
    pages = {"/dashboard/"} | {f"/dashboard/{p}" for p in
                              re.findall(r'href="((?:endpoints/)?[\w.-]+\.html)"', index)}
    assert len(pages) > 3
    for url in sorted(pages):
        html = client.get(url).text
        tables = html_tables(html)
        assert html.count('<p class="csv">') == len(tables), url
        for i in range(len(tables)):
            link = re.findall(r'<p class="csv"><a href="([^"]+)"', html)[i]
            assert client.get(link).status_code == 200, link
    assert client.get("/dashboard/csv/index.html?table=99").status_code == 404
    assert client.get("/dashboard/csv/index.html?table=x").status_code == 400


def test_every_page_takes_a_time_range_and_keeps_it(app: Flask) -> None:
    client = signed_in(app)
    everything = client.get("/dashboard/?since=all")
    assert '<form class="range"' in everything.text
    before = client.get("/dashboard/?since=30d&until=2000-01-01")
    assert before.status_code == 200
    header, *rows = html_tables(before.text)[0]
    assert {r[header.index("Hits")] for r in rows} == {"0"}  # nothing before 2000
    # The range is kept for the next pages (a cookie), until another is chosen.
    again = client.get("/dashboard/")
    header, *rows = html_tables(again.text)[0]
    assert {r[header.index("Hits")] for r in rows} == {"0"}
    assert 'value="2000-01-01"' in again.text
    back = client.get("/dashboard/?since=7d")
    header, *rows = html_tables(back.text)[0]
    assert sorted(int(r[header.index("Hits")]) for r in rows if r[header.index("Hits")] != "0") \
        == [3, 6]
    assert client.get("/dashboard/?since=soon").status_code == 400
