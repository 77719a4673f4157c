"""The tables fmd_profiler stores, described once as plain data.

Each :class:`Table` lists its columns with their DuckDB type and the Python form the recorder
hands over (``kind``). The segment writer, the ingester and the queries all read this module, so a
column is added in one place. Every table carries ``host`` and ``pid`` so rows from many machines
merge by ``UNION ALL``. Timestamps are naive UTC ``TIMESTAMP`` values.
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEMA_VERSION = 1

# Python forms of a column value, as produced by the recorder:
STR = "str"  # str or None
INT = "int"  # int
FLOAT = "float"  # float
EPOCH = "epoch"  # float seconds since the epoch -> TIMESTAMP
BOOL = "bool"


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str
    kind: str


@dataclass(frozen=True)
class Table:
    """A stored table. ``key`` makes ingestion an upsert (newest row wins) instead of an append."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    time_column: str | None = None  # what RETENTION_DAYS prunes by
    doc: str = ""

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _cols(*spec: tuple[str, str, str]) -> tuple[Column, ...]:
    return tuple(Column(*s) for s in spec)


_ORIGIN = (("host", "VARCHAR", STR), ("pid", "INTEGER", INT))

REQUESTS = Table(
    "requests",
    _cols(
        ("endpoint", "VARCHAR", STR),
        ("rule", "VARCHAR", STR),
        ("method", "VARCHAR", STR),
        ("status", "SMALLINT", INT),
        ("duration_ms", "DOUBLE", FLOAT),
        ("cpu_ms", "DOUBLE", FLOAT),
        ("started_at", "TIMESTAMP", EPOCH),
        ("version", "VARCHAR", STR),
        ("group_by", "VARCHAR", STR),
        ("ip", "VARCHAR", STR),
        ("exception", "VARCHAR", STR),
        ("test_id", "VARCHAR", STR),
        *_ORIGIN,
    ),
    time_column="started_at",
    doc="One row per monitored request (level >= 1).",
)

ROUTES = Table(
    "routes",
    _cols(
        ("endpoint", "VARCHAR", STR),
        ("rule", "VARCHAR", STR),
        ("methods", "VARCHAR", STR),
        ("level", "TINYINT", INT),
        ("seen_at", "TIMESTAMP", EPOCH),
        *_ORIGIN,
    ),
    key=("endpoint", "rule"),
    doc="Every URL rule of the app, hit or not, with its monitoring level when last seen.",
)

PROCESS_STATS = Table(
    "process_stats",
    _cols(
        ("reported_at", "TIMESTAMP", EPOCH),
        ("version", "VARCHAR", STR),
        ("recorded", "BIGINT", INT),
        ("dropped", "BIGINT", INT),
        *_ORIGIN,
    ),
    time_column="reported_at",
    doc="Cumulative per-process counters: rows recorded and rows dropped because the buffer "
        "was full.",
)

#: Tables written through spool segments, in ingestion order.
SEGMENT_TABLES: dict[str, Table] = {t.name: t for t in (REQUESTS, ROUTES, PROCESS_STATS)}


def create_table_sql(table: Table) -> str:
    cols = ", ".join(f"{c.name} {c.sql_type}" for c in table.columns)
    key = f", PRIMARY KEY ({', '.join(table.key)})" if table.key else ""
    return f"CREATE TABLE IF NOT EXISTS {table.name} ({cols}{key})"
