"""Spool segments: immutable files of rows, one per table per flush per process.

A worker process never opens the DuckDB database to record: it writes its batch to
``<database>.spool/<table>/<host>-<pid>-<time>-<seq>.seg`` through a temporary name and an
``os.replace``, so a reader sees a whole segment or none. Whoever holds the store lock later
ingests the segments (:mod:`fmd_profiler.store.database`).

The format is built for the writer's cost, because every worker pays it every second: a
``marshal`` dump of the batch in columns, numbers as packed arrays and strings as a dictionary
plus codes (endpoint, method and version repeat on almost every row). A Parquet file written
through DuckDB has a fixed cost per file that every worker would pay every second, and would
load DuckDB into every worker; so the conversion to DuckDB's columns happens once, at
ingestion, in bulk (the flush's cost per row: docs/performance.md, "Storage and memory").
``marshal`` only builds plain values (no code runs while loading, unlike pickle); the spool
folder is as trusted as the database file next to it.
"""

from __future__ import annotations

import contextlib
import itertools
import marshal
import os
import socket
import time
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fmd_profiler.schema import EPOCH, FLOAT, INT, INT_LIST, STR, Column, Table

if TYPE_CHECKING:
    import numpy as np

SEGMENT_SUFFIX = ".seg"
#: First bytes of every segment; the digit is the format version.
MAGIC = b"fmd_profiler segment 1\n"
#: Most rows one segment may hold: a flush never buffers more (MAX_BUFFERED_ROWS' ceiling), so
#: a larger count is damage, refused before it is allocated.
MAX_SEGMENT_ROWS = 10_000_000
#: The most days a prune or RETENTION_DAYS may keep (a century; more is a typo).
MAX_PRUNE_DAYS = 36_500
#: The ``pid`` column's SQL type (INTEGER) holds no more.
_PID_RANGE = range(-2**31, 2**31)


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
    def attempts_path(self) -> Path:
        """Recent sign-in and upload-token attempts, shared by every process (the throttle's
        folder of small files)."""
        return self.spool_dir / "attempts"

    @property
    def sessions_path(self) -> Path:
        """Each dashboard account's session generation (bumped by sign-out)."""
        return self.spool_dir / "sessions.json"

    @property
    def ingest_marker_path(self) -> Path:
        """Touched when a process starts an ingestion child; its age paces them all."""
        return self.spool_dir / "last-ingestion"

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


#: Column kinds stored as packed machine numbers (when no value is None).
_PACKED = {FLOAT: "d", EPOCH: "d", INT: "q"}
_DTYPES = {"d": "float64", "q": "int64"}


class SegmentError(ValueError):
    """A file in the spool that is not a readable segment of the expected table."""


def encode(table: Table, rows: Sequence[tuple[object, ...]], host: str, pid: int) -> bytes:
    """One segment's bytes. ``rows`` hold the table's :attr:`~Table.row_columns`, in order; the
    segment adds the origin columns (``host`` and ``pid``) once."""
    data_columns = [c for c in table.columns if c.name in table.row_columns]
    values = list(zip(*rows, strict=True))
    try:
        return _dump(table, data_columns, values, host, pid, len(rows))
    except (TypeError, ValueError):
        # A value the dictionary or marshal cannot take (a list, an object of the app's own
        # class): store what it reads as, rather than let one row block the table for good.
        plain = [_plain(c.kind, v) for c, v in zip(data_columns, values, strict=True)]
        return _dump(table, data_columns, plain, host, pid, len(rows))


def _dump(table: Table, data_columns: list[Column], values: list[tuple[Any, ...]], host: str,
          pid: int, n: int) -> bytes:
    columns = {c.name: _encode_column(c.kind, v)
               for c, v in zip(data_columns, values, strict=True)}
    return MAGIC + marshal.dumps({"table": table.name, "host": host, "pid": pid, "rows": n,
                                  "columns": columns})


def _plain(kind: str, values: tuple[Any, ...]) -> tuple[Any, ...]:
    """``values`` as the plain Python values their column stores (None where there is none)."""
    if kind == STR:
        return tuple(v if v is None or type(v) is str else str(v) for v in values)
    if kind == INT_LIST:
        return tuple(_int_list(v) for v in values)
    return tuple(v if isinstance(v, (int, float)) else None for v in values)


def _clean_text(value: Any) -> Any:
    """``value`` with lone surrogates (text no UTF-8 can hold, e.g. from a ``get_group_by``)
    replaced by U+FFFD, so one odd value does not make DuckDB refuse its whole segment."""
    if type(value) is not str or value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in value)
    return value


def _int_list(value: object) -> list[int] | None:
    try:
        return [int(x) for x in value]  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        return None


def _encode_column(kind: str, values: tuple[Any, ...]) -> tuple[Any, ...]:
    typecode = _PACKED.get(kind)
    if typecode is not None:
        try:
            return (typecode, array(typecode, values).tobytes())
        except (TypeError, OverflowError):  # a None (NULL), a float in an INT column, a huge int
            return ("o", list(values))
    if kind == STR:
        uniques = dict.fromkeys(values)
        if len(uniques) == 1:
            return ("c", _clean_text(values[0]))
        index = {value: i for i, value in enumerate(uniques)}
        return ("s", [_clean_text(u) for u in uniques],
                array("i", map(index.__getitem__, values)).tobytes())
    return ("o", [list(v) for v in values] if kind == INT_LIST else list(values))


