"""Helpers of the report tests: hostile rows, benchmark runs, and a small parser for the tables
of a page."""

from __future__ import annotations

import html.parser
from dataclasses import dataclass
from pathlib import Path

from fmd_profiler.benchmark.storage import store_payload
from fmd_profiler.demo.profile_rows import DISPATCH, Outlier, ProfileRows, make_frame
from fmd_profiler.profiling.redact import REDACTED
from fmd_profiler.schema import REQUESTS
from fmd_profiler.store import Database, SegmentWriter, StoreLocation
from tests.benchmark.test_storage import run_payload

HOSTILE_ENDPOINT = '<script>alert("endpoint")</script>'
HOSTILE_RULE = '/x/<script>alert("rule")</script>'
HOSTILE_USERS = ('<img src=x onerror=alert("user")>', "$\\frac{1}{0}$ mathtext")
HOSTILE_IP = '"><script>alert("ip")</script>'
HOSTILE_EXCEPTION = "<b>boom</b>"
HOSTILE_FUNCTION = 'app.views:<script>alert("function")</script>'
HOSTILE_FILE = '/srv/<img src=x onerror=alert("file")>.py'
HOSTILE_URL = '/x/<script>alert("url")</script>?q=<img src=x onerror=alert("arg")>'
HOSTILE_HEADER = '<script>alert("header")</script>'
HOSTILE_TEST = 'tests/test_x.py::test_<script>alert("test")</script>'
HOSTILE_REQUEST_ID = "hostile-outlier-1"
SCRIPT_MARKERS = ('<script>alert', '<img src=x', '<b>boom')


def write_hostile_rows(database: Path, end: float, count: int = 40) -> None:
    """Requests whose every attacker-controlled text tries to become markup."""
    rows = []
    for i in range(count):
        rows.append((HOSTILE_ENDPOINT, HOSTILE_RULE, "GET", 500 if i % 10 == 0 else 200,
                     1.0 + i, 0.5, end - 3600 * (i % 30), f"v<{i % 2}>",
                     HOSTILE_USERS[i % 2], HOSTILE_IP if i % 2 else "10.9.9.9",
                     HOSTILE_EXCEPTION if i % 10 == 0 else None, None))
    writer = SegmentWriter(StoreLocation(database), host="hostile", pid=2)
    try:
        writer.write(REQUESTS, rows)
        hostile_profile(end).write(writer)
    finally:
        writer.close()


def hostile_profile(end: float) -> ProfileRows:
    """Stacks, an outlier and a detailed profile whose names, paths, URL and headers try to
    become markup (or matplotlib mathtext), for the hostile endpoint."""
    view = make_frame(HOSTILE_FUNCTION, HOSTILE_FILE, 3)
    mathtext = make_frame("app.views:$\\frac{1}{0}$", HOSTILE_FILE, 9)
    stacks = [([DISPATCH, view], 30.0), ([DISPATCH, view, mathtext], 70.0)]
    profile = ProfileRows()
    bucket = end - end % 60 - 3600
    profile.add_samples(HOSTILE_ENDPOINT, "v<0>", bucket, stacks)
    profile.add_requests(HOSTILE_ENDPOINT, "v<0>", bucket, 10, 100.0)
    profile.add_outlier(Outlier(
        HOSTILE_REQUEST_ID, HOSTILE_ENDPOINT, "v<0>", end - 1800, 95.0, 40.0, 10.0, 25.0, "GET",
        HOSTILE_URL, {"q": '<img src=x onerror=alert("arg")>', "token": REDACTED},
        {"User-Agent": HOSTILE_HEADER, "Authorization": REDACTED}), stacks)
    profile.add_request_profile("hostile-detail-1", "detail", HOSTILE_ENDPOINT, "v<1>",
                                end - 900, 12.0, stacks)
    return profile


#: Benchmark runs of the session store: (run id, commit, per-round endpoint medians).
BENCH_RUNS = (("run-1", 0, 10.0), ("run-2", 1, 10.2), ("run-3", 2, 14.0))


def write_benchmark_runs(database: Path, end: float) -> None:
    """Three runs of one branch, stored as the harness stores them; the last one is 40 %
    slower on one endpoint, so its verdict against the run before is a regression."""
    for run_id, n, ms in BENCH_RUNS:
        rounds = 8
        payload = run_payload(
            run_id, started_at=end - 3600 * (3 - n), rounds=rounds,
            test_ms={HOSTILE_TEST: [2.0 + 0.01 * r for r in range(rounds)],
                     "tests/test_api.py::test_list": [5.0 + 0.01 * r for r in range(rounds)]},
            endpoint_ms={"api.view_00": [ms + 0.01 * r for r in range(rounds)],
                         "search.view_03": [3.0 + 0.01 * r for r in range(rounds)]})
        store_payload(Database(StoreLocation(database)), payload)


@dataclass
class Table:
    headers: list[str]
    rows: list[list[tuple[str, str | None]]]  # (text, data-sort) per cell


class TableParser(html.parser.HTMLParser):
    """The tables of a page, cell texts and data-sort attributes (enough to check figures)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[Table] = []
        self._cell: list[str] | None = None
        self._sort: str | None = None
        self._row: list[tuple[str, str | None]] | None = None
        self._in_head = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append(Table([], []))
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
            self._sort = dict(attrs).get("data-sort")

    def handle_endtag(self, tag: str) -> None:
        if tag == "thead":
            self._in_head = False
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append((" ".join("".join(self._cell).split()), self._sort))
            self._cell = None
        elif tag == "tr" and self._row is not None and self.tables:
            table = self.tables[-1]
            if self._in_head:
                table.headers = [text for text, _ in self._row]
            else:
                table.rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parse_tables(text: str) -> list[Table]:
    parser = TableParser()
    parser.feed(text)
    return parser.tables
