"""Charts: pure functions from a query's DataFrame to a plotnine ``ggplot``, and PNG rendering.

The only module that imports plotnine. Every chart function has the signature
``chart(data, **options) -> ggplot`` and is registered in :data:`CHARTS` by name, so a chart can
be described by a small picklable :class:`~fmd_profiler.report.model.ChartSpec` and drawn in
another process. The overview's charts and the box plots are SVG, drawn without plotnine
(:mod:`fmd_profiler.report.svg_charts`).
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd
from plotnine import (
    aes,
    coord_flip,
    element_blank,
    element_line,
    element_rect,
    element_text,
    facet_grid,
    facet_wrap,
    geom_col,
    geom_hline,
    geom_line,
    geom_point,
    geom_rect,
    geom_segment,
    geom_text,
    geom_tile,
    geom_vline,
    ggplot,
    labs,
    scale_color_manual,
    scale_fill_gradient,
    scale_fill_gradient2,
    scale_fill_manual,
    scale_linetype_manual,
    scale_shape_manual,
    scale_size_area,
    scale_x_continuous,
    scale_x_datetime,
    scale_x_log10,
    scale_y_continuous,
    theme,
    theme_minimal,
)
from plotnine.exceptions import PlotnineWarning

from fmd_profiler.report.flame_data import OTHER_COLOR, PACKAGE_COLORS, package_of
from fmd_profiler.report.svg_charts import ACCENT, DPI, GRID, HIGH, LOW, MAX_LABEL, TEXT
from fmd_profiler.report.svg_charts import label as shorten

log = logging.getLogger("fmd_profiler")

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
STATUS_COLORS = {"2xx": "#3d9a50", "3xx": "#4b7fc4", "4xx": "#e0a030", "5xx": "#d04a3a",
                 "other": "#999999"}
DURATION_PANEL = "duration (ms)"
REQUESTS_PANEL = "requests"


def label(text: object) -> str:
    """A category label safe for matplotlib: '$' would start mathtext; long names are cut."""
    return shorten(text, MAX_LABEL).replace("$", r"\$")


def _theme(legend: bool = True) -> Any:
    return (theme_minimal(base_size=10)
            + theme(text=element_text(color=TEXT), panel_grid_minor=element_blank(),
                    panel_grid_major=element_line(color=GRID, size=0.5),
                    plot_background=element_rect(fill="white", color="white"),
                    legend_position="right" if legend else "none",
                    legend_title=element_blank(), legend_key_size=10,
                    plot_title=element_text(size=11, weight="bold")))


def _plot(plot: ggplot, parts: list[Any]) -> ggplot:
    """Add ``parts`` in place: ``plot + part`` deep-copies the plot (and its data) every time."""
    plot += parts
    return plot


def _category(values: pd.Series, order: list[str]) -> pd.Categorical:
    return pd.Categorical(values, categories=order, ordered=True)


# -- one endpoint --------------------------------------------------------------------------------

def duration_over_time(data: pd.DataFrame, unit: str = "day") -> ggplot:
    """Two panels on one time axis: p50 (solid) and p95 (dashed) of duration per bucket, and
    the requests per bucket stacked by status class (``2xx`` ... ``other`` columns).

    One figure instead of two charts: latency and load line up, and plotnine's fixed cost per
    figure is paid once. Line types instead of a legend (a legend has a drawing cost of its
    own; the title names the lines); the status legend only when there is more than one class.
    """
    bucket = pd.to_datetime(data["bucket"])
    lines = (data.assign(bucket=bucket)
             .melt(id_vars=["bucket"], value_vars=["p50", "p95"], var_name="quantile",
                   value_name="value")
             .assign(panel=DURATION_PANEL))
    classes = [c for c in STATUS_COLORS if c in data and data[c].sum() > 0]
    bars = (data.assign(bucket=bucket)
            .melt(id_vars=["bucket"], value_vars=classes, var_name="cls", value_name="value")
            .assign(panel=REQUESTS_PANEL))
    bars = bars[bars["value"] > 0].assign(cls=lambda b: _category(b["cls"], classes))
    panels = [DURATION_PANEL, REQUESTS_PANEL]
    lines = lines.assign(panel=_category(lines["panel"], panels))
    bars = bars.assign(panel=_category(bars["panel"], panels))
    chart = _plot(ggplot(mapping=aes("bucket", "value")), [
        geom_col(bars, aes(fill="cls")),
        scale_fill_manual(values=STATUS_COLORS, limits=classes,
                          guide=None if len(classes) < 2 else "legend"),
        scale_linetype_manual(values={"p50": "solid", "p95": "dashed"}, guide=None),
        scale_x_datetime(date_labels="%b %d %H:00" if unit == "hour" else "%b %d"),
        facet_grid("panel ~ .", scales="free_y"),
        labs(x="", y=""),
        _theme(),
        theme(strip_text_y=element_text(angle=-90, size=8.5)),
    ])
    if len(data) >= 2:  # a line needs two points
        chart += geom_line(lines, aes(linetype="quantile"), color=ACCENT, size=0.9)
    if len(data) <= 60:
        chart += geom_point(lines, aes(shape="quantile"), color=ACCENT, size=1.4)
        chart += scale_shape_manual(values={"p50": "o", "p95": "s"}, guide=None)
    return chart


def weekday_hour_heatmap(data: pd.DataFrame) -> ggplot:
    """Tiles: requests per weekday (y) and hour (x), darker = busier.

    No colour bar (it costs a quarter of the chart's time): the caption gives the busiest
    tile's count, which is what the scale would say.
    """
    data = data.assign(day=_category(data["weekday"].map(lambda d: WEEKDAYS[int(d) - 1]),
                                     list(reversed(WEEKDAYS))))
    return _plot(ggplot(data, aes("hour", "day", fill="hits")), [
        geom_tile(color="white"),
        scale_fill_gradient(low=LOW, high=HIGH, guide=None),
        scale_x_continuous(breaks=[0, 3, 6, 9, 12, 15, 18, 21], limits=(-0.5, 23.5)),
        labs(x="hour of day", y=""),
        _theme(legend=False),
    ])


def ratio_heatmap(data: pd.DataFrame) -> ggplot:
    """Tiles: median after / median before per endpoint (y) and version pair (x)."""
    import numpy as np

    pairs = list(dict.fromkeys(data["pair"].map(label)))
    endpoints = sorted(set(data["endpoint"].map(label)), reverse=True)
    data = data.assign(pair=_category(data["pair"].map(label), pairs),
                       endpoint=_category(data["endpoint"].map(label), endpoints),
                       change=np.log2(data["ratio"].clip(lower=1e-6)).clip(-1.0, 1.0),
                       text=data["ratio"].map(lambda r: f"×{r:.2f}"))
    notable = data[data["verdict"].isin(["slower", "faster"])]
    return _plot(ggplot(data, aes("pair", "endpoint")), [
        geom_tile(aes(fill="change"), color="white", width=1, height=1),
        # One tile per cell, said explicitly: without it a layer sizes its tiles from the
        # spacing of its own rows, so outlines of non-adjacent tiles spanned several rows.
        geom_tile(notable, fill="none", color="#1d2127", size=0.8, width=0.94, height=0.94),
        geom_text(aes(label="text", group=1), size=7, color="#1d2127"),  # one group: faster
        scale_fill_gradient2(low="#3d9a50", mid="#f7f7f7", high="#d04a3a", midpoint=0,
                                   limits=(-1, 1), guide=None),
        labs(x="", y=""),
        _theme(legend=False),
    ])


# -- the profiler ---------------------------------------------------------------------------------

#: Flame boxes narrower than this (share of the request) are not drawn: under a pixel wide.
MIN_FLAME_WIDTH = 0.001
#: Width of one character of a 7-point label, in pixels at :data:`DPI`.
LABEL_CHAR_PX = 5.6
#: Figure width not taken by the plot panel (axis and margins), in inches.
FLAME_MARGIN_IN = 0.5


def fit_label(text: str, chars: int) -> str:
    """``text`` cut to ``chars`` characters (with an ellipsis); '' when fewer than 3 fit."""
    if chars < 3:
        return ""
    return label(shorten(text, chars))


def _percent(breaks: Any) -> list[str]:
    return [f"{b * 100:.0f} %" for b in breaks]


def _milliseconds(breaks: Any) -> list[str]:
    return [f"{b:g} ms" for b in breaks]


def flame_graph(data: pd.DataFrame, width: float = 12.8, mean_ms: float | None = None,
                max_depth: int = 40) -> ggplot:
    """Icicle flame graph: one rectangle per call-tree node, the root on top, x = share of the
    request time (or mean ms per request when ``mean_ms`` is given), colour = package.
    Deeper than ``max_depth`` levels are cut off (the exports have them).

    Labels (the qualified name, cut to fit) go on boxes wide enough to hold a few characters;
    ``width`` is the figure width in inches the labels are fitted to.
    """
    data = data[(data["width"] >= MIN_FLAME_WIDTH) & (data["depth"] < max_depth)]
    scale = mean_ms if mean_ms else 1.0
    packages = data["function"].map(package_of)
    weights = (data.assign(pkg=packages).groupby("pkg")["self_width"].sum()
               .sort_values(ascending=False, kind="stable"))
    named = list(weights.index[: len(PACKAGE_COLORS)])
    lumped = packages.where(packages.isin(named), "other")
    order = [*named, *(["other"] if (lumped == "other").any() else [])]
    palette = dict(zip(named, PACKAGE_COLORS, strict=False)) | {"other": OTHER_COLOR}
    boxes = data.assign(
        pkg=_category(lumped.map(label), [label(p) for p in order]),
        xmin=data["start"] * scale, xmax=(data["start"] + data["width"]) * scale,
        ymin=-data["depth"] - 0.92, ymax=-data["depth"].astype(float))
    panel_px = (width - FLAME_MARGIN_IN) * DPI
    chars = (data["width"] * panel_px / LABEL_CHAR_PX).astype(int) - 1
    names = data["function"].map(lambda f: f.partition(":")[2] or f)
    texts = [fit_label(name, n) for name, n in zip(names, chars, strict=True)]
    labels = boxes.assign(text=texts, x=boxes["xmin"] + 0.002 * scale, y=boxes["ymin"] + 0.46)
    labels = labels[labels["text"] != ""]
    chart = _plot(ggplot(boxes), [
        geom_rect(aes(xmin="xmin", xmax="xmax", ymin="ymin", ymax="ymax", fill="pkg"),
                  color="white", size=0.15),
        scale_fill_manual(values={label(k): v for k, v in palette.items()},
                          limits=[label(p) for p in order]),
        scale_x_continuous(expand=(0, 0), limits=(0, scale),
                           labels=_milliseconds if mean_ms else _percent),
        scale_y_continuous(breaks=[], expand=(0, 0.08)),
        labs(x="", y=""),
        _theme(),
        theme(legend_position="bottom", panel_grid_major_y=element_blank(),
              axis_title=element_blank(), legend_box_spacing=0, legend_margin=4),
    ])
    if len(labels):
        chart += geom_text(labels, aes(x="x", y="y", label="text"), ha="left", va="center",
                           size=7, color="#1d2127")
    return chart


def short_function(function: str) -> str:
    """``pkg.mod:Class.method`` -> ``mod:Class.method``: the module's last part is enough
    beside a table with the full names, and long names would be cut."""
    module, sep, qualname = function.partition(":")
    return f"{module.rpartition('.')[2]}{sep}{qualname}"


def function_changes(data: pd.DataFrame) -> ggplot:
    """Diverging bars: change of each function's time per request between two versions
    (``delta_ms``; slower to the right in red, faster to the left in green), biggest on top."""
    names = [label(short_function(f)) for f in data["function"]]
    if len(set(names)) < len(names):  # two modules' functions of one name: say which
        names = [label(f) for f in data["function"]]
    data = data.assign(
        name=_category(pd.Series(names, index=data.index), list(reversed(dict.fromkeys(names)))),
        direction=["slower" if d > 0 else "faster" for d in data["delta_ms"]])
    return _plot(ggplot(data, aes("name", "delta_ms", fill="direction")), [
        geom_col(width=0.7),
        geom_hline(yintercept=0, color="#8a9099", size=0.4),
        scale_fill_manual(values={"slower": "#d04a3a", "faster": "#3d9a50"}, guide=None),
        coord_flip(),
        labs(x="", y="change in ms per request"),
        _theme(legend=False),
    ])


def outlier_timeline(data: pd.DataFrame, colors: Mapping[str, str] | None = None) -> ggplot:
    """Dots: each outlier at its time (x) on its endpoint's row (y); the dot's area is how many
    times slower than the endpoint's median it was (``ratio``)."""
    endpoints = list(dict.fromkeys(data["endpoint"].map(label)))
    data = data.assign(endpoint=_category(data["endpoint"].map(label), list(reversed(endpoints))),
                       started_at=pd.to_datetime(data["started_at"]))
    palette = {label(k): v for k, v in (colors or {}).items()}
    return _plot(ggplot(data, aes("started_at", "endpoint", size="ratio", color="endpoint")), [
        geom_point(alpha=0.7),
        scale_color_manual(values={e: palette.get(e, ACCENT) for e in endpoints}, guide=None),
        scale_size_area(max_size=6, name="× median"),
        scale_x_datetime(date_labels="%b %d"),
        labs(x="", y=""),
        _theme(),
    ])


# -- the benchmark harness ------------------------------------------------------------------------

def run_history(data: pd.DataFrame) -> ggplot:
    """Small multiples: an endpoint's (or test's) median per benchmark run, oldest run first;
    runs the harness flagged as regressions are red."""
    order = list(dict.fromkeys(data["name"].map(label)))
    data = data.assign(name=_category(data["name"].map(label), order),
                       flag=data["regression"].map(lambda r: "regression" if r else "ok"))
    runs = data[["run", "commit"]].drop_duplicates().sort_values("run")
    step = max(1, len(runs) // 6)
    shown = runs.iloc[::step]
    chart = _plot(ggplot(data, aes("run", "median_ms")), [
        geom_point(aes(color="flag"), size=1.6),
        scale_color_manual(values={"ok": ACCENT, "regression": "#d04a3a",
                                   "inconclusive": "#c98a1b"}, guide=None),
        scale_x_continuous(breaks=shown["run"].tolist(),
                           labels=[label(c) for c in shown["commit"]]),
        facet_wrap("name", scales="free_y", ncol=min(3, len(order))),
        labs(x="", y="median ms"),
        _theme(legend=False),
        theme(axis_text_x=element_text(size=7), strip_text=element_text(size=8, ha="left")),
    ])
    if data["run"].nunique() >= 2:
        chart += geom_line(aes(group="name"), color=ACCENT, size=0.6)
    return chart


def verdict_ratios(data: pd.DataFrame) -> ggplot:
    """Ratio of medians (head / baseline) with its confidence interval per endpoint or test,
    largest on top; regressions red, inconclusive ones amber (they are not an ok). Log scale: ×2
    and ×0.5 are equally far from ×1."""
    names = list(dict.fromkeys(data["name"].map(label)))
    data = data.assign(name=_category(data["name"].map(label), list(reversed(names))),
                       flag=data["verdict"].map(
                           lambda v: v if v in ("regression", "inconclusive") else "ok"))
    return _plot(ggplot(data, aes(y="name")), [
        geom_vline(xintercept=1.0, color="#8a9099", size=0.4),
        geom_segment(aes(x="ci_low", xend="ci_high", yend="name", color="flag"), size=0.8),
        geom_point(aes(x="ratio", color="flag"), size=2),
        scale_color_manual(values={"ok": ACCENT, "regression": "#d04a3a",
                                   "inconclusive": "#c98a1b"}, guide=None),
        scale_x_log10(),
        labs(x="median after / median before (log scale), 95 % interval", y=""),
        _theme(legend=False),
    ])


#: name -> chart function; a ChartSpec names its chart by key so it can cross processes.
CHARTS: dict[str, Callable[..., ggplot]] = {
    "duration_over_time": duration_over_time,
    "weekday_hour_heatmap": weekday_hour_heatmap,
    "ratio_heatmap": ratio_heatmap,
    "flame_graph": flame_graph,
    "function_changes": function_changes,
    "outlier_timeline": outlier_timeline,
    "run_history": run_history,
    "verdict_ratios": verdict_ratios,
}


def warm_up() -> None:
    """Draw a small chart and throw it away: a process's first drawing loads the fonts and
    fills matplotlib's and plotnine's caches, which the first real chart should not wait for."""
    data = pd.DataFrame({"function": ["a", "b"], "delta_ms": [1.0, -1.0]})
    render_png("function_changes", data, {}, 2.0, 1.0)


def render_png(kind: str, data: pd.DataFrame, options: Mapping[str, Any], width: float,
               height: float) -> bytes:
    """Draw chart ``kind`` to PNG bytes (``width``/``height`` in inches at :data:`DPI`)."""
    plot = CHARTS[kind](data, **options)
    buffer = io.BytesIO()
    with warnings.catch_warnings(record=True) as caught:
        # A cosmetic plotnine warning must not cost a page (pytest and some servers turn
        # warnings into errors); it is logged instead.
        warnings.simplefilter("always", PlotnineWarning)
        plot.save(buffer, format="png", width=width, height=height, dpi=DPI, verbose=False)
    for warning in caught:
        log.info("fmd_profiler: chart %s: %s", kind, warning.message)
    return buffer.getvalue()
