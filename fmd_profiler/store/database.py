"""The DuckDB database file: the cross-process lock, the schema, ingestion and read sessions.

DuckDB allows one read-write process per file, so every access goes through an ``flock`` on
``<database>.lock``: ingestion takes it exclusively for a moment (open, ingest segments, close),
readers share it. Readers never see a half state: a read session is an in-memory DuckDB with the
database attached read-only and views that add the segments not yet ingested, so reports are
current to the last flush and the same code reads a bare folder of segments. Segments are decoded
here (:func:`load_segments`) and handed to DuckDB as one batch of numpy columns per table.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import hashlib
import logging
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np

from fmd_profiler.errors import StoreError, one_line
from fmd_profiler.schema import (
    DIRECT_TABLES,
    SCHEMA_VERSION,
    SEGMENT_TABLES,
    Table,
    create_table_sql,
)
from fmd_profiler.store.segments import (
    MAX_PRUNE_DAYS,
    SegmentError,
    StoreLocation,
    column_sql,
    read_segment,
    unlink_quietly,
)

log = logging.getLogger("fmd_profiler")

#: Segments ingested per table in one go; a large backlog is worked off over several rounds.
MAX_SEGMENTS_PER_INGEST = 2000
#: Segment bytes decoded into memory for one INSERT (~80k request rows): a backlog (a busy server,
#: a store that was locked for a while) is ingested in steps, not decoded at once.
INGEST_CHUNK_BYTES = 4 * 1024 * 1024
#: Pending segments per table a read session decodes (the newest): a web process must not decode
#: an unbounded backlog on a page view; the ingestion takes the older ones.
MAX_READ_SEGMENTS = 1000
#: Rows of an object column DuckDB looks at to type it: all of them (see register_columns).
ANALYZE_SAMPLE_ROWS = 1_000_000_000
#: How long a forgotten segment name is remembered (guards against re-ingesting after a crash).
INGESTED_NAMES_KEEP_DAYS = 7


@dataclass(frozen=True)
class IngestResult:
    segments: int
    rows: int
    quarantined: int = 0


class Database:
    """Access to one store's DuckDB file; holds no connection between calls."""

    def __init__(self, location: StoreLocation, *, threads: int | None = None,
                 memory_limit: str | None = None) -> None:
        self.location = location
        self._config: dict[str, str | int] = {}
        if threads is not None:
            self._config["threads"] = threads
        if memory_limit is not None:
            self._config["memory_limit"] = memory_limit

    # -- locking ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, *, exclusive: bool, timeout: float = 0.0) -> Iterator[bool]:
        """Hold the store lock; yields False when it could not be had within ``timeout``."""
        path = self.location.lock_path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, mode | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                    if time.monotonic() >= deadline:
                        yield False
                        return
                    time.sleep(0.01)
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    # -- writing ---------------------------------------------------------------------------

    def _connect_rw(self) -> duckdb.DuckDBPyConnection:
        """Open the file read-write (under the exclusive lock) with the schema in place."""
        path = self.location.database
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            if path.stat().st_size == 0:
                # Left by a creation that failed (a full disk): it holds nothing, and DuckDB
                # would refuse it as "not a valid DuckDB database file" for good.
                path.unlink()
        created = not path.exists()
        try:
            con = duckdb.connect(str(path), config=dict(self._config))
        except duckdb.Error as exc:
            if created:
                _remove_new_file(path)
            raise StoreError(_explain_open_error(path, exc)) from exc
        try:
            con.execute("SET enable_progress_bar = false")  # none on the caller's terminal
            ensure_schema(con)
        except BaseException:
            con.close()
            if created:
                _remove_new_file(path)
            raise
        return con

    def ingest(self, *, timeout: float = 0.0, retention_days: int = 0) -> IngestResult | None:
        """Move pending segments into the database. None when another process holds the lock.

        Idempotent: each segment's name is recorded in the same transaction as its rows, so a
        crash between commit and unlink never ingests a segment twice.
        """
        with self.lock(exclusive=True, timeout=timeout) as got:
            if not got:
                return None
            pending = {name: self.location.pending_segments(name)[:MAX_SEGMENTS_PER_INGEST]
                       for name in SEGMENT_TABLES}
            if not any(pending.values()) and self.location.database.exists():
                return IngestResult(0, 0)
            con = self._connect_rw()
            try:
                result = self._ingest_with(con, pending)
                if retention_days:
                    prune_older_than(con, retention_days)
            finally:
                con.close()
            return result

    def prune(self, days: int, *, timeout: float = 10.0) -> int | None:
        """Ingest pending segments, then delete rows older than ``days`` days.

        Returns the number of requests deleted, or None when the lock could not be had.
        """
        with self.lock(exclusive=True, timeout=timeout) as got:
            if not got:
                return None
            con = self._connect_rw()
            try:
                self._ingest_with(con, {name: self.location.pending_segments(name)
                                        [:MAX_SEGMENTS_PER_INGEST] for name in SEGMENT_TABLES})
                before = con.execute("SELECT count(*) FROM requests").fetchone()
                prune_older_than(con, days)
                after = con.execute("SELECT count(*) FROM requests").fetchone()
            finally:
                con.close()
            return int(before[0]) - int(after[0]) if before and after else 0

    def _ingest_with(self, con: duckdb.DuckDBPyConnection,
                     pending: dict[str, list[Path]]) -> IngestResult:
        segments = rows = quarantined = 0
        for table_name, files in pending.items():
            if not files:
                continue
            table = SEGMENT_TABLES[table_name]
            for chunk in _chunks_by_size(self._forget_already_ingested(con, files)):
                done, added, set_aside = self._ingest_chunk(con, table, chunk)
                for path in done:
                    unlink_quietly(path)
                segments += len(done)
                rows += added
                quarantined += set_aside
        return IngestResult(segments, rows, quarantined)

    def _ingest_chunk(self, con: duckdb.DuckDBPyConnection, table: Table,
                      files: list[Path]) -> tuple[list[Path], int, int]:
        """Ingest ``files`` in one statement; returns (ingested files, rows, set aside)."""
        batch = load_segments(table, files)
        for path, problem in batch.unreadable:
            self._quarantine(path, problem)
        quarantined = len(batch.unreadable)
        if not batch.paths:
            return [], 0, quarantined
        try:
            return batch.paths, self._insert_segments(con, table, batch), quarantined
        except Exception as exc:  # duckdb.Error, or a value numpy cannot convert
            # Values DuckDB cannot convert: retry one by one, set the bad ones aside.
            log.warning("fmd_profiler: %s segments could not be ingested together (%s); "
                        "ingesting one by one", table.name, one_line(exc))
        done, rows = [], 0
        for path in batch.paths:
            try:
                rows += self._insert_segments(con, table, load_segments(table, [path]))
                done.append(path)
            except Exception as one:  # one segment's problem stays its own
                self._quarantine(path, one_line(one))
                quarantined += 1
        return done, rows, quarantined

    def _forget_already_ingested(self, con: duckdb.DuckDBPyConnection,
                                 files: list[Path]) -> list[Path]:
        names = [p.name for p in files]
        seen = {r[0] for r in con.execute(
            "SELECT name FROM ingested_segments WHERE name IN (SELECT unnest($names))",
            {"names": names}).fetchall()}
        for path in files:
            if path.name in seen:
                unlink_quietly(path)
        return [p for p in files if p.name not in seen]

    def _insert_segments(self, con: duckdb.DuckDBPyConnection, table: Table,
                         batch: SegmentBatch) -> int:
        cols = ", ".join(table.column_names)
        con.execute("BEGIN TRANSACTION")
        try:
            with _registered(con, "fmd_segments", batch.columns):
                source = f"(SELECT {select_sql(table)} FROM fmd_segments)"
                if table.key:
                    keys = ", ".join(table.key)
                    updates = ", ".join(f"{c} = excluded.{c}" for c in table.column_names
                                        if c not in table.key)
                    time_col = next((c.name for c in table.columns
                                     if c.sql_type == "TIMESTAMP"), table.column_names[0])
                    count = con.execute(
                        f"INSERT INTO {table.name} ({cols}) SELECT {cols} FROM {source} "
                        f"QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY {time_col} "
                        f"DESC) = 1 ON CONFLICT ({keys}) DO UPDATE SET {updates} "
                        f"WHERE excluded.{time_col} >= {table.name}.{time_col}").fetchone()
                else:
                    count = con.execute(
                        f"INSERT INTO {table.name} ({cols}) SELECT {cols} FROM {source}"
                    ).fetchone()
            con.execute("INSERT INTO ingested_segments SELECT unnest($names), $now",
                        {"names": [f.name for f in batch.paths],
                         "now": datetime.now(UTC).replace(tzinfo=None)})
            con.execute("COMMIT")
        except BaseException:
            # DuckDB may already have ended a failed transaction; the first error is the news.
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise
        return int(count[0]) if count else 0

    def _quarantine(self, path: Path, problem: str) -> None:
        target = self.location.quarantine_dir
        try:
            target.mkdir(parents=True, exist_ok=True)
            os.replace(path, target / path.name)
            log.warning("fmd_profiler: unreadable segment %s (%s) moved to %s", path.name,
                        problem, target)
        except OSError:
            pass

    @contextlib.contextmanager
    def transaction(self, *, timeout: float = 30.0) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection in one transaction, under the exclusive store lock.

        For writers of :data:`~fmd_profiler.schema.DIRECT_TABLES` (the benchmark harness and its
        upload receiver): everything done in the block commits together, or nothing does.
        """
        with self.lock(exclusive=True, timeout=timeout) as got:
            if not got:
                raise StoreError(f"the store {self.location.database} stayed locked by another "
                                 f"process for {timeout:g} s; try again in a moment")
            con = self._connect_rw()
            try:
                con.execute("BEGIN TRANSACTION")
                try:
                    yield con
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
                con.execute("COMMIT")
            finally:
                con.close()

    # -- reading ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def read(self, *, ingest_first: bool = True,
             extra_segments: Sequence[Path] = ()) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only session: views over the database plus the segments not yet ingested."""
        if ingest_first:
            with contextlib.suppress(StoreError, OSError, duckdb.Error):
                self.ingest(timeout=1.0)
        with self.lock(exclusive=False, timeout=30.0) as got:
            if not got:
                raise StoreError(f"the store {self.location.database} stayed locked by another "
                                 "process for 30 s; try again when its ingestion has finished")
            con = duckdb.connect(config=dict(self._config))
            try:
                con.execute("SET enable_progress_bar = false")  # none on the caller's terminal
                attached = False
                if _has_content(self.location.database):
                    try:
                        con.execute(f"ATTACH '{_sql_str(self.location.database)}' AS stored "
                                    "(READ_ONLY)")
                        attached = True
                    except duckdb.Error as exc:
                        raise StoreError(_explain_open_error(self.location.database, exc)) \
                            from exc
                create_read_views(con, "stored" if attached else None,
                                  {name: self.location.pending_segments(name)
                                   for name in SEGMENT_TABLES},
                                  extra_segments)
                yield con
            finally:
                con.close()


