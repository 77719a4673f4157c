"""Endpoint colours: the ``COLORS`` setting, else a colour of a qualitative palette.

Each endpoint starts from the palette colour its name hashes to, so it keeps its colour from one
report to the next; when two endpoints of the store want the same colour, the later name (in
sorted order) takes the next free one, so neighbours in a chart never look alike. Pages pass
every endpoint of the store, so a name has one colour on every page of a report.
"""

from __future__ import annotations

import colorsys
import hashlib
from collections.abc import Iterable, Mapping


def stable_color(name: str) -> str:
    """A mid-saturation colour picked by hashing ``name`` ('#rrggbb')."""
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).digest()
    hue = int.from_bytes(digest[:2], "big") / 65536.0
    # Two lightness/saturation steps keep neighbouring hues apart while staying readable on white.
    lightness = 0.45 if digest[2] & 1 else 0.58
    saturation = 0.55 if digest[3] & 1 else 0.7
    r, g, b = colorsys.hls_to_rgb(hue, lightness, saturation)
    return f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"


#: Tableau's 10 and the darker half of its 20: distinct on white, readable as text.
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#bab0ac", "#1f77b4", "#d62728", "#2ca02c", "#9467bd",
           "#8c564b", "#17becf", "#bcbd22", "#7f7f7f")


def endpoint_colors(endpoints: Iterable[str], configured: Mapping[str, str]) -> dict[str, str]:
    """endpoint -> colour for every name in ``endpoints`` (pass all of the store's)."""
    colors = {name: color for name, color in configured.items()}
    used = set(colors.values())
    for name in sorted(set(endpoints)):
        if name in colors:
            continue
        start = int.from_bytes(hashlib.sha256(name.encode("utf-8", "surrogatepass")).digest()[:4],
                               "big")
        for k in range(len(PALETTE)):
            candidate = PALETTE[(start + k) % len(PALETTE)]
            if candidate not in used:
                break
        else:  # more endpoints than palette colours: a colour of their own from the hash
            candidate = stable_color(name)
        colors[name] = candidate
        used.add(candidate)
    return {name: colors[name] for name in endpoints}
