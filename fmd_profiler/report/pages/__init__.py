"""The pages of a report: which exist for the data at hand, and how to build each one.

The site is the overview, one page per endpoint and the pages of :data:`SITE_PAGES` that have
data (each kind says so through its ``available`` check). The static report builds them all; the
dashboard builds the one page a request asks for, by its path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from fmd_profiler.report.model import NavLink, Page
from fmd_profiler.report.options import ReportOptions
from fmd_profiler.report.pages.endpoint import build_endpoint
from fmd_profiler.report.pages.overview import build_overview, endpoint_rows
from fmd_profiler.report.pages.paths import INDEX, VERSIONS
from fmd_profiler.report.pages.versions import build_versions, has_versions_page


@dataclass(frozen=True)
class PageKind:
    """A page beyond the overview and endpoint pages, shown only when ``available``."""

    title: str
    path: str
    available: Callable[[Any, ReportOptions], bool]
    build: Callable[[Any, ReportOptions], Page]


#: In navigation order. The outliers and tests pages plug in here.
SITE_PAGES: tuple[PageKind, ...] = (
    PageKind("Versions", VERSIONS, has_versions_page, build_versions),
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


def build_page(con: Any, options: ReportOptions, path: str) -> Page | None:
    """The page at ``path`` (as in the static site), or None when there is no such page."""
    if path == INDEX:
        return build_overview(con, options)
    for kind in SITE_PAGES:
        if path == kind.path:
            return kind.build(con, options) if kind.available(con, options) else None
    for row in endpoint_rows(con, options):
        if row["path"] == path:
            return build_endpoint(con, options, row)
    return None


__all__ = ["SITE_PAGES", "PageKind", "build_page", "iter_pages", "navigation"]
