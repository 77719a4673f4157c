"""The tables fmd_profiler stores, described once as plain data.

Each :class:`Table` lists its columns with their DuckDB type and the Python form the recorder
hands over (``kind``). The segment writer, the ingester and the queries all read this module, so a
column is added in one place. Every table carries ``host`` and ``pid`` so rows from many machines
merge by ``UNION ALL``. Timestamps are naive UTC ``TIMESTAMP`` values.
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEMA_VERSION = 1

#: The endpoint of requests no URL rule matched (404s, 405s): one bucket, so scanners probing
#: random paths cannot grow the store.
UNMATCHED = "<unmatched>"

#: Columns every table carries that the segment writer adds (the process that wrote the rows),
#: so a recorded row holds all the other columns, in table order: :attr:`Table.row_columns`.
ORIGIN_COLUMNS = ("host", "pid")

# Python forms of a column value, as produced by the recorder:
STR = "str"  # str or None
INT = "int"  # int (None is stored as NULL)
FLOAT = "float"  # float (None is stored as NULL)
EPOCH = "epoch"  # float seconds since the epoch -> TIMESTAMP
BOOL = "bool"
INT_LIST = "int_list"  # list of int -> BIGINT[]


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

    @property
    def row_columns(self) -> tuple[str, ...]:
        """What a recorded row (a tuple) holds, in order: every column but the origin ones."""
        return tuple(c.name for c in self.columns if c.name not in ORIGIN_COLUMNS)


def _cols(*spec: tuple[str, str, str]) -> tuple[Column, ...]:
    return tuple(Column(*s) for s in spec)


_ORIGIN = ((ORIGIN_COLUMNS[0], "VARCHAR", STR), (ORIGIN_COLUMNS[1], "INTEGER", INT))
#: What is measured of every request, in the live store and in benchmark runs alike.
_REQUEST = (
    ("endpoint", "VARCHAR", STR),
    ("rule", "VARCHAR", STR),
    ("method", "VARCHAR", STR),
    ("status", "SMALLINT", INT),
    ("duration_ms", "DOUBLE", FLOAT),
    ("cpu_ms", "DOUBLE", FLOAT),
    ("started_at", "TIMESTAMP", EPOCH),
)

REQUESTS = Table(
    "requests",
    _cols(
        *_REQUEST,
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

#: The row the request hooks record for each request: the requests table's columns but host and
#: pid, in this order (the hooks check theirs against it when they are imported).
REQUEST_ROW = REQUESTS.row_columns

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

# -- exceptions (every level >= 1) ---------------------------------------------------------------
# Grouped by a fingerprint of the exception's type and frames
# (fmd_profiler.recording.exception_log). The
# traces table holds each fingerprint's frames once and has no time column, like the profile
# dimension tables: retention must never strip a counted group of its traceback.

EXCEPTIONS = Table(
    "exceptions",
    _cols(
        ("fingerprint", "VARCHAR", STR),
        ("endpoint", "VARCHAR", STR),
        ("version", "VARCHAR", STR),
        ("exception", "VARCHAR", STR),  # module.qualname of its type (builtins: qualname)
        ("message", "VARCHAR", STR),  # the newest one of the minute, redacted
        ("bucket", "TIMESTAMP", EPOCH),  # start of the minute
        ("count", "INTEGER", INT),
        ("first_seen", "TIMESTAMP", EPOCH),
        ("last_seen", "TIMESTAMP", EPOCH),
        *_ORIGIN,
    ),
    time_column="bucket",
    doc="Unhandled exceptions of monitored requests, counted per (fingerprint, endpoint, "
        "version, minute).",
)

EXCEPTION_TRACES = Table(
    "exception_traces",
    _cols(
        ("fingerprint", "VARCHAR", STR),
        ("exception", "VARCHAR", STR),
        ("frames", "VARCHAR", STR),  # JSON list of {file, line, function, code}, innermost last
        ("seen_at", "TIMESTAMP", EPOCH),
        *_ORIGIN,
    ),
    key=("fingerprint",),
    doc="The frames of each exception fingerprint: file, line, function and source line (never "
        "locals).",
)

# -- the profiler (levels 2 and 3, exact mode) ---------------------------------------------------
# Call stacks are stored once per distinct stack, as a list of frame ids (root first); frame and
# stack ids are stable 64-bit hashes of their content, so rows from many processes and hosts merge.
# The two dimension tables have no time column: retention must never strip the names off samples
# that are still kept.

PROFILE_FRAMES = Table(
    "profile_frames",
    _cols(
        ("frame_id", "BIGINT", INT),
        ("function", "VARCHAR", STR),  # module:qualname
        ("file", "VARCHAR", STR),
        ("line", "INTEGER", INT),  # first line of the function
        ("seen_at", "TIMESTAMP", EPOCH),
        *_ORIGIN,
    ),
    key=("frame_id",),
    doc="One row per function seen in a call stack: module:qualname, file and first line.",
)

PROFILE_STACKS = Table(
    "profile_stacks",
    _cols(
        ("stack_id", "BIGINT", INT),
        ("frames", "BIGINT[]", INT_LIST),  # frame ids, root first
        ("seen_at", "TIMESTAMP", EPOCH),
        *_ORIGIN,
    ),
    key=("stack_id",),
    doc="One row per distinct call stack (frame ids from the request's root to the leaf).",
)

PROFILE_SAMPLES = Table(
    "profile_samples",
    _cols(
        ("endpoint", "VARCHAR", STR),
        ("version", "VARCHAR", STR),
        ("bucket", "TIMESTAMP", EPOCH),  # start of the minute the samples were taken in
        ("stack_id", "BIGINT", INT),
        ("weight_ms", "DOUBLE", FLOAT),  # real time the samples stand for
        ("samples", "INTEGER", INT),
        *_ORIGIN,
    ),
    time_column="bucket",
    doc="Sampled call stacks aggregated per (endpoint, version, minute, stack): level >= 2.",
)

PROFILE_REQUESTS = Table(
    "profile_requests",
    _cols(
        ("endpoint", "VARCHAR", STR),
        ("version", "VARCHAR", STR),
        ("bucket", "TIMESTAMP", EPOCH),  # start of the minute the requests started in
        ("requests", "INTEGER", INT),
        ("duration_ms", "DOUBLE", FLOAT),
        ("exact_requests", "INTEGER", INT),  # of those, run under exact mode (yappi)
        *_ORIGIN,
    ),
    time_column="bucket",
    doc="The requests the sampled stacks come from (count and summed duration per minute): the "
        "scale that turns sample weights into milliseconds per request.",
)

OUTLIERS = Table(
    "outliers",
    _cols(
        ("request_id", "VARCHAR", STR),
        ("endpoint", "VARCHAR", STR),
        ("version", "VARCHAR", STR),
        ("started_at", "TIMESTAMP", EPOCH),
        ("duration_ms", "DOUBLE", FLOAT),
        ("cpu_ms", "DOUBLE", FLOAT),  # thread CPU time of the request
        ("baseline_ms", "DOUBLE", FLOAT),  # the endpoint's median when it was flagged
        ("threshold_ms", "DOUBLE", FLOAT),
        ("method", "VARCHAR", STR),
        ("url", "VARCHAR", STR),  # path and query string, secrets redacted
        ("args", "VARCHAR", STR),  # JSON object of query arguments, secrets redacted
        ("headers", "VARCHAR", STR),  # JSON object of request headers, secrets redacted
        ("memory_rss_bytes", "BIGINT", INT),
        ("load_1m", "DOUBLE", FLOAT),
        *_ORIGIN,
    ),
    time_column="started_at",
    doc="Level 3: requests much slower than their endpoint's recent median, with their context.",
)

REQUEST_PROFILES = Table(
    "request_profiles",
    _cols(
        ("request_id", "VARCHAR", STR),
        ("kind", "VARCHAR", STR),  # 'outlier' (thread sampler) or 'detail' (setprofile sampler)
        ("endpoint", "VARCHAR", STR),
        ("version", "VARCHAR", STR),
        ("started_at", "TIMESTAMP", EPOCH),
        ("duration_ms", "DOUBLE", FLOAT),
        ("stack_id", "BIGINT", INT),
        ("weight_ms", "DOUBLE", FLOAT),
        ("samples", "INTEGER", INT),
        *_ORIGIN,
    ),
    time_column="started_at",
    doc="Level 3: the call stacks of one request (an outlier, or one picked by "
        "DETAIL_SAMPLE_RATE for a detailed profile), one row per distinct stack.",
)

EXACT_FUNCTIONS = Table(
    "exact_functions",
    _cols(
        ("endpoint", "VARCHAR", STR),
        ("version", "VARCHAR", STR),
        ("test_id", "VARCHAR", STR),
        ("bucket", "TIMESTAMP", EPOCH),
        ("frame_id", "BIGINT", INT),
        ("function", "VARCHAR", STR),
        ("file", "VARCHAR", STR),
        ("line", "INTEGER", INT),
        ("calls", "BIGINT", INT),
        ("primitive_calls", "BIGINT", INT),  # calls that were not recursive
        ("own_ms", "DOUBLE", FLOAT),
        ("total_ms", "DOUBLE", FLOAT),
        *_ORIGIN,
    ),
    time_column="bucket",
    doc="Exact mode (yappi, wall clock): call counts and own/total time per function, per "
        "endpoint and test, summed per minute.",
)

PROFILE_TABLES = (PROFILE_FRAMES, PROFILE_STACKS, PROFILE_SAMPLES, PROFILE_REQUESTS, OUTLIERS,
                  REQUEST_PROFILES, EXACT_FUNCTIONS)

#: Tables written through spool segments, in ingestion order.
SEGMENT_TABLES: dict[str, Table] = {t.name: t for t in (REQUESTS, ROUTES, PROCESS_STATS,
                                                        *PROFILE_TABLES, EXCEPTIONS,
                                                        EXCEPTION_TRACES)}

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
        *_REQUEST,
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
        ("ci_low", "DOUBLE", FLOAT),  # confidence interval of the ratio
        ("ci_high", "DOUBLE", FLOAT),
        ("p_value", "DOUBLE", FLOAT),  # one-sided Welch on log durations, head slower
        ("p_adjusted", "DOUBLE", FLOAT),  # Benjamini-Hochberg over every comparison of the run
        ("detectable_ratio", "DOUBLE", FLOAT),  # smallest ratio this comparison could flag
        # Outlier rounds set aside (round numbers, "3, 8"; None: every round was used).
        ("base_set_aside", "VARCHAR", STR),
        ("head_set_aside", "VARCHAR", STR),
        ("verdict", "VARCHAR", STR),  # regression, ok, inconclusive, too_few_samples, new
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

# -- python -m fmd_profiler.migrate -------------------------------------------------------------

FMD_IMPORTS = Table(
    "fmd_imports",
    _cols(
        ("source", "VARCHAR", STR),  # the FMD database (password masked) and its table prefix
        ("fmd_table", "VARCHAR", STR),
        ("last_id", "BIGINT", INT),  # FMD's ids grow: rows up to this one are imported
        ("imported", "BIGINT", INT),  # rows imported from that table so far
        ("imported_at", "TIMESTAMP", EPOCH),
    ),
    key=("source", "fmd_table"),
    doc="What the migrate command imported from each Flask-MonitoringDashboard database, so "
        "that running it again imports nothing twice.",
)

#: Tables written directly into DuckDB in one transaction (the benchmark harness, migrate).
DIRECT_TABLES: dict[str, Table] = {t.name: t for t in (
    BENCH_RUNS, BENCH_TESTS, BENCH_REQUESTS, BENCH_ENDPOINTS, BENCH_FUNCTIONS, BENCH_VERDICTS,
    BENCH_SUBMISSIONS, FMD_IMPORTS)}


def create_table_sql(table: Table, *, primary_key: bool = True, prefix: str = "") -> str:
    """DDL of ``table``; ``primary_key=False`` for DuckLake, which has no keys (readers
    deduplicate keyed tables instead), ``prefix`` a catalog such as ``lake.``."""
    cols = ", ".join(f"{c.name} {c.sql_type}" for c in table.columns)
    key = f", PRIMARY KEY ({', '.join(table.key)})" if table.key and primary_key else ""
    return f"CREATE TABLE IF NOT EXISTS {prefix}{table.name} ({cols}{key})"
