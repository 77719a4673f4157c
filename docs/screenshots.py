"""``make screenshots``: README pictures of the demo report, taken with headless Chromium.

Writes ``docs/screenshots/overview.png`` and ``docs/screenshots/endpoint.png`` from
``reports/demo`` (running ``python -m fmd_profiler.demo`` first when that report is missing).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "reports" / "demo"
OUT = ROOT / "docs" / "screenshots"
SHOTS = {"overview.png": ("index.html", "1360,1500"),
         "endpoint.png": ("endpoints/compute-*.html", "1360,1900")}


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        sys.exit("screenshots need Debian's chromium: run `make system-deps`")
    return found


def main() -> int:
    if not (REPORT / "index.html").exists():
        subprocess.run([sys.executable, "-m", "fmd_profiler.demo", "--out", str(REPORT)],
                       cwd=ROOT, check=True)
    OUT.mkdir(parents=True, exist_ok=True)
    for name, (page, size) in SHOTS.items():
        matches = sorted(REPORT.glob(page))
        if not matches:
            sys.exit(f"no page {page} in {REPORT}; delete it and run make screenshots again")
        with tempfile.TemporaryDirectory() as profile:
            subprocess.run(
                [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                 "--hide-scrollbars", f"--window-size={size}", f"--screenshot={OUT / name}",
                 matches[0].as_uri()],
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        print(OUT / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
