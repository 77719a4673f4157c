"""Spool segments: immutable Parquet files, one per table per flush per process.

A worker process never opens the DuckDB database to record: it writes its batch to
``<database>.spool/<table>/<host>-<pid>-<time>-<seq>.parquet`` through a temporary name and an
``os.replace``, so a reader sees a whole segment or none. Whoever holds the store lock later
ingests the segments (:mod:`fmd_profiler.store.database`). Segments are plain Parquet, so a fleet
can ship them anywhere DuckDB, Spark or Trino can read.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import duckdb
import numpy as np

from fmd_profiler.schema import BOOL, EPOCH, FLOAT, INT, INT_LIST, STR, Table

SEGMENT_SUFFIX = ".parquet"
ORIGIN_COLUMNS = ("host", "pid")


@dataclass(frozen=True)
class StoreLocation:
    """The files that make up one store, all derived from the database path."""

    database: Path

    @property
    def spool_dir(self) -> Path:
        return self.database.with_name(self.database.name + ".spool")

    @property
    def lock_path(self) -> Path:
        return self.database.with_name(self.database.name + ".lock")

    @property
    def levels_path(self) -> Path:
        """Monitoring levels changed from the dashboard; every worker polls it."""
        return self.spool_dir / "levels.json"

    @property
    def quarantine_dir(self) -> Path:
        return self.spool_dir / "quarantine"

    def table_dir(self, table: str) -> Path:
        return self.spool_dir / table

    def pending_segments(self, table: str) -> list[Path]:
        """Segments of ``table`` waiting for ingestion, oldest first."""
        try:
            entries = os.scandir(self.table_dir(table))
        except FileNotFoundError:
            return []
        with entries:
            names = sorted(e.name for e in entries
                           if e.name.endswith(SEGMENT_SUFFIX) and not e.name.startswith("."))
        return [self.table_dir(table) / n for n in names]


def column_sql(name: str, sql_type: str, kind: str) -> str:
    if kind == EPOCH:
        return f"make_timestamp(CAST(round({name} * 1e6) AS BIGINT)) AS {name}"
    return f"CAST({name} AS {sql_type}) AS {name}"


def _to_array(kind: str, values: Sequence[object]) -> np.ndarray:
    if kind == STR:
        return np.array(values, dtype=object)
    if kind in (INT, FLOAT, EPOCH) and None in values:
        return np.array(values, dtype=object)  # DuckDB reads None as NULL
    if kind == INT:
        return np.array(values, dtype=np.int64)
    if kind in (FLOAT, EPOCH):
        return np.array(values, dtype=np.float64)
    if kind == BOOL:
        return np.array(values, dtype=np.bool_)
    if kind == INT_LIST:
        array = np.empty(len(values), dtype=object)  # np.array would make a 2-D array
        array[:] = [list(cast(Sequence[int], v)) for v in values]
        return array
    raise ValueError(f"unknown column kind {kind!r}")


class SegmentWriter:
    """Turns lists of row tuples into Parquet segments. One per process; thread-safe.

    Rows hold every column of the table except ``host`` and ``pid``, in table order; this writer
    adds those two.
    """

    def __init__(self, location: StoreLocation, *, host: str | None = None,
                 pid: int | None = None) -> None:
        self.location = location
        self.host = host or socket.gethostname()
        self.pid = pid or os.getpid()
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None

    def write(self, table: Table, rows: Sequence[tuple[object, ...]]) -> Path:
        """Write ``rows`` as one segment and return its path. Raises OSError / duckdb.Error."""
        data_columns = [c for c in table.columns if c.name not in ORIGIN_COLUMNS]
        arrays = {c.name: _to_array(c.kind, values)
                  for c, values in zip(data_columns, zip(*rows, strict=True), strict=True)}
        select = ", ".join(
            [column_sql(c.name, c.sql_type, c.kind) for c in data_columns]
            + ["CAST($host AS VARCHAR) AS host", "CAST($pid AS INTEGER) AS pid"])
        folder = self.location.table_dir(table.name)
        name = (f"{_safe(self.host)}-{self.pid}-{int(_now_ms()):013d}-"
                f"{next(self._seq):06d}{SEGMENT_SUFFIX}")
        final = folder / name
        temp = folder / f".{name}.tmp"
        with self._lock:
            folder.mkdir(parents=True, exist_ok=True)
            con = self._connection()
            con.register("batch", arrays)
            try:
                con.execute(f"COPY (SELECT {select} FROM batch) TO '{_sql_path(temp)}' "
                            "(FORMAT parquet, COMPRESSION zstd)",
                            {"host": self.host, "pid": self.pid})
            finally:
                con.unregister("batch")
        try:
            os.replace(temp, final)
        except OSError:
            unlink_quietly(temp)
            raise
        return final

    def _connection(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            # In-memory and single-threaded: it only converts batches, it never opens the store.
            self._con = duckdb.connect(config={"threads": 1, "memory_limit": "128MB"})
        return self._con

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None


def _now_ms() -> float:
    return time.time() * 1000


def _safe(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._" else "_" for ch in text)[:64] or "host"


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def unlink_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
