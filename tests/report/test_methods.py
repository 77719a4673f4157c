"""One row per method: a MethodView endpoint's GET and POST are told apart in the --json summary,
on the overview, on the endpoint page and in the versions comparison."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
from flask import Flask
from flask.views import MethodView

from fmd_profiler import Profiler
from fmd_profiler.report.pages.paths import VERSIONS, endpoint_path
from fmd_profiler.report.report_cli import main as report_main
from tests.fakes import FakeClock
from tests.helpers import flush
from tests.report.report_support import Table, parse_tables

REQUESTS_PER_METHOD = 25


def get_ms(i: int) -> float:
    return 0.2 + 0.01 * i  # cheap


def post_ms(i: int, version: int) -> float:
    return (4.0 if version == 1 else 6.0) + 0.1 * (i % 7)  # 4 ms of work, slower in version 2


def method_view_app(db_path: Path, clock: FakeClock, version: int) -> Flask:
    app = Flask(f"items_v{version}")

    class ItemAPI(MethodView):
        def get(self, item_id: int | None = None) -> str:
            clock.advance(self.ms / 1000)
            return "item"

        def post(self) -> tuple[str, int]:
            clock.advance(self.ms / 1000)
            return "created", 201

        ms = 0.0

    view = ItemAPI.as_view("items")
    app.add_url_rule("/items/", view_func=view, methods=["GET", "POST"])
    app.add_url_rule("/items/<int:item_id>", view_func=view, methods=["GET"])  # never requested
    Profiler(app, clock=clock, DATABASE=str(db_path), MONITOR_LEVEL=1,
             APP_VERSION=f"{version}.0")
    client = app.test_client()
    for i in range(REQUESTS_PER_METHOD):
        ItemAPI.ms = get_ms(i)
        assert client.get("/items/").status_code == 200
        ItemAPI.ms = post_ms(i, version)
        assert client.post("/items/").status_code == 201
        clock.advance(1.0)
    flush(app)
    return app


def medians(version: int | None = None) -> dict[str, float]:
    versions = [1, 2] if version is None else [version]
    gets = [get_ms(i) for v in versions for i in range(REQUESTS_PER_METHOD)]
    posts = [post_ms(i, v) for v in versions for i in range(REQUESTS_PER_METHOD)]
    return {"GET": statistics.median(gets), "POST": statistics.median(posts),
            "all": statistics.median(gets + posts)}


@pytest.fixture
def two_versions(db_path: Path, clock: FakeClock) -> Path:
    method_view_app(db_path, clock, 1)
    method_view_app(db_path, clock, 2)
    return db_path


def test_summary_has_one_row_per_method(two_versions: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert report_main(["--db", str(two_versions), "--json", "-"]) == 0
    summary = json.loads(capsys.readouterr().out)
    items = next(e for e in summary["endpoints"] if e["endpoint"] == "items")
    assert items["methods"] == "GET,POST"  # each allowed method once, over both rules
    assert items["hits"] == 4 * REQUESTS_PER_METHOD
    expected = medians()
    assert items["median_ms"] == pytest.approx(expected["all"], abs=1e-3)
    rows = items["by_method"]
    assert [(r["method"], r["rule"], r["hits"]) for r in rows] == [
        ("GET", "/items/", 2 * REQUESTS_PER_METHOD), ("POST", "/items/", 2 * REQUESTS_PER_METHOD)]
    for row in rows:
        assert set(row) == {"method", "rule", "hits", "median_ms", "p95_ms", "p99_ms", "errors"}
        assert row["median_ms"] == pytest.approx(expected[row["method"]], abs=1e-3)
        assert row["errors"] == 0
        assert row["median_ms"] <= row["p95_ms"] <= row["p99_ms"]


def method_table(page: Path) -> Table:
    tables = [t for t in parse_tables(page.read_text(encoding="utf-8"))
              if "Method" in t.headers and "Rule" in t.headers]
    assert len(tables) == 1, f"one per-method table expected on {page.name}"
    return tables[0]


def cell(table: Table, row: list[tuple[str, str | None]], header: str) -> tuple[str, str | None]:
    return row[table.headers.index(header)]


def test_pages_show_each_method_beside_the_total(two_versions: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    assert report_main(["--db", str(two_versions), "--out", str(out), "--jobs", "1"]) == 0
    expected = medians()
    for page in (out / "index.html", out / endpoint_path("items")):
        table = method_table(page)
        shown = {cell(table, row, "Method")[0]: row for row in table.rows}
        assert list(shown) == ["all", "GET", "POST"]
        for method, row in shown.items():
            median = float(cell(table, row, "Median ms")[1] or "nan")
            assert median == pytest.approx(expected[method], abs=1e-3), (page.name, method)
        assert cell(table, shown["POST"], "Hits")[1] == str(2 * REQUESTS_PER_METHOD)

    table = method_table(out / VERSIONS)
    verdicts = {cell(table, row, "Method")[0]: row[-1][0] for row in table.rows}
    # The endpoint's total mixes a cheap GET with a slow POST: only the POST row says which
    # method changed.
    assert list(verdicts) == ["all", "GET", "POST"]
    assert (verdicts["GET"], verdicts["POST"]) == ("unchanged", "slower")
    for row in table.rows:
        method = cell(table, row, "Method")[0]
        for header, version in (("Median before ms", 1), ("Median after ms", 2)):
            median = float(cell(table, row, header)[1] or "nan")
            assert median == pytest.approx(medians(version)[method], abs=1e-3), (method, header)


def test_single_method_endpoints_get_no_method_table(db_path: Path, clock: FakeClock,
                                                     tmp_path: Path) -> None:
    app = Flask("one_method")

    @app.route("/ping")
    def ping() -> str:
        clock.advance(0.001)
        return "pong"

    Profiler(app, clock=clock, DATABASE=str(db_path), MONITOR_LEVEL=1)
    for _ in range(3):
        app.test_client().get("/ping")
    flush(app)
    out = tmp_path / "site"
    assert report_main(["--db", str(db_path), "--out", str(out), "--jobs", "1"]) == 0
    for page in (out / "index.html", out / endpoint_path("ping")):
        tables = parse_tables(page.read_text(encoding="utf-8"))
        assert not [t for t in tables if "Method" in t.headers], page.name