def decode(data: bytes, table: Table) -> tuple[dict[str, np.ndarray], int]:
    """A segment's columns (every column of ``table``; ones it lacks are NULL) and row count.

    Raises :class:`SegmentError` for anything that is not a segment of ``table``.
    """
    import numpy as np  # here, not at the top: workers write segments and never decode them

    if not data.startswith(MAGIC):
        raise SegmentError("not an fmd_profiler segment (or written by a newer version)")
    try:
        payload = marshal.loads(data[len(MAGIC):])
        n, host, pid, encoded = (payload["rows"], payload["host"], payload["pid"],
                                 payload["columns"])
        if payload["table"] != table.name:
            raise SegmentError(f"a segment of table {payload['table']!r}, not {table.name!r}")
        # Checked before anything is allocated: a row count of inf or 10**12, or a pid no
        # column can hold, must fail here as damage, not later as an overflow or out of memory.
        if type(n) is not int or not 0 <= n <= MAX_SEGMENT_ROWS:
            raise SegmentError(f"damaged segment (a row count of {_show(n)})")
        if type(pid) is not int or pid not in _PID_RANGE or type(host) is not str \
                or type(encoded) is not dict:
            raise SegmentError("damaged segment (its host, pid or columns are of the wrong "
                               "kind)")
        columns = {"host": _repeat(_clean_text(host), n),
                   "pid": np.full(n, pid, dtype=np.int64)}
        for column in table.columns:
            if column.name not in columns:
                columns[column.name] = _decode_column(encoded.get(column.name), n)
    except SegmentError:
        raise
    except Exception as exc:  # whatever else damage makes marshal or numpy raise
        raise SegmentError(f"damaged segment ({type(exc).__name__}: {exc})") from exc
    return columns, n


def _decode_column(encoded: tuple[Any, ...] | None, n: int) -> np.ndarray:
    import numpy as np

    if encoded is None:  # written before this column existed
        return _repeat(None, n)
    how = encoded[0]
    if how in _DTYPES:
        values = np.frombuffer(encoded[1], dtype=_DTYPES[how])
    elif how == "c":
        values = _repeat(_clean_text(encoded[1]), n)
    elif how == "s":
        # cleaned here too: segments written before encode cleaned them
        dictionary = np.fromiter(map(_clean_text, encoded[1]), dtype=object,
                                 count=len(encoded[1]))
        values = dictionary[np.frombuffer(encoded[2], dtype=np.int32)]
    elif how == "o":
        values = np.fromiter(encoded[1], dtype=object, count=len(encoded[1]))
    else:
        raise SegmentError(f"unknown column encoding {how!r}")
    if len(values) != n:
        raise SegmentError(f"a column has {len(values)} values for {n} rows")
    return values


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _repeat(value: object, n: int) -> np.ndarray:
    import numpy as np

    values = np.empty(n, dtype=object)
    values.fill(value)  # np.full(n, value, dtype=object) is many times slower for objects
    return values


def read_segment(path: Path, table: Table) -> tuple[dict[str, np.ndarray], int]:
    """:func:`decode` the file at ``path`` (OSError when it cannot be read)."""
    return decode(path.read_bytes(), table)


def column_sql(name: str, sql_type: str, kind: str) -> str:
    """The SQL that turns a decoded column into its stored type."""
    if kind == EPOCH:
        return f"make_timestamp(CAST(round({name} * 1e6) AS BIGINT)) AS {name}"
    return f"CAST({name} AS {sql_type}) AS {name}"


class SegmentWriter:
    """Turns lists of row tuples into segment files. One per process; thread-safe.

    Rows hold the table's :attr:`~fmd_profiler.schema.Table.row_columns` in order; this writer adds
    the origin columns (:data:`~fmd_profiler.schema.ORIGIN_COLUMNS`).
    """

    def __init__(self, location: StoreLocation, *, host: str | None = None,
                 pid: int | None = None) -> None:
        self.location = location
        self.host = host or socket.gethostname()
        self.pid = pid or os.getpid()
        self._seq = itertools.count()

    def write(self, table: Table, rows: Sequence[tuple[object, ...]]) -> Path:
        """Write ``rows`` as one segment and return its path. Raises OSError."""
        data = encode(table, rows, self.host, self.pid)
        folder = self.location.table_dir(table.name)
        name = (f"{_safe(self.host)}-{self.pid}-{int(_now_ms()):013d}-"
                f"{next(self._seq):06d}{SEGMENT_SUFFIX}")
        final = folder / name
        temp = folder / f".{name}.tmp"
        folder.mkdir(parents=True, exist_ok=True)
        try:
            temp.write_bytes(data)
            os.replace(temp, final)
        except OSError:
            unlink_quietly(temp)
            raise
        return final

    def close(self) -> None:
        """Nothing to release (kept so callers need not know the format)."""


def _now_ms() -> float:
    return time.time() * 1000


def _safe(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._" else "_" for ch in text)[:64] or "host"


def unlink_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
