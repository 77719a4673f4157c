"""Small control files shared by every process of one store (not data, so not in DuckDB).

``levels.json`` holds the monitoring levels an admin changed on the dashboard; each worker's
writer thread polls its modification time every flush, so a change reaches every process within
a few seconds without any process holding the database open.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path


def read_level_overrides(path: Path) -> dict[str, int]:
    """The overrides in ``path``; an absent or unreadable file means none."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): v for k, v in data.items()
            if isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 3}


def write_level_overrides(path: Path, overrides: dict[str, int]) -> None:
    """Replace the overrides atomically (readers see the old file or the new one)."""
    write_atomic(path, json.dumps(dict(sorted(overrides.items())), indent=1).encode())


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime_ns / 1e9
    except OSError:
        return None
