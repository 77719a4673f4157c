"""The static report, end to end: query every page, draw every chart, write the site.

Pages are built while the read session is open (they hold small DataFrames, not rows); the
session is closed before charts are drawn in worker processes, so a long report never keeps the
store's readers' lock. Charts whose data did not change since the report already in ``out``
are taken from it instead of being drawn again (their file name is the hash of chart and data).
A progress bar shows on a terminal and stays silent in CI logs.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fmd_profiler.report.json_summary import build_summary, dump_summary
from fmd_profiler.report.model import CHART_DIR, CHART_SUFFIXES, Page
from fmd_profiler.report.options import ReportOptions, utc_now
from fmd_profiler.report.pages import iter_pages, navigation
from fmd_profiler.report.render import ChartCache, ChartRenderer
from fmd_profiler.report.site import MARKER, SiteContext, write_site


@dataclass(frozen=True)
class ReportResult:
    index: Path
    pages: int
    charts: int
    failed_charts: int
    reused_charts: int = 0  # taken from the previous report in the same folder


def build_report(open_session: Callable[[], AbstractContextManager[Any]], options: ReportOptions,
                 out: Path, *, processes: int = 1,
                 show_progress: bool | None = None) -> ReportResult:
    """Write the site for the store behind ``open_session`` into ``out`` (atomically)."""
    show = sys.stderr.isatty() if show_progress is None else show_progress
    step = _Bar(show)
    # Unbounded: a report needs every chart at once (the dashboard's cache is bounded).
    cache = ChartCache(max_bytes=None)
    previous = previous_charts(out, cache)
    renderer = ChartRenderer(processes=processes, cache=cache)
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
            to_draw = {s.key for s in specs} - previous
            step(0, len(to_draw) + len(pages))  # charts, then writing
            drawing.wait(progress=lambda n: step(n, 0))
        pngs = renderer.collect(specs)
        site = SiteContext(options=options, nav=nav, generated_at=utc_now())
        index = write_site(out, pages, site, pngs,
                           extra_files={"summary.json": dump_summary(summary).encode()},
                           progress=lambda n: step(n, 0))
    finally:
        step.close()
    return ReportResult(index, len(pages), len(pngs), len(renderer.failed),
                        len(previous & {s.key for s in specs}))


def previous_charts(out: Path, cache: ChartCache) -> set[str]:
    """Put the charts of the report already in ``out`` into ``cache``; returns their keys.

    Only a folder this module wrote (it has the report marker) is read; a chart file is named
    by its key, and the key is a hash of everything the image depends on.
    """
    folder = out / CHART_DIR
    if not (out / MARKER).is_file() or not folder.is_dir():
        return set()
    keys = set()
    for path in folder.iterdir():
        if _KEY.fullmatch(path.stem) and path.suffix[1:] in CHART_SUFFIXES.values():
            cache.put(path.stem, path.read_bytes())
            keys.add(path.stem)
    return keys


_KEY = re.compile(r"[0-9a-f]{24}")


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