@contextlib.contextmanager
def read_segments(paths: Sequence[Path]) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read session over bare segment files (``<table>/<name>.seg``), no database file."""
    con = duckdb.connect()
    try:
        create_read_views(con, None, {}, paths)
        yield con
    finally:
        con.close()


def insert_rows(con: duckdb.DuckDBPyConnection, table: Table,
                rows: Sequence[tuple[object, ...]]) -> int:
    """Append ``rows`` (every column of ``table``, in order; None is NULL) in one statement.

    Object arrays rather than typed ones, because direct tables have nullable numbers; DuckDB
    scans them in bulk (``executemany`` takes seconds for 20k rows).
    """
    if not rows:
        return 0
    arrays = {c.name: np.fromiter(values, dtype=object, count=len(rows))
              for c, values in zip(table.columns, zip(*rows, strict=True), strict=True)}
    with _registered(con, "fmd_rows", arrays):
        con.execute(f"INSERT INTO {table.name} ({', '.join(table.column_names)}) "
                    f"SELECT {select_sql(table)} FROM fmd_rows")
    return len(rows)


@dataclass(frozen=True)
class SegmentBatch:
    """The decoded rows of some segments of one table, as numpy columns."""

    columns: dict[str, np.ndarray]
    rows: int
    paths: list[Path]  # the segments in it
    unreadable: list[tuple[Path, str]]  # segments left out, and why


def load_segments(table: Table, paths: Sequence[Path]) -> SegmentBatch:
    """Decode ``paths`` into one batch; a file that is gone or damaged is left out."""
    parts: list[dict[str, np.ndarray]] = []
    good: list[Path] = []
    bad: list[tuple[Path, str]] = []
    total = 0
    for path in paths:
        try:
            columns, n = read_segment(path, table)
        except FileNotFoundError:
            continue  # ingested and removed meanwhile
        except (OSError, SegmentError) as exc:
            bad.append((path, str(exc)))
            continue
        except Exception as exc:  # any other failure is this file's damage
            bad.append((path, one_line(exc)))
            continue
        parts.append(columns)
        good.append(path)
        total += n
    columns = {c.name: (np.concatenate([part[c.name] for part in parts]) if parts
                        else np.empty(0, dtype=object)) for c in table.columns}
    return SegmentBatch(columns, total, good, bad)


def _chunks_by_size(paths: list[Path]) -> Iterator[list[Path]]:
    chunk: list[Path] = []
    size = 0
    for path in paths:
        with contextlib.suppress(OSError):  # gone or unreadable: load_segments says which
            size += path.stat().st_size
        chunk.append(path)
        if size >= INGEST_CHUNK_BYTES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def select_sql(table: Table) -> str:
    """Every column of ``table`` from decoded columns of the same names, in its stored type."""
    return ", ".join(column_sql(c.name, c.sql_type, c.kind) for c in table.columns)


def register_columns(con: duckdb.DuckDBPyConnection, name: str,
                     columns: dict[str, np.ndarray]) -> None:
    """Make numpy ``columns`` readable as the view ``name``.

    DuckDB types an object column from a sample of its values; DuckDB 1.5 (the one fleet mode
    runs on) fails on a column whose sampled values are all None (more than 1000 rows of it,
    e.g. ``exception`` on a healthy server) unless it looks at every value.
    """
    con.execute(f"SET pandas_analyze_sample = {ANALYZE_SAMPLE_ROWS}")
    con.register(name, columns)


@contextlib.contextmanager
def _registered(con: duckdb.DuckDBPyConnection, name: str,
                columns: dict[str, np.ndarray]) -> Iterator[None]:
    register_columns(con, name, columns)
    try:
        yield
    finally:
        # After a failed statement the transaction is aborted and unregister fails too; the
        # statement's error is the one to see (the caller rolls back).
        with contextlib.suppress(duckdb.Error):
            con.unregister(name)


@functools.cache
def schema_fingerprint() -> str:
    """A digest of every table definition: equal fingerprints, nothing to migrate."""
    ddl = "\n".join(create_table_sql(t) for t in (*SEGMENT_TABLES.values(),
                                                   *DIRECT_TABLES.values()))
    return hashlib.blake2b(f"{SCHEMA_VERSION}\n{ddl}".encode(), digest_size=8).hexdigest()


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create missing tables and columns (additive migrations only).

    Every ingestion calls this; a file already at this code's schema is recognised by its
    fingerprint in ``meta`` in one query (the full check reads the whole catalogue).
    """
    fingerprint = schema_fingerprint()
    try:
        found = con.execute("SELECT value FROM meta WHERE key = 'schema_fingerprint'").fetchone()
    except duckdb.CatalogException:
        found = None
    if found is not None and found[0] == fingerprint:
        return
    con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute("CREATE TABLE IF NOT EXISTS ingested_segments "
                "(name VARCHAR, ingested_at TIMESTAMP)")
    for table in (*SEGMENT_TABLES.values(), *DIRECT_TABLES.values()):
        con.execute(create_table_sql(table))
        existing = {r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = $t "
            "AND table_catalog = current_database()", {"t": table.name}).fetchall()}
        for column in table.columns:
            if column.name not in existing:
                con.execute(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {column.sql_type}")
    con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', $v)",
                {"v": str(SCHEMA_VERSION)})
    con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_fingerprint', $v)",
                {"v": fingerprint})


