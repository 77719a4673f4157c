"""The overview's charts and every box plot, drawn as SVG by plain Python.

The overview is the page everybody opens first, and in a fresh dashboard process importing
plotnine (with matplotlib and scipy) and drawing its four charts cost more CPU than the page's own
queries. These chart kinds need only rectangles, lines and text, so they are written here as SVG:
nothing to import, a few milliseconds to draw, sharp at any zoom. Every other chart stays with
plotnine (:mod:`fmd_profiler.report.charts`), which takes its colours, sizes and label cutting
from here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape, quoteattr

# The look every chart shares, the plotnine ones (report.charts) included.
DPI = 100  # chart sizes are in inches
MAX_LEGEND_ENTRIES = 12
MAX_LABEL = 42
ACCENT = "#2f6fb0"
GRID = "#e6e8eb"
TEXT = "#333840"
LOW, HIGH = "#eef4fb", "#0b4f8a"  # the heatmaps' colour scale
OTHER = "#c8ccd2"
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
TICK_PX = 11  # tick labels
LABEL_PX = 12  # axis titles and legends
CHAR_W = 0.62  # a character's width as a share of the font size (DejaVu Sans, on average)
#: A duration is never drawn below this on the log scale.
MIN_MS = 0.001


def label(text: object, chars: int = MAX_LABEL) -> str:
    """``text`` cut to ``chars`` characters, the last an ellipsis."""
    value = str(text)
    return value if len(value) <= chars else value[: chars - 1] + "…"


def _text_w(text: str, size: float = TICK_PX) -> float:
    return len(text) * size * CHAR_W


class Svg:
    """An SVG document built element by element; coordinates in pixels, y downwards."""

    def __init__(self, width: float, height: float) -> None:
        self.width, self.height = width, height
        self.parts: list[str] = []

    def rect(self, x: float, y: float, w: float, h: float, fill: str, **attrs: Any) -> None:
        self._element("rect", x=x, y=y, width=max(w, 0.0), height=max(h, 0.0), fill=fill,
                      **attrs)

    def line(self, x1: float, y1: float, x2: float, y2: float, stroke: str,
             width: float = 1.0) -> None:
        self._element("line", x1=x1, y1=y1, x2=x2, y2=y2, stroke=stroke, stroke_width=width)

    def text(self, x: float, y: float, content: str, size: float = TICK_PX,
             anchor: str = "start", **attrs: Any) -> None:
        self._element("text", escape(content), x=x, y=y, font_size=size, text_anchor=anchor,
                      **attrs)

    def raw(self, markup: str) -> None:
        self.parts.append(markup)

    def _element(self, name: str, content: str | None = None, **attrs: Any) -> None:
        fields = " ".join(f"{key.replace('_', '-')}={quoteattr(_number(value))}"
                          for key, value in attrs.items() if value is not None)
        self.parts.append(f"<{name} {fields}/>" if content is None
                          else f"<{name} {fields}>{content}</{name}>")

    def to_bytes(self) -> bytes:
        w, h = _number(self.width), _number(self.height)
        head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
                f'viewBox="0 0 {w} {h}" font-family={quoteattr(FONT)} fill="{TEXT}">'
                f'<rect width="100%" height="100%" fill="white"/>')
        return (head + "".join(self.parts) + "</svg>").encode("utf-8")


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return str(value)


# -- scales ----------------------------------------------------------------------------------------

def nice_ticks(high: float, count: int = 5) -> list[float]:
    """0 and round steps up to at least ``high`` (1, 2, 2.5 or 5 times a power of ten)."""
    if high <= 0:
        return [0.0, 1.0]
    raw = high / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    return [i * step for i in range(math.ceil(high / step - 1e-9) + 1)]


def log_ticks(low: float, high: float) -> list[float]:
    """Powers of ten within [low, high]; with 2 and 5 times them when fewer than three fit."""
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    decades = [10.0 ** k for k in range(first, last + 1)]
    ticks = [t for t in decades if low <= t * 1.0000001 and t <= high * 1.0000001]
    if len(ticks) < 3:
        ticks = sorted(t * m for t in decades for m in (1, 2, 5)
                       if low <= t * m * 1.0000001 and t * m <= high * 1.0000001)
    return ticks


def count_label(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:g}M"
    if value >= 1e4:
        return f"{value / 1e3:g}k"
    return f"{value:,.0f}" if value == int(value) else f"{value:g}"


def ms_label(value: float) -> str:
    return f"{value:,.0f}" if value >= 1000 else f"{value:g}"


def _rgb(color: str) -> tuple[int, int, int]:
    color = color.lstrip("#")
    return int(color[0:2], 16), int(color[2:4], 16), int(color[4:6], 16)


def gradient(share: float) -> str:
    """The heatmaps' colour at ``share`` (0-1) of the way from the lowest to the highest value."""
    share = min(1.0, max(0.0, share))
    low, high = _rgb(LOW), _rgb(HIGH)
    return "#" + "".join(f"{round(a + (b - a) * share):02x}"
                         for a, b in zip(low, high, strict=True))


