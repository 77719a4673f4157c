"""``make screenshots``: pictures of the demo report for README and docs/, by headless Chromium.

Writes ``docs/screenshots/*.png`` (the overview, an endpoint page, its flame graph and function
table, the versions page's explanation of a slower endpoint) from ``reports/demo``, running
``python -m fmd_profiler.demo`` first when that report is missing. Chromium is driven over the
DevTools protocol (the browser tests' driver), so a picture can be clipped to one section.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.report.cdp import Browser  # noqa: E402 - after the path that finds it

REPORT = ROOT / "reports" / "demo"
OUT = ROOT / "docs" / "screenshots"
WIDTH = 1360
#: file -> (page, CSS selector of the part to show or None for the top, height in pixels)
SHOTS = {"overview.png": ("index.html", None, 1500),
         "endpoint.png": ("endpoints/split-*.html", None, 1300),
         "flame.png": ("endpoints/split-*.html", "#profile", 1150),
         "versions.png": ("versions.html", "section[id^=functions-]", 900)}


def main() -> int:
    if shutil.which("chromium") is None:
        sys.exit("screenshots need Debian's chromium: run `make system-deps`")
    if not (REPORT / "index.html").exists():
        subprocess.run([sys.executable, "-m", "fmd_profiler.demo", "--out", str(REPORT)],
                       cwd=ROOT, check=True)
    OUT.mkdir(parents=True, exist_ok=True)
    browser = Browser()
    try:
        browser.call("Emulation.setDeviceMetricsOverride",
                     {"width": WIDTH, "height": 6000, "deviceScaleFactor": 1, "mobile": False})
        for name, (page, selector, height) in SHOTS.items():
            matches = sorted(REPORT.glob(page))
            if not matches:
                sys.exit(f"no page {page} in {REPORT}; delete it and run make screenshots again")
            browser.open(matches[0].as_uri())
            top = 0.0
            if selector is not None:
                top = browser.evaluate(
                    f"(() => {{ const e = document.querySelector({selector!r}); "
                    "return e ? e.getBoundingClientRect().top + window.scrollY - 12 : null; })()")
                if top is None:
                    sys.exit(f"nothing matches {selector} in {matches[0]}; was the demo run "
                             "at MONITOR_LEVEL 3 over two releases?")
            shot = browser.call("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": top, "width": WIDTH, "height": height, "scale": 1}})
            (OUT / name).write_bytes(base64.b64decode(shot["data"]))
            print(OUT / name)
    finally:
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