def utc_cutoff(days: int, now: datetime | None = None) -> datetime:
    """The naive UTC time ``days`` days before ``now``, as stored timestamps are.

    Computed here rather than with SQL's ``now()::TIMESTAMP``, which is in the session's time
    zone (the machine's ``TZ``): with a zone 14 h ahead, "keep 1 day" would delete rows 14 h
    too new. Raises :class:`StoreError` for a count no calendar holds.
    """
    now = now or datetime.now(UTC)
    try:
        return (now - timedelta(days=days)).astimezone(UTC).replace(tzinfo=None)
    except (OverflowError, ValueError):
        raise StoreError(f"{days} days reaches before the year 1; give at most "
                         f"{MAX_PRUNE_DAYS} days") from None


def prune_older_than(con: duckdb.DuckDBPyConnection, days: int,
                     now: datetime | None = None) -> None:
    """Delete rows older than ``days`` days from every table with a time column."""
    cutoff = utc_cutoff(days, now)
    for table in SEGMENT_TABLES.values():
        if table.time_column:
            con.execute(f"DELETE FROM {table.name} WHERE {table.time_column} < $cutoff",
                        {"cutoff": cutoff})
    con.execute("DELETE FROM ingested_segments WHERE ingested_at < $cutoff",
                {"cutoff": utc_cutoff(INGESTED_NAMES_KEEP_DAYS, now)})