def _dark(color: str) -> bool:
    r, g, b = _rgb(color)
    return 0.299 * r + 0.587 * g + 0.114 * b < 140


def _legend_gradient(svg: Svg, x: float, y: float, name: str, low: float, high: float,
                     fmt: Callable[[float], str]) -> None:
    svg.text(x, y, name, LABEL_PX)
    bar_y, bar_h = y + 8, min(120.0, svg.height - y - 30)
    svg.raw(f'<defs><linearGradient id="scale" x1="0" y1="1" x2="0" y2="0">'
            f'<stop offset="0" stop-color="{LOW}"/><stop offset="1" stop-color="{HIGH}"/>'
            f'</linearGradient></defs>')
    svg.rect(x, bar_y, 14, bar_h, "url(#scale)")
    for value, at in ((high, 0.0), ((low + high) / 2, 0.5), (low, 1.0)):
        svg.text(x + 20, bar_y + at * bar_h + 4, fmt(value))


def _legend_width(name: str, labels: Iterable[str]) -> float:
    return max([_text_w(name, LABEL_PX)] + [_text_w(t) + 22 for t in labels]) + 12


def _y_axis(svg: Svg, left: float, right: float, top: float, bottom: float,
            ticks: Sequence[float], to_y: Callable[[float], float], title: str) -> None:
    for tick in ticks:
        y = to_y(tick)
        svg.line(left, y, right, y, GRID)
        svg.text(left - 5, y + 4, count_label(tick), anchor="end")
    svg.text(12, (top + bottom) / 2, title, LABEL_PX, anchor="middle",
             transform=f"rotate(-90 12 {_number((top + bottom) / 2)})")


def _day_labels(first: date, span: int, slot: float) -> list[tuple[int, str]]:
    """Which day offsets get a label: as many as fit, evenly spaced."""
    step = max(1, math.ceil(span / max(1.0, span * slot / 52)))
    return [(i, (first + timedelta(days=i)).strftime("%b %d")) for i in range(0, span, step)]


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):  # a pandas Timestamp too
        return value.date()
    return value


def _records(data: Any, *columns: str) -> list[tuple[Any, ...]]:
    return list(zip(*(data[c].tolist() for c in columns), strict=True))


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


# -- charts ---------------------------------------------------------------------------------------

def requests_per_day(data: Any, width: float, height: float,
                     colors: Mapping[str, str]) -> Svg:
    """Stacked bars: requests per day, one colour per endpoint (the busiest named, the rest
    'other'), the busiest at the bottom."""
    rows = [(_as_date(day), str(endpoint), int(hits))
            for day, endpoint, hits in _records(data, "day", "endpoint", "hits")]
    totals: dict[str, int] = {}
    for _, endpoint, hits in rows:
        totals[endpoint] = totals.get(endpoint, 0) + hits
    order = sorted(totals, key=lambda e: (-totals[e], e))
    if len(order) > MAX_LEGEND_ENTRIES:
        named = set(order[: MAX_LEGEND_ENTRIES - 1])
        rows = [(d, e if e in named else "other", h) for d, e, h in rows]
        order = [*order[: MAX_LEGEND_ENTRIES - 1], "other"]
    palette = {e: colors.get(e, OTHER) for e in order} | ({"other": OTHER}
                                                          if "other" in order else {})
    first = min(d for d, _, _ in rows)
    span = (max(d for d, _, _ in rows) - first).days + 1
    stacks: dict[int, dict[str, int]] = {}
    for day, endpoint, hits in rows:
        stack = stacks.setdefault((day - first).days, {})
        stack[endpoint] = stack.get(endpoint, 0) + hits
    ticks = nice_ticks(max(sum(s.values()) for s in stacks.values()))

    svg = Svg(width * DPI, height * DPI)
    names = [label(e, 30) for e in order]
    legend_w = _legend_width("", names)
    left = 30 + max(_text_w(count_label(t)) for t in ticks)
    right, top, bottom = svg.width - legend_w - 8, 10.0, svg.height - 26
    slot = (right - left) / span

    def to_y(value: float) -> float:
        return bottom - value / ticks[-1] * (bottom - top)

    _y_axis(svg, left, right, top, bottom, ticks, to_y, "requests")
    for offset, stack in sorted(stacks.items()):
        level = 0
        for endpoint in order:
            hits = stack.get(endpoint, 0)
            if not hits:
                continue
            y_top = to_y(level + hits)
            svg.rect(left + offset * slot + slot * 0.05, y_top, slot * 0.9,
                     to_y(level) - y_top, palette[endpoint])
            level += hits
    for offset, text in _day_labels(first, span, slot):
        svg.text(left + (offset + 0.5) * slot, bottom + 16, text, anchor="middle")
    for i, (endpoint, name) in enumerate(zip(order, names, strict=True)):
        y = top + 4 + i * 18
        svg.rect(right + 14, y, 12, 12, palette[endpoint])
        svg.text(right + 32, y + 10, name)
    return svg


