"""Every table of a rendered dashboard page as CSV, and the links that offer it.

The CSV of a table is read from the page's own HTML, so it holds exactly the rows and columns
the table shows: a cell's ``data-sort`` value when it has one (the raw number, or the ISO time in
UTC, rather than its display form), else its text. No framework here.
"""

from __future__ import annotations

import csv
import io
import re
from html.parser import HTMLParser
from urllib.parse import quote

Table = list[list[str]]


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[Table] = []
        self._depth = 0  # nested tables are read as part of their cell's text
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._sort: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._depth += 1
            if self._depth == 1:
                self.tables.append([])
        elif self._depth == 1 and tag == "tr":
            self._row = []
        elif self._depth == 1 and tag in ("td", "th") and self._row is not None:
            self._cell = []
            self._sort = dict(attrs).get("data-sort")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._depth -= 1
        elif self._depth == 1 and tag in ("td", "th") and self._cell is not None \
                and self._row is not None:
            text = " ".join("".join(self._cell).split())
            self._row.append(self._sort if self._sort is not None else text)
            self._cell = None
        elif self._depth == 1 and tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def html_tables(html: str) -> list[Table]:
    """The top-level tables of ``html``, in document order, as rows of cell values."""
    parser = _Tables()
    parser.feed(html)
    parser.close()
    return parser.tables


def table_csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in table:
        # A cell starting with = + - @ would run as a formula in a spreadsheet.
        writer.writerow(["'" + c if c[:1] in ("=", "+", "-", "@") and not _NUMBER.match(c)
                         else c for c in row])
    return out.getvalue()


_NUMBER = re.compile(r"^[-+]?\d+(\.\d+)?([eE][-+]?\d+)?$")


def add_csv_links(html: str, csv_url: str) -> str:
    """Put a "CSV" link after each top-level table (``csv_url`` gets ``?table=N``)."""
    out = []
    depth = 0
    index = 0
    position = 0
    for match in re.finditer(r"<table\b|</table>", html):
        if match.group(0) == "</table>":
            depth -= 1
            if depth == 0:
                out.append(html[position:match.end()])
                out.append(f'<p class="csv"><a href="{csv_url}?table={index}" '
                           f'download>CSV</a></p>')
                position = match.end()
                index += 1
        else:
            depth += 1
    out.append(html[position:])
    return "".join(out)


def csv_file_name(path: str, index: int) -> str:
    stem = path.rsplit("/", 1)[-1].removesuffix(".html") or "page"
    return quote(f"{stem}-table{index + 1}.csv")
