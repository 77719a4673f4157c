"""Every chart kind draws from small and edge-case data: a PNG without plotnine warnings, or an
SVG with a shape for every figure."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from fmd_profiler.report import render
from fmd_profiler.report.charts import CHARTS, ratio_heatmap, render_png
from fmd_profiler.report.model import ChartSpec
from fmd_profiler.report.render import ChartRenderer
from fmd_profiler.report.svg_charts import CHARTS as SVG_CHARTS

DAYS = [date(2026, 11, 1) + timedelta(days=i) for i in range(3)]


def frames() -> dict[str, tuple[pd.DataFrame, dict[str, object]]]:
    boxes = pd.DataFrame({"grp": ["a", "$b$", "<c>"], "hits": [5, 4, 3],
                          "p05": [0.0, 1, 2], "p25": [1, 2, 3], "p50": [2, 3, 4],
                          "p75": [3, 4, 5], "p95": [4, 5, 60]})
    return {
        "requests_per_day": (pd.DataFrame({"day": DAYS * 2, "endpoint": ["a"] * 3 + ["b"] * 3,
                                           "hits": [1, 2, 3, 4, 5, 6]}),
                             {"colors": {"a": "#ff0000", "b": "#00ff00"}}),
        "load_heatmap": (pd.DataFrame({"day": DAYS, "hour": [0, 12, 23], "hits": [1, 5, 2]}), {}),
        "boxes": (boxes, {"colors": {"a": "#123456"}}),
        "share_heatmap": (pd.DataFrame({"version": ["1", "1", "2"], "endpoint": ["a", "b", "a"],
                                        "share": [0.25, 0.75, 1.0]}), {}),
        # One bucket: no line, only points; one status class: no legend.
        "duration_over_time": (pd.DataFrame({"bucket": [datetime(2026, 11, 1)], "hits": [3],
                                             "p50": [1.0], "p95": [2.0], "2xx": [3], "3xx": [0],
                                             "4xx": [0], "5xx": [0], "other": [0]}), {}),
        "weekday_hour_heatmap": (pd.DataFrame({"weekday": [1, 7], "hour": [0, 23],
                                               "hits": [1, 2], "median_ms": [1.0, 2.0]}), {}),
        "ratio_heatmap": (pd.DataFrame({"endpoint": ["a", "b"], "pair": ["1 → 2"] * 2,
                                        "ratio": [1.4, 0.9], "verdict": ["slower",
                                                                         "unchanged"]}), {}),
        # A root, a wide child with a label and a mathtext-looking name, a sliver too thin to draw.
        "flame_graph": (pd.DataFrame({"function": ["flask:<dispatch>", "app:$view$", "x:y"],
                                      "depth": [0, 1, 1], "start": [0.0, 0.0, 0.9995],
                                      "width": [1.0, 0.9995, 0.0005],
                                      "self_width": [0.0, 0.9995, 0.0005]}),
                        {"width": 6.0, "mean_ms": 12.5}),
        "function_changes": (pd.DataFrame({"function": ["app:slow", "<b>x</b>"],
                                           "delta_ms": [2.5, -0.5]}), {}),
        "outlier_timeline": (pd.DataFrame({"started_at": [datetime(2026, 11, 1)],
                                           "endpoint": ["$a$"], "ratio": [4.0]}),
                             {"colors": {"$a$": "#123456"}}),
        "run_history": (pd.DataFrame({"name": ["a"], "run": [0], "commit": ["abc1234"],
                                      "median_ms": [1.5], "regression": [False]}), {}),
        "verdict_ratios": (pd.DataFrame({"name": ["test t", "endpoint e", "test u"],
                                         "ratio": [1.4, 0.9, 1.2], "ci_low": [1.2, 0.8, 0.9],
                                         "ci_high": [1.6, 1.1, 1.5],
                                         "verdict": ["regression", "ok", "inconclusive"]}), {}),
    }


def test_every_chart_kind_is_covered() -> None:
    assert not set(CHARTS) & set(SVG_CHARTS)
    assert set(frames()) == set(CHARTS) | set(SVG_CHARTS)


@pytest.mark.parametrize("kind", sorted(CHARTS))
def test_chart_draws_without_warnings(kind: str, caplog: pytest.LogCaptureFixture) -> None:
    data, options = frames()[kind]
    with caplog.at_level(logging.INFO, logger="fmd_profiler"):
        png = render_png(kind, data, options, 6.0, 3.0)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000
    assert [r.getMessage() for r in caplog.records] == []


def test_over_time_draws_a_status_legend(caplog: pytest.LogCaptureFixture) -> None:
    hours = [datetime(2026, 11, 1, h) for h in range(3)]
    over_time = pd.DataFrame({"bucket": hours, "hits": [3, 4, 5], "p50": [1.0, 2, 3],
                              "p95": [2.0, 3, 4], "2xx": [3, 3, 4], "3xx": [0, 0, 0],
                              "4xx": [0, 1, 0], "5xx": [0, 0, 1], "other": [0, 0, 0]})
    with caplog.at_level(logging.INFO, logger="fmd_profiler"):
        png = render_png("duration_over_time", over_time, {"unit": "hour"}, 6.0, 4.0)
    assert png[:4] == b"\x89PNG"
    assert [r.getMessage() for r in caplog.records] == []


def test_significant_tiles_are_outlined_one_cell_each() -> None:
    """The outlines of the versions heatmap sit on their own tiles, even when the significant
    tiles are rows apart (sized from their own spacing, they once spanned several rows)."""
    endpoints = [f"e{i}" for i in range(6)]
    significant = {"e1", "e4"}
    data = pd.DataFrame({"endpoint": endpoints, "pair": ["1 → 2"] * 6,
                         "ratio": [1.3 if e in significant else 1.0 for e in endpoints],
                         "verdict": ["slower" if e in significant else "unchanged"
                                     for e in endpoints]})
    figure = ratio_heatmap(data).draw()
    tiles, outlines = figure.axes[0].collections[:2]
    assert len(tiles.get_paths()) == 6
    boxes = [path.get_extents() for path in outlines.get_paths()]
    assert len(boxes) == 2
    # Endpoints run top to bottom (e0 at y=6): e1 and e4 are at y=5 and y=2.
    assert sorted(round((b.y0 + b.y1) / 2, 6) for b in boxes) == [2.0, 5.0]
    assert all(b.height < 1.0 and b.width < 1.0 for b in boxes)


def test_chart_keys_follow_the_data() -> None:
    data, _ = frames()["load_heatmap"]
    one = ChartSpec("load_heatmap", data, "t", "alt")
    same = ChartSpec("load_heatmap", data.copy(), "another title", "alt")
    changed = ChartSpec("load_heatmap", data.assign(hits=[1, 5, 3]), "t", "alt")
    assert one.key == same.key != changed.key


SCRIPT_WITHOUT_MAIN_GUARD = """
import pandas as pd
from fmd_profiler.report.model import ChartSpec
from fmd_profiler.report.render import ChartRenderer
specs = [ChartSpec("weekday_hour_heatmap", pd.DataFrame({"weekday": [1, 2, 3], "hour": [1, 2, 3],
                                                         "hits": [i, 2, 3],
                                                         "median_ms": [1.0, 2.0, 3.0]}), "t", "a")
         for i in range(8)]