def load_heatmap(data: Any, width: float, height: float) -> Svg:
    """Tiles: requests per date (x) and hour of day (y, midnight at the bottom)."""
    rows = [(_as_date(day), int(hour), int(hits))
            for day, hour, hits in _records(data, "day", "hour", "hits")]
    first = min(d for d, _, _ in rows)
    span = (max(d for d, _, _ in rows) - first).days + 1
    low, high = min(h for _, _, h in rows), max(h for _, _, h in rows)

    svg = Svg(width * DPI, height * DPI)
    legend_w = _legend_width("requests", [count_label(high)])
    left, right = 50.0, svg.width - legend_w - 8
    top, bottom = 8.0, svg.height - 26
    col, row = (right - left) / span, (bottom - top) / 24
    for day, hour, hits in rows:
        share = (hits - low) / (high - low) if high > low else 1.0
        svg.rect(left + (day - first).days * col, bottom - (hour + 1) * row, col + 0.4,
                 row + 0.4, gradient(share))
    for hour in (0, 6, 12, 18, 23):
        svg.text(left - 5, bottom - (hour + 0.5) * row + 4, str(hour), anchor="end")
    svg.text(12, (top + bottom) / 2, "hour of day", LABEL_PX, anchor="middle",
             transform=f"rotate(-90 12 {_number((top + bottom) / 2)})")
    for offset, text in _day_labels(first, span, col):
        svg.text(left + (offset + 0.5) * col, bottom + 16, text, anchor="middle")
    _legend_gradient(svg, right + 14, top + 10, "requests", low, high, count_label)
    return svg


def share_heatmap(data: Any, width: float, height: float) -> Svg:
    """Tiles: each endpoint's share (%) of a version's requests; endpoints A to Z downwards."""
    rows = [(label(v, 20), label(e), float(s) * 100)
            for v, e, s in _records(data, "version", "endpoint", "share")]
    versions = list(dict.fromkeys(v for v, _, _ in rows))
    endpoints = sorted({e for _, e, _ in rows})
    low, high = min(p for _, _, p in rows), max(p for _, _, p in rows)

    svg = Svg(width * DPI, height * DPI)
    legend_w = _legend_width("% of version", ["100.0"])
    left = 14 + max(_text_w(e) for e in endpoints)
    right = svg.width - legend_w - 8
    top, bottom = 8.0, svg.height - 40
    col, row = (right - left) / len(versions), (bottom - top) / len(endpoints)
    at_x = {v: i for i, v in enumerate(versions)}
    at_y = {e: i for i, e in enumerate(endpoints)}
    legible = len(versions) * len(endpoints) <= 200
    for version, endpoint, pct in rows:
        fill = gradient((pct - low) / (high - low) if high > low else 1.0)
        x, y = left + at_x[version] * col, top + at_y[endpoint] * row
        svg.rect(x, y, col, row, fill, stroke="white", stroke_width=1)
        if legible:
            svg.text(x + col / 2, y + row / 2 + 3.5, f"{pct:.1f}", 9.5, anchor="middle",
                     fill="white" if _dark(fill) else "#1d2127")
    for endpoint, i in at_y.items():
        svg.text(left - 5, top + (i + 0.5) * row + 4, endpoint, anchor="end")
    for version, i in at_x.items():
        svg.text(left + (i + 0.5) * col, bottom + 15, version, anchor="middle")
    svg.text((left + right) / 2, bottom + 32, "version", LABEL_PX, anchor="middle")
    _legend_gradient(svg, right + 14, top + 10, "% of version", low, high,
                     lambda v: f"{v:.0f}")
    return svg


