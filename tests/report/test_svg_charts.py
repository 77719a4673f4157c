"""The SVG charts: well-formed documents whose shapes stand for the data, and an overview that
never waits for plotnine."""

from __future__ import annotations

import math
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from fmd_profiler.demo.synthetic import SyntheticStore
from fmd_profiler.report.svg_charts import (
    CHARTS,
    gradient,
    log_ticks,
    nice_ticks,
    render_svg,
)
from tests.report.test_charts import frames

NS = "{http://www.w3.org/2000/svg}"
ROOT = Path(__file__).resolve().parents[2]


def draw(kind: str, data: pd.DataFrame, options: dict[str, object] | None = None,
         width: float = 6.4, height: float = 3.2) -> ET.Element:
    return ET.fromstring(render_svg(kind, data, options or {}, width, height))


def shapes(svg: ET.Element, tag: str) -> list[dict[str, str]]:
    return [e.attrib for e in svg.iter(f"{NS}{tag}")]


def texts(svg: ET.Element) -> list[str]:
    return [e.text or "" for e in svg.iter(f"{NS}text")]


def fills(svg: ET.Element) -> list[str]:
    """The fills of the data's rectangles (not the white page, not a legend's gradient)."""
    return [r["fill"] for r in shapes(svg, "rect")[1:] if not r["fill"].startswith("url(")]


@pytest.mark.parametrize("kind", sorted(CHARTS))
def test_every_svg_chart_is_a_document_of_its_size_with_names_as_text(kind: str) -> None:
    data, options = frames()[kind]
    svg = draw(kind, data, dict(options), 6.0, 3.0)  # parses: every name is escaped
    assert (svg.get("width"), svg.get("height")) == ("600", "300")
    if "grp" in data:
        assert {"<c>", "$b$"} <= set(texts(svg))


def test_requests_per_day_stacks_each_day_to_its_total() -> None:
    days = [date(2026, 11, 1) + timedelta(days=i) for i in range(3)]
    data = pd.DataFrame({"day": days * 2, "endpoint": ["a"] * 3 + ["b"] * 3,
                         "hits": [10, 20, 0, 30, 20, 60]})  # totals 40, 40, 60
    svg = draw("requests_per_day", data, {"colors": {"a": "#ff0000", "b": "#00ff00"}})
    bars = [r for r in shapes(svg, "rect") if r["fill"] in ("#ff0000", "#00ff00")
            and float(r["width"]) > 20]  # the legend's keys are 12 px wide
    assert len(bars) == 5  # one per (day, endpoint) that had requests
    heights: dict[str, float] = {}
    for bar in bars:
        heights[bar["x"]] = heights.get(bar["x"], 0.0) + float(bar["height"])
    by_day = [heights[x] for x in sorted(heights, key=float)]
    per_hit = [h / total for h, total in zip(by_day, (40, 40, 60), strict=True)]
    assert max(per_hit) - min(per_hit) < 0.01
    assert texts(svg)[-2:] == ["b", "a"]  # the legend: busiest first


def test_requests_per_day_names_the_busiest_eleven_and_lumps_the_rest() -> None:
    names = [f"e{i:02d}" for i in range(15)]
    data = pd.DataFrame({"day": [date(2026, 11, 1)] * 15, "endpoint": names,
                         "hits": list(range(100, 85, -1))})
    svg = draw("requests_per_day", data, {"colors": dict.fromkeys(names, "#123456")})
    legend = texts(svg)[-12:]
    assert legend == [*names[:11], "other"]
    assert fills(svg).count("#c8ccd2") == 2  # the lumped bar and its legend key


def test_load_heatmap_has_a_tile_per_hour_darkest_at_the_busiest() -> None:
    data = pd.DataFrame({"day": [date(2026, 11, 1), date(2026, 11, 1), date(2026, 11, 3)],
                         "hour": [0, 23, 12], "hits": [1, 9, 5]})
    tiles = fills(draw("load_heatmap", data))
    assert tiles == [gradient(0.0), gradient(1.0), gradient(0.5)]


def test_box_plots_skip_a_group_without_durations_and_give_each_dimension_a_panel() -> None:
    boxes, _ = frames()["boxes"]
    boxes = pd.concat([boxes, pd.DataFrame({"grp": ["idle"], "hits": [0]})],
                      ignore_index=True)  # NaN quantiles
    svg = draw("boxes", boxes)
    assert "idle" in texts(svg)
    assert len([f for f in fills(svg) if f != "#eef0f3"]) == 3  # three boxes
    grouped = pd.concat([boxes.head(3).assign(dim="version"), boxes.head(2).assign(dim="user")])
    svg = draw("boxes", grouped, {}, 6.4, 4.0)
    assert {"version", "user"} <= set(texts(svg))
    assert fills(svg).count("#eef0f3") == 2  # a strip per panel
    assert len([f for f in fills(svg) if f != "#eef0f3"]) == 5


def test_share_heatmap_writes_each_share_until_there_are_too_many_tiles() -> None:
    data, _ = frames()["share_heatmap"]
    assert {"25.0", "75.0", "100.0"} <= set(texts(draw("share_heatmap", data)))
    many = pd.DataFrame({"version": [str(v) for v in range(3) for _ in range(70)],
                         "endpoint": [f"e{e}" for _ in range(3) for e in range(70)],
                         "share": [1 / 70] * 210})
    assert "1.4" not in texts(draw("share_heatmap", many, {}, 6.4, 17.7))


def test_scales_give_round_ticks() -> None:
    assert nice_ticks(37) == [0, 10, 20, 30, 40]
    assert nice_ticks(480) == [0, 100, 200, 300, 400, 500]
    assert nice_ticks(0) == [0.0, 1.0]
    assert log_ticks(0.05, 900) == [0.1, 1, 10, 100]
    assert [round(t, 6) for t in log_ticks(3, 40)] == [5, 10, 20]
    assert all(math.isclose(a, b) for a, b in zip(log_ticks(1, 10), [1, 2, 5, 10],
                                                    strict=True))


OVERVIEW_IN_A_FRESH_PROCESS = """
import re, sys
from flask import Flask
from fmd_profiler import Profiler
app = Flask("probe")
Profiler(app, DATABASE=sys.argv[1], PASSWORD="admin-pass-for-tests", SECRET_KEY="s" * 32,
         MONITOR_LEVEL=0)
client = app.test_client()
token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/dashboard/login").text)
client.post("/dashboard/login", data={"username": "admin", "password": "admin-pass-for-tests",
                                      "csrf_token": token.group(1)})
page = client.get("/dashboard/").text
charts = re.findall(r'<img src="([^"]+)"', page)
kinds = [client.get("/dashboard/" + src.lstrip("./")).mimetype for src in charts]
# A chart's kind fixes its format: under the other suffix it is not found.
wrong = client.get("/dashboard/" + charts[0].lstrip("./")[:-3] + "png").status_code
app.extensions["fmd_profiler"].runtime.stop()
print(len(charts), " ".join(sorted(set(kinds))), wrong, "plotnine" in sys.modules)
"""


def test_the_overview_in_a_fresh_dashboard_process_draws_its_charts_without_plotnine(
        tmp_path: Path, store: SyntheticStore) -> None:
    database = tmp_path / "copy.duckdb"
    database.write_bytes(store.database.read_bytes())
    done = subprocess.run([sys.executable, "-c", OVERVIEW_IN_A_FRESH_PROCESS, str(database)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["4", "image/svg+xml", "404", "False"], done.stdout
