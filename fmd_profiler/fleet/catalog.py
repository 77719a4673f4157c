"""Cheap questions asked of the catalog database directly, without attaching the lake.

Attaching the lake loads three DuckDB extensions and reads its schema; asking PostgreSQL for
the newest snapshot id is one indexed query on a kept connection. Every commit (uploaded files,
a level change, maintenance) makes a new snapshot, so the id is the lake's data version: the
dashboard rebuilds a page only when it changed.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from typing import Any

from fmd_profiler.errors import StoreError
from fmd_profiler.fleet import advisory
from fmd_profiler.fleet.settings import redact_dsn


class SnapshotProbe:
    """The lake's current snapshot id, over one psycopg connection kept between calls."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._held: list[Any] = []  # the kept connection, or nothing
        self._lock = threading.Lock()
        # A forgotten probe (a dashboard of a test app) closes its connection, not psycopg's
        # finalizer with a warning.
        weakref.finalize(self, _close_all, self._held)

    def snapshot_id(self) -> int | None:
        """The newest snapshot id; None while the lake has not been created yet.

        A broken connection (a restarted PostgreSQL) is replaced once; errors hide the password.
        """
        with self._lock:
            for attempt in (1, 2):
                if not self._held:
                    self._held.append(advisory.connect(self._dsn))
                try:
                    return _newest_snapshot(self._held[0])
                except Exception as exc:  # psycopg's errors: psycopg is imported lazily
                    self._close()
                    if attempt == 2 or not _is_connection_error(exc):
                        raise StoreError(f"cannot read the lake's snapshot from the catalog "
                                         f"({redact_dsn(self._dsn)}): {_first_line(exc)}") \
                            from None
            return None  # not reached: the loop returns or raises

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        _close_all(self._held)


def _close_all(held: list[Any]) -> None:
    while held:
        with contextlib.suppress(Exception):
            held.pop().close()


def _newest_snapshot(con: Any) -> int | None:
    exists = con.execute("SELECT to_regclass('ducklake_snapshot') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return None
    row = con.execute("SELECT max(snapshot_id) FROM ducklake_snapshot").fetchone()
    return None if row is None or row[0] is None else int(row[0])


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return redact_dsn(text.splitlines()[0]) if text else type(exc).__name__


def _is_connection_error(exc: Exception) -> bool:
    return type(exc).__name__ in ("OperationalError", "InterfaceError")
