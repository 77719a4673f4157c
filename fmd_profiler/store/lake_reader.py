"""A lake connection kept open between read sessions, for a long-running reader (the dashboard).

Opening a lake session loads three extensions, attaches the catalog and defines the views; a
kept connection pays that once per process, and DuckDB's cache of remote file data survives
between sessions too. Each session is still its own transaction (one snapshot, the newest when
it begins), so it reads exactly what :meth:`Lake.read` would. Sessions take turns: a DuckDB
connection is not safe to share between threads.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Iterator

import duckdb

from fmd_profiler.fleet.settings import LakeSettings
from fmd_profiler.store import request_counts
from fmd_profiler.store.database import create_read_views
from fmd_profiler.store.lake import check_lake_version, connect

ATTACHED = "stored"


class KeptLakeReader:
    """Read sessions over one kept connection; a failed session starts the next one afresh."""

    def __init__(self, settings: LakeSettings, *, threads: int | None = None) -> None:
        self.settings = settings
        self._threads = threads
        self._held: list[duckdb.DuckDBPyConnection] = []
        self._lock = threading.Lock()
        weakref.finalize(self, _close_all, self._held)

    @contextlib.contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._lock:
            con = self._held[0] if self._held else self._open()
            healthy = False
            try:
                check_lake_version(con, ATTACHED)  # another host may have upgraded the lake
                con.execute("BEGIN TRANSACTION")
                yield con
                con.execute("ROLLBACK")
                healthy = True
            finally:
                if not healthy or con not in self._held:
                    _close_all(self._held)
                    with contextlib.suppress(duckdb.Error):
                        con.close()

    def close(self) -> None:
        with self._lock:
            _close_all(self._held)

    def _open(self) -> duckdb.DuckDBPyConnection:
        con = connect(self.settings, read_only=True, alias=ATTACHED, threads=self._threads)
        try:
            check_lake_version(con, ATTACHED)
            create_read_views(con, ATTACHED, {})
            request_counts.create_view(con, ATTACHED)
            # Views made before the lake had its tables would stay empty: keep only a
            # connection that saw them (another is closed after its one session).
            found = con.execute("SELECT count(*) FROM information_schema.tables "
                                "WHERE table_catalog = $c AND table_name = 'requests'",
                                {"c": ATTACHED}).fetchone()
        except BaseException:
            con.close()
            raise
        if found and found[0]:
            self._held.append(con)
        return con


def _close_all(held: list[duckdb.DuckDBPyConnection]) -> None:
    while held:
        with contextlib.suppress(duckdb.Error):
            held.pop().close()
