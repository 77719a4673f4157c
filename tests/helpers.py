"""Helpers the tests share: flush an app's recorded rows into its store, and read the store.

Fixtures live in ``tests/conftest.py`` and test doubles in ``tests/fakes.py``; a helper that more
than one test module needs lives here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask

from fmd_profiler.queries.request_queries import rows
from fmd_profiler.store import Database, StoreLocation


def flush(app: Flask) -> None:
    """Write everything the app recorded and ingest it."""
    app.extensions["fmd_profiler"].runtime.flush(ingest=True)


@contextmanager
def read_store(database: Path) -> Iterator[Any]:
    """A read session of the store at ``database``."""
    with Database(StoreLocation(database)).read() as con:
        yield con


def query(db: Path, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    with read_store(db) as con:
        return rows(con, sql, params)


def stored_requests(db: Path) -> list[dict[str, Any]]:
    return query(db, "SELECT * FROM requests ORDER BY started_at, endpoint")
