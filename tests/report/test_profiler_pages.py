"""The profiler's and the harness's pages of the static report, on the session's synthetic store:
figures equal what the queries say, charts and exports exist, every link has its page, hostile
names stay text, and pages without data are left out."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from fmd_profiler.benchmark import benchmark_queries as bench
from fmd_profiler.demo.synthetic import SyntheticStore, write_synthetic_store
from fmd_profiler.queries import profile_queries
from fmd_profiler.report.exports import endpoint_file_name, folded_bytes, speedscope_file_name
from fmd_profiler.report.pages.paths import endpoint_path, request_path
from fmd_profiler.report.pages.profile import FEW_SAMPLES, MAX_FUNCTIONS, MIN_FUNCTION_SHARE
from fmd_profiler.report.pages.requests_page import NEWEST_OUTLIERS
from fmd_profiler.report.report_cli import main as report_main
from fmd_profiler.report.sources import open_source
from tests.report.report_support import (
    HOSTILE_ENDPOINT,
    HOSTILE_REQUEST_ID,
    HOSTILE_TEST,
    Table,
    parse_tables,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def section(page: str, key: str) -> str:
    """The HTML of ``<section id=key>`` of a page ('' when absent)."""
    found = re.search(rf'<section id="{re.escape(key)}">(.*?)</section>', page, re.S)
    return found.group(1) if found else ""


def table_with(tables: list[Table], *headers: str) -> Table:
    return next(t for t in tables if all(h in t.headers for h in headers))


def column(table: Table, header: str) -> list[tuple[str, str | None]]:
    at = table.headers.index(header)
    return [row[at] for row in table.rows]


def images_of(site: Path, page_path: str, html: str) -> list[bytes]:
    page = site / page_path
    return [(page.parent / src).resolve().read_bytes()
            for src in re.findall(r'<img src="([^"]+)"', html)]


def test_function_table_equals_the_profile_query(site: Path, store: SyntheticStore) -> None:
    with open_source(str(store.database)) as con:
        expected = {e: profile_queries.function_table(con, e) for e in store.endpoints}
    for endpoint, functions in expected.items():
        page = (site / endpoint_path(endpoint)).read_text()
        table = table_with(parse_tables(section(page, "profile")), "Function", "Self ms")
        shown = [f for f in functions
                 if max(f["self_share"], f["total_share"]) >= MIN_FUNCTION_SHARE][:MAX_FUNCTIONS]
        assert [sort for _, sort in column(table, "Function")] == [f["function"] for f in shown]
        assert [float(s) for _, s in column(table, "Self ms")] == [f["self_ms"] for f in shown]
        assert [float(s) for _, s in column(table, "Total ms")] == [f["total_ms"] for f in shown]
        assert [float(s) for _, s in column(table, "Self %")] == [f["self_share"] for f in shown]
        # Self times add up to the mean request: the table is the whole request, not a sample.
        with open_source(str(store.database)) as con:
            mean = profile_queries.coverage(con, endpoint=endpoint)[endpoint]["mean_ms"]
        assert sum(f["self_ms"] for f in functions) == pytest.approx(mean, rel=1e-3)


def test_the_profile_says_what_it_rests_on(site: Path, store: SyntheticStore) -> None:
    """Sample count and the time a sample stands for (longer where the CPU budget stretched the
    interval), and a warning with the noise when the samples are few."""
    for endpoint in store.endpoints:
        with open_source(str(store.database)) as con:
            found = profile_queries.sampling(con, endpoint)
            weight = con.execute("SELECT sum(weight_ms), sum(samples) FROM profile_samples "
                                 "WHERE endpoint = $e", {"e": endpoint}).fetchone()
        assert found["samples"] == weight[1]
        assert found["interval_ms"] == pytest.approx(weight[0] / weight[1])
        profile = section((site / endpoint_path(endpoint)).read_text(), "profile")
        assert "ms a sample stands for" in profile and "PROFILER_BUDGET_PCT" in profile
        noise = f"rests on {found['samples']:,} samples"
        assert (noise in profile) == (found["samples"] < FEW_SAMPLES), (endpoint, found)


def test_flame_graph_and_exports_are_in_the_site(site: Path, store: SyntheticStore) -> None:
    endpoint = store.endpoints[0]
    page = (site / endpoint_path(endpoint)).read_text()
    profile = section(page, "profile")
    [png] = images_of(site, endpoint_path(endpoint), profile)
    assert png[:8] == PNG_MAGIC
    assert 'alt="Flame graph of the endpoint' in profile
    folded = f"profiles/{endpoint_file_name(endpoint)}"
    speedscope = f"profiles/{speedscope_file_name(endpoint)}"
    assert f'href="../{folded}"' in profile and f'href="../{speedscope}"' in profile
    with open_source(str(store.database)) as con:
        assert (site / folded).read_bytes() == folded_bytes(con, endpoint)
        duration_ms = profile_queries.coverage(con, endpoint=endpoint)[endpoint]["duration_ms"]
    document = json.loads((site / speedscope).read_text())
    [profile_doc] = document["profiles"]
    assert profile_doc["name"] == endpoint
    # Integer microseconds of the window's total measured time, rounded per stack.
    assert profile_doc["endValue"] == pytest.approx(duration_ms * 1000, abs=len(
        profile_doc["weights"]))


def test_versions_page_names_the_function_that_made_an_endpoint_slower(
        site: Path, store: SyntheticStore) -> None:
    text = (site / "versions.html").read_text()
    explained = re.findall(r'<section id="functions-[0-9a-f]+">(.*?)</section>', text, re.S)
    assert explained, "no endpoint got slower in the synthetic store"
    checked = 0
    for block in explained:
        names = re.findall(r'<h4><a href="[^"]+">([^<]+)</a>', block)
        tables = [t for t in parse_tables(block) if "Change ms" in t.headers]
        assert len(names) == len(tables) == len(re.findall(r"<img ", block))
        for name, table in zip(names, tables, strict=True):
            checked += 1
            # Functions on every stack changed as much as the request: marked, not the answer.
            inner = [row for row in table.rows if "whole request" not in row[0][0]]
            # The generator spends a slower version's extra time in <view>_rebuild, which
            # calls app.util:normalise (both carry the change in their total time).
            area, _, view = name.partition(".")
            assert inner[0][0][1] in (f"app.{area}:{view}_rebuild", "app.util:normalise")
            assert float(inner[0][table.headers.index("Change ms")][1]) > 0
    assert checked >= 1


def test_outliers_page_lists_the_newest_and_each_has_its_page(site: Path,
                                                              store: SyntheticStore) -> None:
    text = (site / "outliers.html").read_text()
    with open_source(str(store.database)) as con:
        total = con.execute("SELECT count(*) FROM outliers").fetchone()[0]
        newest = profile_queries.outlier_list(con, limit=NEWEST_OUTLIERS)
    tables = parse_tables(text)
    listed = table_with(tables, "Time", "Endpoint", "× median")
    assert len(listed.rows) == len(newest) == min(total, NEWEST_OUTLIERS)
    assert [float(s) for _, s in column(listed, "Duration ms")] == [
        o["duration_ms"] for o in newest]
    per_endpoint = table_with(tables, "Endpoint", "Outliers")
    assert sum(int(s) for _, s in column(per_endpoint, "Outliers")) == total
    assert len(images_of(site, "outliers.html", text)) == 1
    for outlier in newest:
        page = (site / request_path(outlier["request_id"])).read_text()
        assert f"Outlier of {outlier['endpoint']}" in page.replace("&lt;", "<").replace(
            "&gt;", ">").replace("&#34;", '"')
        assert "[redacted]" in page  # the stored request data, secrets already removed


def test_endpoint_pages_link_only_to_existing_request_pages(site: Path,
                                                            store: SyntheticStore) -> None:
    linked: set[str] = set()
    for endpoint in (*store.endpoints, HOSTILE_ENDPOINT):
        page = (site / endpoint_path(endpoint)).read_text()
        for href in re.findall(r'href="\.\./(requests/[^"]+)"', section(page, "slow")):
            assert (site / href).is_file(), href
            linked.add(href)
    with open_source(str(store.database)) as con:
        details = profile_queries.request_profile_list(con, kind="detail")
    # every detailed profile (two per endpoint) is linked from its endpoint's page
    assert details
    assert {request_path(d["request_id"]) for d in details} <= linked


def test_a_detailed_profile_page_shows_its_call_tree(site: Path, store: SyntheticStore) -> None:
    with open_source(str(store.database)) as con:
        [detail] = profile_queries.request_profile_list(con, endpoint=store.endpoints[0],
                                                        kind="detail", limit=1)
        profile = profile_queries.request_profile(con, detail["request_id"])
    page = (site / request_path(detail["request_id"])).read_text()
    tree = table_with(parse_tables(page), "Function", "Share")
    assert tree.rows[0][0][0] == "flask:<dispatch>"
    assert tree.rows[0][-1][0] == "100.0 %"
    assert len(tree.rows) == len([b for b in profile["flame"] if b["width"] >= 0.002])
    assert "Request" not in re.findall(r"<h2>([^<]+)</h2>", page)  # no request data stored


def test_hostile_profile_data_stays_text(site: Path) -> None:
    page = (site / request_path(HOSTILE_REQUEST_ID)).read_text()
    assert "&lt;script&gt;alert(&#34;url&#34;)&lt;/script&gt;" in page
    assert "&lt;script&gt;alert(&#34;header&#34;)&lt;/script&gt;" in page
    assert "&lt;script&gt;alert(&#34;function&#34;)&lt;/script&gt;" in page
    assert "/srv/&lt;img src=x onerror=alert(&#34;file&#34;)&gt;.py" in page
    endpoint = (site / endpoint_path(HOSTILE_ENDPOINT)).read_text()
    assert "&lt;script&gt;alert(&#34;function&#34;)&lt;/script&gt;" in section(endpoint,
                                                                           "profile")
    assert "could not be drawn" not in endpoint  # mathtext in a function name is drawn as text
    tests = (site / "tests.html").read_text()
    assert "test_&lt;script&gt;alert(&#34;test&#34;)&lt;/script&gt;" in tests
    assert HOSTILE_TEST not in tests


def test_tests_page_shows_runs_verdicts_history_and_the_map(site: Path,
                                                            store: SyntheticStore) -> None:
    text = (site / "tests.html").read_text()
    tables = parse_tables(text)
    with open_source(str(store.database)) as con:
        runs = bench.runs(con)
        verdicts = {v["name"]: v for v in bench.verdicts(con, runs[0]["run_id"])
                    if v["kind"] == "endpoint"}
        medians = bench.endpoint_medians(con, runs[0]["run_id"])
    listed = table_with(tables, "Started", "Commit", "Machine")
    assert len(listed.rows) == len(runs) == 3
    assert column(listed, "Regressions")[0][0] == "1"
    endpoints = table_with(tables, "Endpoint", "Verdict", "Hits per round")
    by_name = {row[0][1]: row for row in endpoints.rows}
    assert set(by_name) == {m["endpoint"] for m in medians}
    slower = by_name["api.view_00"]
    assert slower[endpoints.headers.index("Verdict")][0] == "regression"
    assert float(slower[endpoints.headers.index("Ratio")][1]) == verdicts["api.view_00"]["ratio"]
    assert float(slower[endpoints.headers.index("Median ms")][1]) == next(
        m["median_ms"] for m in medians if m["endpoint"] == "api.view_00")
    assert by_name["search.view_03"][endpoints.headers.index("Verdict")][0] == "ok"
    mapping = table_with(tables, "Test", "Requests per round")
    assert {row[1][0] for row in mapping.rows} == {"api.view_00", "search.view_03"}
    assert len(images_of(site, "tests.html", text)) == 2  # verdict ratios, history


def test_pages_without_data_are_left_out(tmp_path: Path) -> None:
    plain = write_synthetic_store(tmp_path / "plain.duckdb", requests=400, endpoints=2,
                                  unused=0, days=2, versions=1, end=time.time())
    out = tmp_path / "site"
    assert report_main(["--db", str(plain.database), "--out", str(out), "--jobs", "1"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        ".fmd_profiler-report", "charts", "endpoints", "index.html", "static", "summary.json"]
    overview = (out / "index.html").read_text()
    for title in ("Versions", "Outliers", "Tests"):
        assert f">{title}</a>" not in overview
    page = (out / endpoint_path(plain.endpoints[0])).read_text()
    assert section(page, "profile") == "" and section(page, "slow") == ""
    assert "Where the time goes" not in page


def test_long_endpoint_names_keep_their_hash_suffix() -> None:
    first, second = "a" * 130 + "_one", "a" * 130 + "_two"
    names = {endpoint_file_name(first), endpoint_file_name(second)}
    assert len(names) == 2
    for name in names:
        assert len(name) <= 130 and name.endswith(".folded")
    assert endpoint_file_name("index") == "index.folded"
    assert endpoint_file_name("\ud800") != endpoint_file_name("\udfff")
