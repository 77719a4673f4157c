"""What the fleet commands do in the lake's catalog: register files, keep the ledger, maintain.

A :class:`Catalog` is one read-write lake connection. :meth:`Catalog.register` adds uploaded
Parquet files to their tables and writes one ledger row per file in the SAME transaction, so a
file is counted once however often it is uploaded or the committer is killed; the callers hold
the advisory locks (:mod:`fmd_profiler.fleet.advisory`). Reading the dashboard levels, the ledger
summary and maintenance (retention, merging, expiring, cleanup) live here too, because they are
the catalog's SQL.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import duckdb

from fmd_profiler.errors import StoreError
from fmd_profiler.fleet.settings import LakeSettings, redact_dsn
from fmd_profiler.schema import DIRECT_TABLES, REQUESTS, SEGMENT_TABLES
from fmd_profiler.store import request_counts
from fmd_profiler.store.lake import ALIAS, check_lake_version, connect, ensure_lake_schema

log = logging.getLogger("fmd_profiler")

#: Retries of a commit that conflicts with another writer (DuckLake's default is 10).
COMMIT_RETRIES = 100


_NO_LAKE_YET = ("the lake has no fmd_profiler tables yet: run python -m fmd_profiler.fleet "
                "commit --config CFG once (it creates them)")


@dataclass(frozen=True)
class NewFile:
    """An uploaded file to register: its key under DATA_PATH, table, host, rows and bytes."""

    key: str
    table: str
    host: str
    rows: int
    bytes: int


@dataclass(frozen=True)
class HostLedger:
    host: str
    files: int
    rows: int
    last_committed: str  # ISO time, UTC


class Catalog:
    """A connection to the lake; read-write ones create the schema first if it is missing."""

    def __init__(self, settings: LakeSettings, *, read_only: bool = False) -> None:
        self.settings = settings
        try:
            self._con = connect(settings, read_only=read_only, threads=2)
        except StoreError as exc:
            # Read-only, DuckLake refuses a catalog it never initialised.
            if read_only and "creating a new DuckLake is explicitly disabled" in str(exc):
                raise StoreError(_NO_LAKE_YET) from None
            raise
        if not self._schema_complete(ledger_only=read_only):
            self._con.close()
            if read_only:
                raise StoreError(_NO_LAKE_YET)
            # Creating or extending the schema takes its own lock and connection.
            ensure_lake_schema(settings)
            self._con = connect(settings, read_only=read_only, threads=2)
        try:
            check_lake_version(self._con)
            # An extension without the setting retries its default number of times.
            with contextlib.suppress(duckdb.Error):
                self._con.execute(f"SET ducklake_max_retry_count = {COMMIT_RETRIES}")
        except BaseException:
            self._con.close()
            raise

    def _schema_complete(self, *, ledger_only: bool) -> bool:
        """Every table and column this code writes exists (one catalog query); a reader
        needs only the ledger."""
        found = {(str(t), str(c)) for t, c in self._con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_catalog = $c", {"c": ALIAS}).fetchall()}
        wanted = {("fmd_ledger", "key")}
        if not ledger_only:
            wanted |= {(t.name, c.name) for t in (*SEGMENT_TABLES.values(),
                                                  *DIRECT_TABLES.values()) for c in t.columns}
            wanted |= {("fmd_levels", "endpoint"), ("fmd_meta", "key"),
                       (request_counts.TABLE, "bucket")}
        return wanted <= found

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._con.close()

    # -- the ledger ------------------------------------------------------------------------------

    def committed(self, keys: Sequence[str]) -> set[str]:
        """Which of ``keys`` the ledger already holds."""
        if not keys:
            return set()
        rows = self._fetch(f"SELECT key FROM {ALIAS}.fmd_ledger "
                           "WHERE key IN (SELECT unnest($k))", {"k": list(keys)})
        return {str(r[0]) for r in rows}

    def register(self, files: Sequence[NewFile]) -> None:
        """Add ``files`` to their tables and to the ledger, in one transaction."""
        if not files:
            return
        by_table: dict[str, list[str]] = {}
        for f in files:
            if f.table not in SEGMENT_TABLES:
                raise StoreError(f"{f.key}: {f.table!r} is not a table of this lake")
            by_table.setdefault(f.table, []).append(self.settings.data_path + f.key)
        con = self._con
        try:
            con.execute("BEGIN TRANSACTION")
            for table, paths in sorted(by_table.items()):
                # allow_missing: a file from an older host lacks the columns added since.
                con.execute(f"CALL ducklake_add_data_files('{ALIAS}', $t, $p, "
                            "allow_missing => true)", {"t": table, "p": paths})
            request_counts.add_files(con, ALIAS, by_table.get(REQUESTS.name, []))
            con.execute(
                f"INSERT INTO {ALIAS}.fmd_ledger SELECT unnest($k), unnest($t), unnest($h), "
                "unnest($r), unnest($b), CAST(now() AT TIME ZONE 'UTC' AS TIMESTAMP)",
                {"k": [f.key for f in files], "t": [f.table for f in files],
                 "h": [f.host for f in files], "r": [f.rows for f in files],
                 "b": [f.bytes for f in files]})
            con.execute("COMMIT")
        except duckdb.Error as exc:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise StoreError(f"registering {len(files)} file(s) failed and nothing was "
                             f"registered ({_first_line(exc)}); the next commit tries again") \
                from None

    def ledger_by_host(self) -> list[HostLedger]:
        rows = self._fetch(
            f"SELECT host, count(*), sum(rows), strftime(max(committed_at), '%Y-%m-%dT%H:%M:%SZ') "
            f"FROM {ALIAS}.fmd_ledger GROUP BY host ORDER BY host", {})
        return [HostLedger(str(h), int(str(n)), int(str(r or 0)), str(t)) for h, n, r, t in rows]

    # -- dashboard levels ------------------------------------------------------------------------

    def current_levels(self) -> list[tuple[str, int]]:
        """The newest level per endpoint set from the dashboard (a NULL level is a reset)."""
        rows = self._fetch(
            f"SELECT endpoint, level FROM (SELECT endpoint, level, row_number() OVER "
            f"(PARTITION BY endpoint ORDER BY changed_at DESC) AS newest "
            f"FROM {ALIAS}.fmd_levels) WHERE newest = 1 AND level IS NOT NULL "
            "ORDER BY endpoint", {})
        return [(str(e), int(str(v))) for e, v in rows]

    # -- maintenance -----------------------------------------------------------------------------

    def delete_older_than(self, cutoff_epoch_s: float) -> dict[str, int]:
        """Delete rows older than ``cutoff_epoch_s`` (UTC), moved back to the start of its quarter
        hour, from every table with a time column and the request counts, in one transaction;
        returns rows deleted per table."""
        deleted: dict[str, int] = {}
        con = self._con
        cutoff_epoch_s = request_counts.bucket_start(cutoff_epoch_s)
        try:
            con.execute("BEGIN TRANSACTION")
            request_counts.delete_before(con, ALIAS, cutoff_epoch_s)
            for table in SEGMENT_TABLES.values():
                if table.time_column:
                    found = con.execute(
                        f"DELETE FROM {ALIAS}.{table.name} WHERE {table.time_column} < "
                        "CAST(to_timestamp($c) AT TIME ZONE 'UTC' AS TIMESTAMP)",
                        {"c": cutoff_epoch_s}).fetchone()
                    deleted[table.name] = int(str(found[0])) if found else 0
            con.execute("COMMIT")
        except duckdb.Error as exc:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise StoreError(f"deleting old rows failed ({_first_line(exc)}); nothing was "
                             "deleted") from None
        return deleted

    def compact(self, grace_s: float, clock: Callable[[], float] = time.time) -> None:
        """Merge the request counts' rows and small files, expire snapshots older than
        ``grace_s`` and delete the files that became unneeded more than ``grace_s`` ago (a
        reader that started within the grace period keeps its snapshot's files). Each step's
        cutoff is taken when it starts, so the files the merge replaced count from the merge."""
        # count(*): the steps list what they did with times with a zone, which Python could
        # only take with pytz; what they did is not needed.
        steps = [
            ("ducklake_merge_adjacent_files", f"'{ALIAS}'"),
            ("ducklake_expire_snapshots", f"'{ALIAS}', older_than => to_timestamp($t)"),
            ("ducklake_cleanup_old_files", f"'{ALIAS}', older_than => to_timestamp($t)"),
        ]
        try:
            self._con.execute("BEGIN TRANSACTION")
            request_counts.merge(self._con, ALIAS)
            self._con.execute("COMMIT")
        except duckdb.Error as exc:
            with contextlib.suppress(duckdb.Error):
                self._con.execute("ROLLBACK")
            # Unmerged counts are only more rows: the files still need their maintenance.
            log.warning("fmd_profiler: merging the request counts failed (%s); they stay as "
                        "they were, and the next maintenance tries again", _first_line(exc))
        for name, args in steps:
            params = {"t": clock() - grace_s} if "$t" in args else {}
            try:
                self._con.execute(f"SELECT count(*) FROM {name}({args})", params).fetchall()
            except duckdb.Error as exc:
                raise StoreError(f"maintenance step {name} failed ({_first_line(exc)})") \
                    from None

    def _fetch(self, sql: str, params: dict[str, object]) -> list[tuple[object, ...]]:
        try:
            return self._con.execute(sql, params).fetchall()
        except duckdb.Error as exc:
            raise StoreError(f"the lake's catalog answered with an error "
                             f"({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return redact_dsn(text.splitlines()[0] if text else type(exc).__name__)
