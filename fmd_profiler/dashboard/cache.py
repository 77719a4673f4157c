"""Built dashboard pages, reused while the store has not changed (or for a few seconds).

A page is rebuilt only when the store's data version changed: the database file, the pending
spool segments or the level overrides (in fleet mode: the lake's snapshot id, see
:mod:`fmd_profiler.dashboard.source`). Under live traffic new segments arrive every second, so
a page younger than :data:`FRESH_FOR_S` is reused anyway; the footer says how old it is.
Charts are cached by content, so a rebuilt page redraws only the charts whose data changed.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from fmd_profiler.report.model import NavLink, Page
from fmd_profiler.schema import SEGMENT_TABLES
from fmd_profiler.store import StoreLocation

#: A page at most this old is served even if new data arrived since.
FRESH_FOR_S = 10.0
MAX_PAGES = 256


def data_version(location: StoreLocation) -> tuple[object, ...]:
    """Changes whenever what a read session would see changes."""
    parts: list[object] = []
    for path in (location.database, location.levels_path):
        try:
            stat = path.stat()
            parts.append((stat.st_mtime_ns, stat.st_size))
        except OSError:
            parts.append(None)
    for table in SEGMENT_TABLES:
        pending = location.pending_segments(table)
        parts.append((len(pending), pending[-1].name if pending else None))
    return tuple(parts)


@dataclass(frozen=True)
class BuiltPage:
    page: Page
    nav: tuple[NavLink, ...]
    version: tuple[object, ...]
    built_at: float  # time.time()
    built_mono: float


class PageCache:
    """Page models by path; :meth:`get` builds under a lock so one page is built once."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._pages: OrderedDict[str, BuiltPage] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: str, version: tuple[object, ...],
            build: Callable[[], tuple[Page, tuple[NavLink, ...]] | None]) -> BuiltPage | None:
        with self._lock:
            cached = self._pages.get(path)
            now = self._clock()
            if cached is not None and (cached.version == version
                                       or now - cached.built_mono < FRESH_FOR_S):
                self._pages.move_to_end(path)
                return cached
            built = build()
            if built is None:
                self._pages.pop(path, None)
                return None
            page, nav = built
            entry = BuiltPage(page, nav, version, time.time(), now)
            self._pages[path] = entry
            while len(self._pages) > MAX_PAGES:
                self._pages.popitem(last=False)
            return entry

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()
