"""The static report on real generated data: pages, figures, charts, escaping, CLI behaviour."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from fmd_profiler.demo.synthetic import SyntheticStore
from fmd_profiler.report.pages.paths import endpoint_path
from fmd_profiler.report.report_cli import main as report_main
from fmd_profiler.report.site import MARKER, format_ms
from fmd_profiler.report.sources import open_source
from tests.report.report_support import (
    HOSTILE_ENDPOINT,
    HOSTILE_USERS,
    SCRIPT_MARKERS,
    parse_tables,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def pages_of(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def stored(store: SyntheticStore, endpoint: str, column: str = "duration_ms") -> np.ndarray:
    with open_source(str(store.database)) as con:
        found = con.execute(f"SELECT {column} FROM requests WHERE endpoint = ?",
                            [endpoint]).fetchall()
    return np.array([d for (d,) in found])


def test_every_page_is_written(site: Path, store: SyntheticStore) -> None:
    assert (site / "index.html").is_file()
    assert (site / "versions.html").is_file()
    assert (site / MARKER).is_file()
    for endpoint in (*store.endpoints, *store.unused, HOSTILE_ENDPOINT):
        assert (site / endpoint_path(endpoint)).is_file(), endpoint
    summary = json.loads((site / "summary.json").read_text())
    assert {e["endpoint"] for e in summary["endpoints"]} >= set(store.endpoints)


def test_overview_figures_equal_what_the_data_says(site: Path, store: SyntheticStore) -> None:
    table = parse_tables((site / "index.html").read_text())[0]
    column = {name: i for i, name in enumerate(table.headers)}
    rows = {row[0][1]: row for row in table.rows}  # by the endpoint cell's data-sort
    for endpoint in store.endpoints:
        values = stored(store, endpoint)
        row = rows[endpoint]
        assert int(row[column["Hits"]][1]) == len(values)
        median_text, median_sort = row[column["Median ms"]]
        # quantile_cont interpolates linearly, as numpy's default percentile does.
        assert float(median_sort) == pytest.approx(round(np.percentile(values, 50), 3), abs=1e-3)
        assert median_text == format_ms(round(np.percentile(values, 50), 3))
        assert float(row[column["p95 ms"]][1]) == pytest.approx(
            round(np.percentile(values, 95), 3), abs=1e-3)
        cpu = stored(store, endpoint, "cpu_ms")
        assert float(row[column["CPU ms"]][1]) == pytest.approx(
            round(np.percentile(cpu, 50), 3), abs=1e-3)
        # The synthetic CPU time is 30-90 % of each duration.
        assert float(row[column["CPU ms"]][1]) < float(median_sort)
    for endpoint in store.unused:
        assert rows[endpoint][column["Hits"]][0] == "0"
        assert "unused" in rows[endpoint][0][0]


def test_every_chart_is_an_image_in_the_site(site: Path) -> None:
    """A PNG drawn by plotnine, or an SVG (the overview's charts and the box plots)."""
    images: dict[str, int] = {".png": 0, ".svg": 0}
    for page in pages_of(site):
        for src in re.findall(r'<img src="([^"]+)"', page.read_text()):
            target = (page.parent / src).resolve()
            assert target.is_file(), (page, src)
            data = target.read_bytes()
            assert data[:8] == PNG_MAGIC if target.suffix == ".png" else data[:4] == b"<svg"
            images[target.suffix] += 1
        assert "could not be drawn" not in page.read_text(), page
    overview = (site / "index.html").read_text()
    # per day, hour heatmap, boxes, version share: drawn without plotnine
    assert re.findall(r'<img src="[^"]+(\.\w+)"', overview) == [".svg"] * 4
    assert images[".png"] > 20 and images[".svg"] > 4


def test_hostile_names_stay_text(site: Path) -> None:
    for page in pages_of(site):
        text = page.read_text()
        for marker in SCRIPT_MARKERS:
            assert marker not in text, (page, marker)
    page = (site / endpoint_path(HOSTILE_ENDPOINT)).read_text()
    assert "&lt;script&gt;alert(&#34;endpoint&#34;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(&#34;user&#34;)&gt;" in page
    assert "&lt;b&gt;boom&lt;/b&gt;" in page  # the exception name, in the errors table
    assert "Per user" in page and HOSTILE_USERS[1].replace("\\", "\\") in page


def test_site_is_self_contained(site: Path) -> None:
    for page in pages_of(site):
        text = page.read_text()
        for url in re.findall(r'(?:src|href)="([^"]+)"', text):
            if url == "data:,":  # the empty favicon: stops browsers asking for /favicon.ico
                continue
            assert not re.match(r"^[a-z]+:|^//", url), (page, url)  # relative links only
            if not url.startswith("#"):
                assert (page.parent / url.split("#")[0]).exists(), (page, url)


def test_versions_page_tests_every_consecutive_pair(site: Path, store: SyntheticStore) -> None:
    text = (site / "versions.html").read_text()
    for before, after in zip(store.versions, store.versions[1:], strict=False):
        assert f"<code>{before}</code> → <code>{after}</code>" in text
    tables = parse_tables(text)
    verdicts = [row[-1][0] for table in tables[1:] for row in table.rows if table.headers
                and table.headers[-1] == "Verdict"]
    # The generator makes some endpoints 40 % slower in each new version.
    assert "slower" in verdicts and "unchanged" in verdicts


def test_endpoint_option_limits_the_report(tmp_path: Path, store: SyntheticStore,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    wanted = store.endpoints[0]
    out = tmp_path / "one"
    assert report_main(["--db", str(store.database), "--out", str(out), "--jobs", "1",
                        "--endpoint", wanted]) == 0
    assert capsys.readouterr().out.strip() == str((out / "index.html").resolve())
    written = sorted(p.name for p in (out / "endpoints").iterdir())
    assert written == [Path(endpoint_path(wanted)).name]


def test_cli_errors_are_one_line(tmp_path: Path, store: SyntheticStore,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--db", str(store.database), "--out", str(tmp_path / "x")]
    assert report_main([*base, "--endpoint", "api.view_0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did you mean" in err and "api.view_00" in err
    assert report_main([*base, "--compare", "2.0.0", "9.9"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'9.9'" in err
    assert not (tmp_path / "x").exists()


def test_output_is_replaced_only_when_complete(tmp_path: Path, store: SyntheticStore,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r"
    args = ["--db", str(store.database), "--out", str(out), "--jobs", "1",
            "--endpoint", store.endpoints[1]]
    assert report_main(args) == 0
    first = (out / "index.html").read_text()
    # A run that fails half-way (an unknown time zone in the config) leaves the old report.
    config = tmp_path / "bad.cfg"
    config.write_text("[dashboard]\nTIMEZONE = Mars/Olympus\n")
    assert report_main([*args, "--config", str(config)]) == 2
    assert (out / "index.html").read_text() == first
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".r.")]
    # A folder that is not a report is never replaced.
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("x")
    assert report_main([*args[:2], "--out", str(precious)]) == 2
    assert "not a report folder" in capsys.readouterr().err
    assert (precious / "thesis.tex").exists()


def test_json_alone_writes_no_site(tmp_path: Path, store: SyntheticStore,
                                   capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert report_main(["--db", str(store.database), "--json", "-"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["requests"] == store.requests + 40
    assert not (tmp_path / "reports").exists()


def test_a_report_over_the_last_one_reuses_its_unchanged_charts(tmp_path: Path,
                                                                store: SyntheticStore) -> None:
    from fmd_profiler.report.build import build_report
    from fmd_profiler.report.options import ReportOptions

    out = tmp_path / "again"
    options = ReportOptions(endpoints=(store.endpoints[0],), now=datetime(2026, 1, 1))
    first = build_report(lambda: open_source(str(store.database)), options, out)
    charts = {p.name: p.read_bytes() for p in (out / "charts").iterdir()}
    second = build_report(lambda: open_source(str(store.database)), options, out)
    assert first.reused_charts == 0 < first.charts
    assert second.reused_charts == second.charts == first.charts
    assert {p.name: p.read_bytes() for p in (out / "charts").iterdir()} == charts
    # Another endpoint: its charts are drawn; only the tests page's (not limited to endpoints)
    # are the same.
    other = ReportOptions(endpoints=(store.endpoints[1],), now=datetime(2026, 1, 1))
    third = build_report(lambda: open_source(str(store.database)), other, out)
    tests_page = (out / "tests.html").read_text()
    assert third.reused_charts == tests_page.count("<img ") == 2 < third.charts
