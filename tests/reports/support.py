"""Helpers of the report tests: hostile rows, and a small parser for the tables of a page."""

from __future__ import annotations

import html.parser
from dataclasses import dataclass
from pathlib import Path

from fmd_profiler.schema import REQUESTS
from fmd_profiler.store import SegmentWriter, StoreLocation

HOSTILE_ENDPOINT = '<script>alert("endpoint")</script>'
HOSTILE_RULE = '/x/<script>alert("rule")</script>'
HOSTILE_USERS = ('<img src=x onerror=alert("user")>', "$\\frac{1}{0}$ mathtext")
HOSTILE_IP = '"><script>alert("ip")</script>'
HOSTILE_EXCEPTION = "<b>boom</b>"
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
    finally:
        writer.close()


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
