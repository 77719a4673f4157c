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

# -- the benchmark harness (fmd_profiler.benchmark) ---------------------------------------------
# Written directly into DuckDB, one transaction per run (never through segments): a run is stored
# whole or not at all. Rounds count from 1; rounds 1..warmup_rounds are warm-up and left out of
# every statistic. Rows of many machines merge by UNION ALL: run ids are UUIDs.

BENCH_RUNS = Table(
    "bench_runs",
    _cols(
        ("run_id", "VARCHAR", STR),
        ("label", "VARCHAR", STR),  # 'run', or 'base' / 'head' for an --against comparison
        ("started_at", "TIMESTAMP", EPOCH),
        ("finished_at", "TIMESTAMP", EPOCH),
        ("sha", "VARCHAR", STR),
        ("short_sha", "VARCHAR", STR),
        ("tag", "VARCHAR", STR),
        ("branch", "VARCHAR", STR),  # None on a detached HEAD
        ("ci_ref", "VARCHAR", STR),  # the branch the CI says it builds (detached checkouts)
        ("dirty", "BOOLEAN", BOOL),
        ("committed_at", "TIMESTAMP", EPOCH),
        ("app_version", "VARCHAR", STR),
        ("machine", "VARCHAR", STR),  # fingerprint: hardware, OS, Python x.y
        ("machine_info", "VARCHAR", STR),  # JSON: what the fingerprint is made of
        ("python", "VARCHAR", STR),
        ("packages_hash", "VARCHAR", STR),
        ("ci_provider", "VARCHAR", STR),
        ("ci_job_id", "VARCHAR", STR),
        ("host", "VARCHAR", STR),
        ("rounds", "INTEGER", INT),
        ("warmup_rounds", "INTEGER", INT),
        ("tests_collected", "INTEGER", INT),
        ("pytest_exit", "INTEGER", INT),
        ("unattributed_requests", "INTEGER", INT),
        ("exact", "BOOLEAN", BOOL),
        ("harness_version", "VARCHAR", STR),
    ),
    key=("run_id",),
    doc="One row per benchmark run: the commit, the machine and how the suite was run.",
)

BENCH_TESTS = Table(
    "bench_tests",
    _cols(
        ("run_id", "VARCHAR", STR),
        ("test_id", "VARCHAR", STR),  # the pytest node id
        ("round", "INTEGER", INT),
        ("setup_ms", "DOUBLE", FLOAT),
        ("call_ms", "DOUBLE", FLOAT),
        ("teardown_ms", "DOUBLE", FLOAT),
        ("outcome", "VARCHAR", STR),  # passed, failed, skipped, error
    ),
    key=("run_id", "test_id", "round"),
    doc="One row per test per round: phase durations (as pytest measured them) and outcome.",
)

BENCH_REQUESTS = Table(
    "bench_requests",
    _cols(
        ("run_id", "VARCHAR", STR),
        ("test_id", "VARCHAR", STR),
        ("round", "INTEGER", INT),
        ("endpoint", "VARCHAR", STR),
        ("rule", "VARCHAR", STR),
        ("method", "VARCHAR", STR),
        ("status", "SMALLINT", INT),
        ("duration_ms", "DOUBLE", FLOAT),
        ("cpu_ms", "DOUBLE", FLOAT),
        ("started_at", "TIMESTAMP", EPOCH),
    ),
    doc="Every request a test made, raw (the samples behind bench_endpoints).",
)

BENCH_ENDPOINTS = Table(
    "bench_endpoints",
    _cols(
        ("run_id", "VARCHAR", STR),
        ("test_id", "VARCHAR", STR),
        ("endpoint", "VARCHAR", STR),
        ("round", "INTEGER", INT),
        ("hits", "INTEGER", INT),
        ("total_ms", "DOUBLE", FLOAT),
        ("median_ms", "DOUBLE", FLOAT),
        ("max_ms", "DOUBLE", FLOAT),
        ("errors", "INTEGER", INT),
    ),
    key=("run_id", "test_id", "endpoint", "round"),
    doc="Per (test, endpoint, round): hits and durations, derived from bench_requests in SQL.",
)

BENCH_FUNCTIONS = Table(
    "bench_functions",
    _cols(
        ("run_id", "VARCHAR", STR),
        ("test_id", "VARCHAR", STR),
        ("round", "INTEGER", INT),
        ("function", "VARCHAR", STR),  # module:qualname
        ("file", "VARCHAR", STR),
        ("calls", "BIGINT", INT),
        ("total_ms", "DOUBLE", FLOAT),
        ("self_ms", "DOUBLE", FLOAT),
    ),
    key=("run_id", "test_id", "round", "function", "file"),
    doc="Exact mode (yappi): per test per round, the project's functions with call counts.",
)

BENCH_VERDICTS = Table(
    "bench_verdicts",
    _cols(
        ("run_id", "VARCHAR", STR),
        ("baseline_run_id", "VARCHAR", STR),
        ("kind", "VARCHAR", STR),  # 'test' or 'endpoint'
        ("name", "VARCHAR", STR),
        ("n_base", "INTEGER", INT),
        ("n_head", "INTEGER", INT),
        ("base_median_ms", "DOUBLE", FLOAT),
        ("head_median_ms", "DOUBLE", FLOAT),
        ("ratio", "DOUBLE", FLOAT),  # head median / base median
        ("ci_low", "DOUBLE", FLOAT),  # Hodges-Lehmann confidence interval of the ratio
        ("ci_high", "DOUBLE", FLOAT),
        ("p_value", "DOUBLE", FLOAT),  # one-sided Mann-Whitney, head slower than base
        ("p_adjusted", "DOUBLE", FLOAT),  # Benjamini-Hochberg over every comparison of the run
        ("detectable_ratio", "DOUBLE", FLOAT),  # smallest ratio this comparison could flag
        ("verdict", "VARCHAR", STR),  # regression, ok, too_few_samples
    ),
    key=("run_id", "kind", "name"),
    doc="The regression verdicts of a run against its baseline, per test and per endpoint.",
)

BENCH_SUBMISSIONS = Table(
    "bench_submissions",
    _cols(
        ("run_id", "VARCHAR", STR),
        ("digest", "VARCHAR", STR),  # sha256 of the measured data (verdicts excluded)
        ("stored_at", "TIMESTAMP", EPOCH),
    ),
    key=("run_id",),
    doc="When each run was stored and a digest of its data: makes uploads idempotent.",
)

#: Tables written directly into DuckDB in one transaction (the benchmark harness).
DIRECT_TABLES: dict[str, Table] = {t.name: t for t in (
    BENCH_RUNS, BENCH_TESTS, BENCH_REQUESTS, BENCH_ENDPOINTS, BENCH_FUNCTIONS, BENCH_VERDICTS,
    BENCH_SUBMISSIONS)}


def create_table_sql(table: Table) -> str:
    cols = ", ".join(f"{c.name} {c.sql_type}" for c in table.columns)
    key = f", PRIMARY KEY ({', '.join(table.key)})" if table.key else ""
    return f"CREATE TABLE IF NOT EXISTS {table.name} ({cols}{key})"
