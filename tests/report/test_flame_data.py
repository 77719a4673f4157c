"""The interactive flame graph's data: boxes packed with their callers and package colours."""

from __future__ import annotations

import re
from pathlib import Path

from fmd_profiler.report.flame_data import (
    MIN_BOX_WIDTH,
    OTHER_COLOR,
    PACKAGE_COLORS,
    flame_data,
)


def box(function: str, depth: int, start: float, width: float, self_width: float) -> dict:
    return {"function": function, "file": f"/srv/{function}.py", "line": 1, "depth": depth,
            "start": start, "width": width, "self_width": self_width}


def test_boxes_know_their_caller_and_colour() -> None:
    boxes = [box("flask:<dispatch>", 0, 0.0, 1.0, 0.0),
             box("app.views:a", 1, 0.0, 0.7, 0.1), box("app.views:b", 1, 0.7, 0.3, 0.3),
             box("sqlite3:execute", 2, 0.0, 0.6, 0.6),
             box("app.views:helper", 2, 0.7 + 1e-7, 0.2, 0.2),  # rounding: starts a hair late
             box("json:dumps", 2, 0.9, MIN_BOX_WIDTH / 2, MIN_BOX_WIDTH / 2)]  # too thin
    data = flame_data(boxes, 12.0, 40)
    assert (data["mean_ms"], data["requests"]) == (12.0, 40)
    names = [data["frames"][b[0]][0] for b in data["boxes"]]
    assert names == ["flask:<dispatch>", "app.views:a", "app.views:b", "sqlite3:execute",
                     "app.views:helper"]
    parents = [names[b[5]] if b[5] >= 0 else None for b in data["boxes"]]
    assert parents == [None, "flask:<dispatch>", "flask:<dispatch>", "app.views:a",
                       "app.views:b"]
    colors = {f[0]: f[3] for f in data["frames"]}
    # app (0.6 self) and sqlite3 (0.6) tie: by name; flask has no self time but a colour.
    assert colors["app.views:a"] == colors["app.views:b"] == PACKAGE_COLORS[0]
    assert colors["sqlite3:execute"] == PACKAGE_COLORS[1]
    assert colors["flask:<dispatch>"] in PACKAGE_COLORS


def test_packages_beyond_the_palette_are_grey() -> None:
    count = len(PACKAGE_COLORS) + 2
    boxes = [box("flask:<dispatch>", 0, 0.0, 1.0, 0.0)]
    boxes += [box(f"pkg{i}:f", 1, i / count, 1 / count, (count - i) / 100) for i in range(count)]
    colors = {f[0]: f[3] for f in flame_data(boxes, None, 0)["frames"]}
    assert colors["pkg0:f"] == PACKAGE_COLORS[0]
    assert colors[f"pkg{count - 1}:f"] == OTHER_COLOR


def test_pages_run_no_inline_script(site: Path) -> None:
    """The dashboard's CSP (script-src 'self') runs no inline code: every script element of
    every page is a file of the package or a JSON data block."""
    pages = list(site.rglob("*.html"))
    assert pages
    flame_blocks = 0
    for page in pages:
        for attributes in re.findall(r"<script\b([^>]*)>", page.read_text(encoding="utf-8")):
            assert re.search(r'\bsrc="[^"]*static/[a-z]+\.js"', attributes) or \
                'type="application/json"' in attributes, (page.name, attributes)
            flame_blocks += 'type="application/json"' in attributes
    assert flame_blocks >= 1
