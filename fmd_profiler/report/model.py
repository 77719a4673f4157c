"""The records between page builders, the chart renderer and the templates.

A page builder returns a :class:`Page`: its path in the site, a template, plain data for the
template and its :class:`Section` blocks, each carrying the :class:`ChartSpec` of its charts and
the :class:`Download` files it links to (profile exports). A
chart spec names a chart function and holds its DataFrame; its :attr:`ChartSpec.key` is a hash of
both (and of the package and chart style versions), so identical charts are drawn once and
cached images - in the dashboard's memory, or in the previous report of the same folder - stay
valid while the data is the same.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

CHART_DIR = "charts"
CHART_SUFFIXES = {"image/png": "png", "image/svg+xml": "svg"}
#: Bump when a chart's look changes, so cached images are redrawn.
STYLE_VERSION = 8


@dataclass(frozen=True)
class ChartSpec:
    """One chart: ``kind`` names a function of :mod:`fmd_profiler.report.charts`."""

    kind: str
    data: Any  # a pandas DataFrame
    title: str
    alt: str
    caption: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)
    width: float = 6.4  # inches: at 100 dpi, a half-width card of the page at natural size
    height: float = 3.2

    @cached_property
    def key(self) -> str:
        """A content hash: same chart, same data, same size -> same key."""
        import pandas as pd

        from fmd_profiler import __version__
        digest = hashlib.sha256()
        digest.update(json.dumps([__version__, STYLE_VERSION, self.kind, dict(self.options),
                                  self.width,
                                  self.height, list(map(str, self.data.columns))],
                                 sort_keys=True, default=str).encode())
        digest.update(pd.util.hash_pandas_object(self.data, index=False).values.tobytes())
        return digest.hexdigest()[:24]

    @property
    def media_type(self) -> str:
        """SVG for the kinds drawn by :mod:`~fmd_profiler.report.svg_charts`, else PNG."""
        from fmd_profiler.report.svg_charts import CHARTS as SVG_CHARTS

        return "image/svg+xml" if self.kind in SVG_CHARTS else "image/png"

    @property
    def filename(self) -> str:
        return f"{CHART_DIR}/{self.key}.{CHART_SUFFIXES[self.media_type]}"


@dataclass(frozen=True)
class Download:
    """A file the site carries beside its pages; ``path`` is relative to the site root."""

    path: str
    data: bytes
    media_type: str


@dataclass(frozen=True)
class Section:
    """A block of a page: rendered by ``templates/<template>`` with ``context``.

    Pages show a section only when a builder returned one, so a section exists only when it
    has data; other features (the profiler, outliers) plug in as more section builders.
    """

    key: str
    title: str
    template: str
    context: Mapping[str, Any] = field(default_factory=dict)
    charts: tuple[ChartSpec, ...] = ()
    downloads: tuple[Download, ...] = ()


@dataclass(frozen=True)
class NavLink:
    title: str
    path: str


@dataclass(frozen=True)
class Page:
    """One HTML page of the site; ``path`` is relative to the site root (``index.html``)."""

    path: str
    title: str
    template: str
    context: Mapping[str, Any] = field(default_factory=dict)
    sections: tuple[Section, ...] = ()
    charts: tuple[ChartSpec, ...] = ()

    @property
    def root(self) -> str:
        """The relative prefix from this page back to the site root ('' or '../')."""
        return "../" * self.path.count("/")

    def all_charts(self) -> list[ChartSpec]:
        return [*self.charts, *(c for s in self.sections for c in s.charts)]

    def all_downloads(self) -> list[Download]:
        return [d for s in self.sections for d in s.downloads]
