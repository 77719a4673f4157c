"""``python -m fmd_profiler.demo`` (what ``make demo`` runs) ends with a report and its path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_writes_the_html_report(tmp_path: Path) -> None:
    out = tmp_path / "reports" / "demo"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "fmd_profiler.demo", "--out", str(out), "--requests", "240",
         "--days", "3", "--seconds", "60"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    index = out / "index.html"
    assert done.stdout.strip().splitlines()[-1] == str(index.resolve())
    assert "only the dates are simulated" in done.stderr
    assert (out / "versions.html").is_file()  # three releases, one per simulated day
    overview = index.read_text()
    assert "rebuild_index" in overview and "unused" in overview  # the never-called route
    assert "Traceback" not in done.stderr
