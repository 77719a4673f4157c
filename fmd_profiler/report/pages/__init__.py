"""The pages of a report: which exist for the data at hand, and how to build each one.

The site is the overview, one page per endpoint, the pages of :data:`SITE_PAGES` that have
data (each kind says so through its ``available`` check) and one page per profiled request that
other pages link to. The static report builds them all; the dashboard builds the one page a
request asks for, by its path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from fmd_profiler.queries import profile_queries
from fmd_profiler.report.exports import endpoint_file_name, speedscope_file_name
from fmd_profiler.report.model import ChartSpec, NavLink, Page
from fmd_profiler.report.options import ReportOptions
from fmd_profiler.report.pages.endpoint import build_endpoint
from fmd_profiler.report.pages.errors_page import build_errors, has_errors_page
from fmd_profiler.report.pages.outliers_page import build_outliers, has_outliers_page
from fmd_profiler.report.pages.overview import build_overview, endpoint_rows
from fmd_profiler.report.pages.paths import (
    ERRORS,
    INDEX,
    OUTLIERS,
    PROFILE_DIR,
    REQUEST_DIR,
    TESTS,
    VERSIONS,
    endpoint_path,
)
from fmd_profiler.report.pages.requests_page import build_requests, request_refs
from fmd_profiler.report.pages.tests import build_tests, has_tests_page
from fmd_profiler.report.pages.versions import build_versions, has_versions_page


@dataclass(frozen=True)
class PageKind:
    """A page beyond the overview and endpoint pages, shown only when ``available``."""

    title: str
    path: str
    available: Callable[[Any, ReportOptions], bool]
    build: Callable[[Any, ReportOptions], Page]


#: Request pages built together (a few queries for each batch).
REQUEST_BATCH = 200

#: In navigation order.
SITE_PAGES: tuple[PageKind, ...] = (
    PageKind("Versions", VERSIONS, has_versions_page, build_versions),
    PageKind("Outliers", OUTLIERS, has_outliers_page, build_outliers),
    PageKind("Errors", ERRORS, has_errors_page, build_errors),
    PageKind("Tests", TESTS, has_tests_page, build_tests),
)


def navigation(con: Any, options: ReportOptions) -> tuple[NavLink, ...]:
    return (NavLink("Overview", INDEX),
            *(NavLink(k.title, k.path) for k in SITE_PAGES if k.available(con, options)))


def iter_pages(con: Any, options: ReportOptions,
               nav: tuple[NavLink, ...]) -> Iterator[Page]:
    """Every page of the site (overview first), built one at a time."""
    overview = build_overview(con, options)
    yield overview
    for row in overview.context["endpoints"]:
        yield build_endpoint(con, options, row)
    present = {link.path for link in nav}
    for kind in SITE_PAGES:
        if kind.path in present:
            yield kind.build(con, options)
    refs = request_refs(con, options)
    for start in range(0, len(refs), REQUEST_BATCH):
        yield from build_requests(con, options, refs[start:start + REQUEST_BATCH])


def download_page(con: Any, options: ReportOptions, path: str) -> str | None:
    """The path of the page whose section carries the download at ``path`` (a profile export
    of an endpoint), or None."""
    if not path.startswith(PROFILE_DIR + "/"):
        return None
    name = path.removeprefix(PROFILE_DIR + "/")
    for row in profile_queries.profiled_endpoints(con, options.window):
        endpoint = row["endpoint"]
        if name in (endpoint_file_name(endpoint), speedscope_file_name(endpoint)) and (
                options.endpoints is None or endpoint in options.endpoints):
            return endpoint_path(endpoint)
    return None


def build_page(con: Any, options: ReportOptions, path: str,
               ahead: Callable[[Sequence[ChartSpec]], None] | None = None) -> Page | None:
    """The page at ``path`` (as in the static site), or None when there is no such page.
    ``ahead``: given the charts whose data is ready while the page still queries (the
    overview's), to start drawing them."""
    if path == INDEX:
        return build_overview(con, options, ahead)
    for kind in SITE_PAGES:
        if path == kind.path:
            return kind.build(con, options) if kind.available(con, options) else None
    if path.startswith(REQUEST_DIR + "/"):
        found = [r for r in request_refs(con, options) if r.path == path][:1]
        return next(iter(build_requests(con, options, found)), None)
    for row in endpoint_rows(con, options):
        if row["path"] == path:
            return build_endpoint(con, options, row)
    return None


__all__ = ["SITE_PAGES", "PageKind", "build_page", "download_page", "iter_pages", "navigation"]
