"""Where a report reads from: a DuckDB store (with its spool), a folder/glob of segments, or the
lake (fleet mode, when the config's DATABASE names one and no ``--db`` is given)."""

from __future__ import annotations

import contextlib
import glob
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from fmd_profiler.config import Config
from fmd_profiler.errors import StoreError
from fmd_profiler.store import Database, StoreLocation, read_segments
from fmd_profiler.store.factory import open_store
from fmd_profiler.store.segments import SEGMENT_SUFFIX

SessionOpener = Callable[[], AbstractContextManager[Any]]


def session_opener(db: str | None, config: Config) -> SessionOpener:
    """How to open a read session: ``--db`` as given, else the store the config names.

    In fleet mode the config's store is the lake (its local ``SPOOL_DIR`` is no store to read).
    """
    if db:
        return lambda: open_source(db)
    if config.lake is not None:
        return open_store(config).read
    database = str(config.database)
    return lambda: open_source(database)


@contextlib.contextmanager
def open_source(db: str) -> Iterator[Any]:
    """A read session for ``db``: a database file, a ``.spool`` folder or a glob of segments."""
    segments = _segment_files(db)
    if segments is not None:
        if not segments:
            raise StoreError(f"no segment files (*{SEGMENT_SUFFIX}) match {db}")
        with read_segments(segments) as con:
            yield con
        return
    path = Path(db)
    if path.suffix == "" and path.is_dir():
        raise StoreError(f"{db} is a folder without segments; pass the database file "
                         "(e.g. fmd_profiler.duckdb) or its .spool folder")
    location = StoreLocation(path)
    if not path.exists() and not location.spool_dir.exists():
        raise StoreError(f"no data at {db}: the file does not exist yet. Run the app with "
                         "enable_profiler(app) first, or pass --db with the DATABASE path your "
                         "app uses")
    with Database(location).read() as con:
        yield con


def _segment_files(db: str) -> list[Path] | None:
    """The segments named by a glob or folder, or None when ``db`` names a database file."""
    if any(ch in db for ch in "*?["):
        return sorted(Path(p) for p in glob.glob(db, recursive=True) if p.endswith(SEGMENT_SUFFIX))
    path = Path(db)
    if path.is_dir():
        found = sorted(Path(root) / name for root, _, names in os.walk(path) for name in names
                       if name.endswith(SEGMENT_SUFFIX) and not name.startswith(".")
                       and "quarantine" not in Path(root).parts)
        return found if found else None
    return None
