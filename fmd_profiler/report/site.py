"""HTML: Jinja2 templates (autoescaped) over page models, and the static site written atomically.

Templates get plain data (:class:`~fmd_profiler.report.model.Page`) plus a :class:`SiteContext`
shared by every page; everything is escaped by default because endpoint names, user ids and
URLs come from outside. The site is built in a temporary folder beside ``out`` and swapped in
only when complete, so a half-written report never replaces a good one. Pages link relatively
(``charts/``, ``static/``, ``endpoints/``) and use no CDN: they work from ``file://`` and, with
the same paths, at the dashboard's URL.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from fmd_profiler.errors import ProfilerError
from fmd_profiler.report.model import NavLink, Page
from fmd_profiler.report.options import ReportOptions
from fmd_profiler.report.pages.paths import endpoint_path

#: A file in every report folder: only folders holding it (or empty ones) are ever replaced.
MARKER = ".fmd_profiler-report"
STATIC_FILES = ("style.css", "sortable.js", "flame.js")


@dataclass(frozen=True)
class SiteContext:
    """What every page shows besides its own data."""

    options: ReportOptions
    nav: tuple[NavLink, ...]
    generated_at: datetime  # naive UTC
    #: Set by the dashboard: {"user", "role", "csrf_token", ...}; None in a static report.
    live: Mapping[str, Any] | None = None


# -- formatting filters ---------------------------------------------------------------------------

def format_ms(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    value = float(value)
    if value < 10:
        return f"{value:.2f}"
    if value < 100:
        return f"{value:.1f}"
    return f"{value:,.0f}"


def format_count(value: Any) -> str:
    return "–" if value is None else f"{int(value):,}"


def format_pct(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value * 100:.1f} %" if value >= 0.001 or value == 0 else "<0.1 %"


def format_p(value: Any) -> str:
    if value is None:
        return "–"
    return "<0.0001" if value < 0.0001 else f"{value:.4f}"


def format_ratio(value: Any) -> str:
    return "–" if value is None else f"×{value:.2f}"


def sort_key(value: Any) -> str:
    """The ``data-sort`` attribute of a table cell: numbers and times sort as such in JS."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


@jinja2.pass_context
def format_local(context: Any, value: datetime | None) -> str:
    """A stored naive-UTC time shown in the report's time zone."""
    if value is None:
        return "never"
    zone = ZoneInfo(context["site"].options.timezone)
    return value.replace(tzinfo=UTC).astimezone(zone).strftime("%Y-%m-%d %H:%M")


@lru_cache(maxsize=1)
def template_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("fmd_profiler.report", "templates"),
        autoescape=True,  # every template, whatever its name: the data is attacker-controlled
        undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True)
    env.filters.update(ms=format_ms, count=format_count, pct=format_pct, pvalue=format_p,
                       ratio=format_ratio, sortkey=sort_key, local=format_local,
                       endpoint_page=endpoint_path)
    return env


def render_page(page: Page, site: SiteContext, chart_files: Mapping[str, str],
                failed: Mapping[str, str] | None = None) -> str:
    """The HTML of ``page``; ``chart_files`` maps chart keys to paths relative to the root."""
    return template_env().get_template(page.template).render(
        page=page, site=site, root=page.root, charts=chart_files, failed=failed or {},
        **page.context)


def static_file(name: str) -> bytes:
    if name not in STATIC_FILES:
        raise KeyError(name)
    return resources.files("fmd_profiler.report").joinpath("static", name).read_bytes()


# -- writing the site -----------------------------------------------------------------------------

def write_site(out: Path, pages: list[Page], site: SiteContext, pngs: Mapping[str, bytes],
               extra_files: Mapping[str, bytes] | None = None,
               progress: Callable[[int], None] | None = None) -> Path:
    """Write every page, chart and asset to ``out`` atomically; returns ``out/index.html``."""

    def fill(folder: Path) -> None:
        (folder / MARKER).write_text("written by python -m fmd_profiler.report\n")
        for name in STATIC_FILES:
            _write(folder / "static" / name, static_file(name))
        chart_files: dict[str, str] = {}
        for page in pages:
            for spec in page.all_charts():
                png = pngs.get(spec.key)
                if png is not None and spec.key not in chart_files:
                    _write(folder / spec.filename, png)
                    chart_files[spec.key] = spec.filename
        for page in pages:
            _write(folder / page.path, render_page(page, site, chart_files).encode("utf-8"))
            for download in page.all_downloads():
                _write(folder / download.path, download.data)
            if progress:
                progress(1)
        for name, data in (extra_files or {}).items():
            _write(folder / name, data)

    replace_folder(out, fill)
    return out / "index.html"


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def replace_folder(out: Path, fill: Callable[[Path], None]) -> None:
    """Build ``out`` in a temporary sibling with ``fill``, then swap it in."""
    out = out.absolute()
    check_replaceable(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        fill(temp)
        temp.chmod(0o755)  # mkdtemp makes it private; a report is meant to be shared
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(out, old)
            os.replace(temp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(temp, out)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def check_replaceable(out: Path) -> None:
    """Refuse (before any work) to replace a folder that is not an earlier report."""
    if out.exists() and not _replaceable(out):
        raise ProfilerError(f"{out} exists and is not a report folder; choose another --out "
                            "(an empty folder or one written by an earlier report)")


def _replaceable(folder: Path) -> bool:
    if not folder.is_dir():
        return False
    return (folder / MARKER).exists() or not any(folder.iterdir())
