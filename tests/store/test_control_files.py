"""The store's small control files: concurrent read-modify-writes all land."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from fmd_profiler.store import StoreLocation
from fmd_profiler.store.control import read_level_overrides

EDITOR = """
import sys, time
from pathlib import Path
from fmd_profiler.dashboard import admin
from fmd_profiler.dashboard.source import EmbeddedSource
from fmd_profiler.store import StoreLocation
source = EmbeddedSource(StoreLocation(Path(sys.argv[1])))
worker, start = sys.argv[2], float(sys.argv[3])
while time.time() < start:
    time.sleep(0.001)
for i in range(40):
    admin.set_level(source, f"endpoint-{worker}-{i}", i % 4)
"""


def test_concurrent_level_changes_all_land(db_path: Path) -> None:
    """Admins saving levels in several worker processes at once: no edit is lost."""
    location = StoreLocation(db_path)
    start = time.time() + 1.5
    editors = [subprocess.Popen([sys.executable, "-c", EDITOR, str(db_path), str(w), str(start)])
               for w in range(4)]
    for editor in editors:
        assert editor.wait(timeout=120) == 0
    overrides = read_level_overrides(location.levels_path)
    assert len(overrides) == 160
    assert overrides["endpoint-3-39"] == 3