BOX_COLUMNS = ("p05", "p25", "p50", "p75", "p95")
PANEL_GAP = 10.0


def boxes(data: Any, width: float, height: float, colors: Mapping[str, str] | None = None,
          fill: str = ACCENT) -> Svg:
    """Horizontal box plots from quantile columns p05/p25/p50/p75/p95, first row on top, on a
    log duration axis. Whiskers are the 5th and 95th percentiles; ``colors`` (group -> colour)
    overrides ``fill``. With a ``dim`` column each dimension (version, user, ...) gets a panel of
    its own, labelled on the right, on the shared axis."""
    dims = data["dim"].tolist() if "dim" in data else [None] * len(data)
    # A group without durations keeps its row and label, with no box.
    rows = [(str(grp), dim, None if any(_missing(v) for v in q)
             else [max(float(v), MIN_MS) for v in q])
            for (grp, *q), dim in zip(_records(data, "grp", *BOX_COLUMNS), dims, strict=True)]
    values = [v for _, _, q in rows if q is not None for v in q]
    low, high = (min(values), max(values)) if values else (1.0, 10.0)
    if high / low < 10:  # at least a decade, around the data
        middle = math.sqrt(low * high)
        low, high = min(low, middle / math.sqrt(10)), max(high, middle * math.sqrt(10))
    margin = (math.log10(high) - math.log10(low)) * 0.04
    log_low, log_high = math.log10(low) - margin, math.log10(high) + margin

    svg = Svg(width * DPI, height * DPI)
    names = [label(grp) for grp, _, _ in rows]
    left = min(14 + max((_text_w(n) for n in names), default=0), svg.width * 0.45)
    fits = int((left - 14) / (TICK_PX * CHAR_W) + 0.5)  # characters a label may keep
    strip = 18.0 if dims[0] is not None else 0.0
    right, top, bottom = svg.width - 12 - strip, 6.0, svg.height - 34
    panels = list(dict.fromkeys(dims))
    row_h = (bottom - top - PANEL_GAP * (len(panels) - 1)) / max(1, len(rows))

    def to_x(value: float) -> float:
        return left + (math.log10(value) - log_low) / (log_high - log_low) * (right - left)

    ticks = log_ticks(10 ** log_low, 10 ** log_high)
    for tick in ticks:
        svg.line(to_x(tick), top, to_x(tick), bottom, GRID)
        svg.text(to_x(tick), bottom + 15, ms_label(tick), anchor="middle")
    svg.text((left + right) / 2, bottom + 30, "duration (ms, log scale)", LABEL_PX,
             anchor="middle")
    y = top
    for panel in panels:
        panel_top = y
        for (grp, dim, q), name in zip(rows, names, strict=True):
            if dim != panel:
                continue
            middle = y + row_h / 2
            svg.text(left - 6, middle + 4, label(name, max(4, fits)), anchor="end")
            if q is not None:
                p05, p25, p50, p75, p95 = q
                half = min(row_h * 0.32, 12.0)
                svg.line(to_x(p05), middle, to_x(p95), middle, "#8a9099")
                svg.rect(to_x(p25), middle - half, to_x(p75) - to_x(p25), 2 * half,
                         (colors or {}).get(grp, fill), stroke="#4a4f57", stroke_width=0.6,
                         fill_opacity=0.85)
                svg.line(to_x(p50), middle - half, to_x(p50), middle + half, "#1d2127", 2.4)
            y += row_h
        if panel is not None:
            svg.rect(right + 4, panel_top, strip - 4, y - panel_top, "#eef0f3")
            svg.text(right + strip / 2 + 2, (panel_top + y) / 2, str(panel), 10,
                     anchor="middle", transform=f"rotate(90 {_number(right + strip / 2 + 2)} "
                                                f"{_number((panel_top + y) / 2)})")
        y += PANEL_GAP
    return svg


#: Chart kind -> function(data, width_px, height_px, **options) -> Svg.
CHARTS: dict[str, Callable[..., Svg]] = {
    "requests_per_day": requests_per_day,
    "load_heatmap": load_heatmap,
    "boxes": boxes,
    "share_heatmap": share_heatmap,
}


def render_svg(kind: str, data: Any, options: Mapping[str, Any], width: float,
               height: float) -> bytes:
    """Draw chart ``kind`` to SVG bytes (``width``/``height`` in inches, drawn at 100 px each)."""
    return CHARTS[kind](data, width, height, **options).to_bytes()
