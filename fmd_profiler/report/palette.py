"""Endpoint colours: the ``COLORS`` setting, else a stable colour derived from the name.

The same endpoint has the same colour on every page, in every report and in the dashboard,
because the colour depends only on the name (a hash), never on the order endpoints appear in.
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


def endpoint_colors(endpoints: Iterable[str], configured: Mapping[str, str]) -> dict[str, str]:
    """endpoint -> colour for every name in ``endpoints``."""
    return {e: configured.get(e) or stable_color(e) for e in endpoints}