def create_read_views(con: duckdb.DuckDBPyConnection, attached: str | None,
                      pending: dict[str, list[Path]], extra_segments: Sequence[Path] = ()) -> None:
    """Define one view per table: stored rows UNION ALL segment rows (deduplicated by key)."""
    extra_by_table: dict[str, list[Path]] = {}
    for path in extra_segments:
        extra_by_table.setdefault(path.parent.name, []).append(path)
    stored_columns: dict[str, set[str]] = {}
    if attached:
        for table_name, column in con.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_catalog = $c", {"c": attached}).fetchall():
            stored_columns.setdefault(table_name, set()).add(column)
    for table in SEGMENT_TABLES.values():
        cols = ", ".join(table.column_names)
        parts = []
        if attached is not None and table.name in stored_columns:
            parts.append(_select_stored(table, attached, stored_columns[table.name]))
        waiting = pending.get(table.name, [])
        if len(waiting) > MAX_READ_SEGMENTS:
            log.warning("fmd_profiler: %d %s segments wait for ingestion; this view shows the "
                        "newest %d", len(waiting), table.name, MAX_READ_SEGMENTS)
            waiting = waiting[-MAX_READ_SEGMENTS:]
        files = waiting + extra_by_table.get(table.name, [])
        if files:
            batch = load_segments(table, files)
            for path, problem in batch.unreadable:  # ingestion sets them aside; here: skip
                log.warning("fmd_profiler: skipping unreadable segment %s (%s)", path, problem)
            # The connection keeps the registered columns alive as long as it lives.
            register_columns(con, f"fmd_pending_{table.name}", batch.columns)
            parts.append(f"SELECT {select_sql(table)} FROM fmd_pending_{table.name}")
        if not parts:
            parts.append(_select_nothing(table))
        body = " UNION ALL ".join(parts)
        if table.key:
            keys = ", ".join(table.key)
            time_col = next((c.name for c in table.columns if c.sql_type == "TIMESTAMP"),
                            table.column_names[0])
            body = (f"SELECT {cols} FROM ({body}) QUALIFY row_number() OVER "
                    f"(PARTITION BY {keys} ORDER BY {time_col} DESC) = 1")
        con.execute(f"CREATE OR REPLACE TEMP VIEW {table.name} AS {body}")
    for table in DIRECT_TABLES.values():  # never in segments: the stored rows or none
        body = (_select_stored(table, attached, stored_columns[table.name])
                if attached is not None and table.name in stored_columns
                else _select_nothing(table))
        con.execute(f"CREATE OR REPLACE TEMP VIEW {table.name} AS {body}")


