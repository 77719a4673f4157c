"""The static report, end to end: query every page, draw every chart, write the site.

Pages are built while the read session is open (they hold small DataFrames, not rows); the
session is closed before charts are drawn in worker processes, so a long report never keeps the
store's readers' lock. A progress bar shows on a terminal and stays silent in CI logs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fmd_profiler.report.model import Page
from fmd_profiler.report.options import ReportOptions, utc_now
from fmd_profiler.report.pages import iter_pages, navigation
from fmd_profiler.report.render import ChartCache, ChartRenderer
from fmd_profiler.report.site import SiteContext, write_site
from fmd_profiler.report.summary import build_summary, dump_summary


@dataclass(frozen=True)
class ReportResult:
    index: Path
    pages: int
    charts: int
    failed_charts: int


def build_report(open_session: Callable[[], AbstractContextManager[Any]], options: ReportOptions,
                 out: Path, *, processes: int = 1,
                 show_progress: bool | None = None) -> ReportResult:
    """Write the site for the store behind ``open_session`` into ``out`` (atomically)."""
    show = sys.stderr.isatty() if show_progress is None else show_progress
    step = _Bar(show)
    # Unbounded: a report needs every chart at once (the dashboard's cache is bounded).
    renderer = ChartRenderer(processes=processes, cache=ChartCache(max_bytes=None))
    try:
        with renderer.drawing() as drawing:
            with open_session() as con:
                nav = navigation(con, options)
                pages: list[Page] = []
                for page in iter_pages(con, options, nav):
                    pages.append(page)
                    drawing.submit(page.all_charts())  # drawn while later pages query
                    step(1, 1)
                summary = build_summary(con, options.window)
            specs = [spec for page in pages for spec in page.all_charts()]
            step(0, len({s.key for s in specs}) + len(pages))  # charts, then writing
            drawing.wait(progress=lambda n: step(n, 0))
        pngs = renderer.collect(specs)
        site = SiteContext(options=options, nav=nav, generated_at=utc_now())
        index = write_site(out, pages, site, pngs,
                           extra_files={"summary.json": dump_summary(summary).encode()},
                           progress=lambda n: step(n, 0))
    finally:
        step.close()
    return ReportResult(index, len(pages), len(pngs), len(renderer.failed))


class _Bar:
    def __init__(self, show: bool) -> None:
        self._bar: Any = None
        if show:
            from tqdm import tqdm

            self._bar = tqdm(total=0, desc="report", unit="step", file=sys.stderr,
                             leave=False, dynamic_ncols=True)

    def __call__(self, done: int, more_total: int) -> None:
        if self._bar is None:
            return
        if more_total:
            self._bar.total += more_total
            self._bar.refresh()
        if done:
            self._bar.update(done)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
