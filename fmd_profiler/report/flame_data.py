"""The interactive flame graph's data: an endpoint's flame boxes packed for ``static/flame.js``.

Pure: takes the rows of :func:`fmd_profiler.queries.profile_queries.flame_graph` and returns a
JSON-ready dict. The page embeds it in a ``<script type="application/json">`` block (data, never
run, so the dashboard's Content-Security-Policy holds) and flame.js draws it as SVG. Colours are
the PNG's: one per package, the heaviest package first.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any

#: Package colours of flame graphs, heaviest package first: Tableau's light tints, on which
#: the dark labels stay readable (the PNG flame graph uses the same).
PACKAGE_COLORS = ("#a0cbe8", "#ffbe7d", "#8cd17d", "#ff9d9a", "#86bcb6", "#f1ce63", "#d4a6c8",
                  "#fabfd2", "#d7b5a6")
OTHER_COLOR = "#c8ccd2"
#: Boxes narrower than this share of the request are left out: thinner than a pixel even
#: zoomed a hundredfold, and they would make the page heavy. The exports keep them.
MIN_BOX_WIDTH = 1e-4
MAX_BOXES = 8_000


def package_of(function: str) -> str:
    """``pkg.mod:Class.method`` -> ``pkg`` (synthetic nodes such as ``flask:<dispatch>`` too)."""
    return function.partition(":")[0].partition(".")[0] or "?"


def package_colors(boxes: Sequence[dict[str, Any]]) -> dict[str, str]:
    """package -> colour, by the packages' summed self time, heaviest first; the rest grey."""
    weights: dict[str, float] = {}
    for box in boxes:
        package = package_of(box["function"])
        weights[package] = weights.get(package, 0.0) + box["self_width"]
    ranked = sorted(weights, key=lambda p: (-weights[p], p))
    return {p: (PACKAGE_COLORS[i] if i < len(PACKAGE_COLORS) else OTHER_COLOR)
            for i, p in enumerate(ranked)}


def flame_data(boxes: Sequence[dict[str, Any]], mean_ms: float | None,
               requests: int) -> dict[str, Any]:
    """``{"mean_ms", "requests", "frames": [[function, file, line, colour]], "boxes": [[frame,
    depth, start, width, self_width, parent]]}``: positions and widths are shares of the
    request (0-1), ``parent`` the index of the box's caller (-1 for a root), boxes ordered by
    depth then start."""
    kept = sorted((b for b in boxes if b["width"] >= MIN_BOX_WIDTH),
                  key=lambda b: (-b["width"], b["depth"]))[:MAX_BOXES]
    kept.sort(key=lambda b: (b["depth"], b["start"]))
    colors = package_colors(boxes)
    frames: dict[tuple[str, str, int], int] = {}
    packed: list[list[Any]] = []
    starts_by_depth: dict[int, list[float]] = {}
    index_by_depth: dict[int, list[int]] = {}
    for box in kept:
        key = (box["function"], box["file"] or "", box["line"] or 0)
        frame = frames.setdefault(key, len(frames))
        depth = box["depth"]
        parent = -1
        starts = starts_by_depth.get(depth - 1)
        if starts:
            # The caller is the last box one level up starting at or before this one (a
            # child never starts before its caller; the tolerance absorbs rounding).
            at = bisect.bisect_right(starts, box["start"] + 1e-9) - 1
            if at >= 0:
                parent = index_by_depth[depth - 1][at]
        starts_by_depth.setdefault(depth, []).append(box["start"])
        index_by_depth.setdefault(depth, []).append(len(packed))
        packed.append([frame, depth, box["start"], box["width"], box["self_width"], parent])
    return {
        "mean_ms": mean_ms,
        "requests": requests,
        "frames": [[function, file, line, colors.get(package_of(function), OTHER_COLOR)]
                   for function, file, line in frames],
        "boxes": packed,
    }
