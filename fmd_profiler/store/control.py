"""Small control files shared by every process of one store (not data, so not in DuckDB).

``levels.json`` holds the monitoring levels an admin changed on the dashboard; each worker's
writer thread polls its modification time every flush, so a change reaches every process within
a few seconds without any process holding the database open. ``sessions.json`` holds each
dashboard account's session generation. Every read-modify-write goes through :func:`update_json`
under an ``flock``, so two admins' concurrent edits both land.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: flock is per open file description; threads of one process also take this lock first.
_THREAD_LOCK = threading.Lock()


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


def update_level_overrides(path: Path, change: Callable[[dict[str, int]], None]) -> dict[str, int]:
    """Apply ``change`` to the overrides under the file's lock; returns the new overrides."""
    with locked(path):
        overrides = read_level_overrides(path)
        change(overrides)
        write_level_overrides(path, overrides)
        return overrides


@contextlib.contextmanager
def locked(path: Path) -> Any:
    """Hold the exclusive lock of ``path`` (on ``<path>.lock``; the file itself is replaced)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _THREAD_LOCK:
        fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def read_json_object(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; absent, unreadable or not an object: empty."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


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