pngs = ChartRenderer(processes=2).render(specs)
print(len(pngs))
"""


@pytest.mark.slow
def test_a_broken_pool_falls_back_to_drawing_in_process(tmp_path: Path) -> None:
    # Under spawn, a script without `if __name__ == "__main__"` breaks every worker.
    script = tmp_path / "unguarded.py"
    script.write_text(SCRIPT_WITHOUT_MAIN_GUARD)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300, check=False,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "8"
    assert "drawing the remaining charts in this process" in done.stderr


def test_charts_drawn_ahead_are_waited_for_and_never_drawn_twice(
        monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[str] = []
    release = threading.Event()
    real = render._draw_spec

    def draw(spec: ChartSpec) -> bytes:
        release.wait(30)  # still drawing when render() is called
        drawn.append(spec.key)
        return real(spec)

    monkeypatch.setattr(render, "_draw_spec", draw)
    specs = [ChartSpec("weekday_hour_heatmap",
                       pd.DataFrame({"weekday": [1, 2, 3], "hour": [1, 2, 3], "hits": [i, 2, 3],
                                     "median_ms": [1.0, 2.0, 3.0]}), "t", "a") for i in range(3)]
    renderer = ChartRenderer(processes=1)  # as a server draws
    renderer.draw_ahead(specs[:2])
    threading.Timer(0.2, release.set).start()

    pngs = renderer.render(specs)

    assert sorted(drawn) == sorted(spec.key for spec in specs)  # each once
    assert set(pngs) == {spec.key for spec in specs}
    assert all(png.startswith(b"\x89PNG") for png in pngs.values())