def _select_stored(table: Table, attached: str, present: set[str]) -> str:
    """The stored rows of ``table``; an older file may lack newer columns: read them as NULL."""
    select = ", ".join(c.name if c.name in present else
                       f"CAST(NULL AS {c.sql_type}) AS {c.name}" for c in table.columns)
    return f"SELECT {select} FROM {attached}.{table.name}"


def _select_nothing(table: Table) -> str:
    empty = ", ".join(f"CAST(NULL AS {c.sql_type}) AS {c.name}" for c in table.columns)
    return f"SELECT {empty} WHERE false"


def _explain_open_error(path: Path, exc: duckdb.Error) -> str:
    text = str(exc).splitlines()[0]
    if "lock" in text.lower():
        return (f"the DuckDB file {path} is locked by another program ({text}); close that "
                "program (a DuckDB shell, a notebook) - fmd_profiler keeps the data in its spool "
                "folder meanwhile")
    if isinstance(exc, duckdb.IOException) or "not a valid DuckDB" in text \
            or "database file" in text.lower():
        return (f"cannot open the DuckDB file {path} ({text}); if it is corrupt, move it away - "
                "data not yet ingested stays in the spool folder and goes into a new file")
    return f"cannot open the DuckDB file {path}: {text}"


def _has_content(path: Path) -> bool:
    """A database file with bytes in it (an empty one is a failed creation: nothing to read)."""
    try:
        return path.stat().st_size > 0
    except OSError:
        return False


def _remove_new_file(path: Path) -> None:
    """Remove a database file this process just created and could not finish (nothing in it)."""
    for leftover in (path, path.with_name(path.name + ".wal")):
        unlink_quietly(leftover)


def _sql_str(value: object) -> str:
    return str(value).replace("'", "''")
