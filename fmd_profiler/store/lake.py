"""The lake: DuckDB with DuckLake attached - the catalog in PostgreSQL, the data as Parquet files.

This module is where fleet mode meets DuckDB: it loads the ``ducklake``, ``httpfs`` and
``postgres`` extensions from their packages (no download at run time), creates the S3 secret,
attaches the lake and creates its tables once, under an advisory lock. The tables are those of the
embedded store without keys (DuckLake has none; readers deduplicate keyed tables, as they do for
the spool), plus ``fmd_ledger`` (every registered file's key), ``fmd_meta`` (the lake's layout
version, so an older fmd_profiler refuses a lake made by a newer one) and ``fmd_request_counts``
(:mod:`fmd_profiler.store.request_counts`).
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from pathlib import Path

import duckdb

from fmd_profiler.errors import FLEET_EXTRA, StoreError
from fmd_profiler.fleet import advisory
from fmd_profiler.fleet.settings import LakeSettings, redact_dsn
from fmd_profiler.schema import DIRECT_TABLES, SEGMENT_TABLES, create_table_sql
from fmd_profiler.store import request_counts
from fmd_profiler.store.database import create_read_views

#: The extensions fleet mode loads, each from the package ``duckdb-extension-<name>``.
EXTENSIONS = ("ducklake", "httpfs", "postgres")
#: The lake's layout: bump when a change is not additive (a newer lake is refused).
LAKE_VERSION = 1
#: The alias a lake is attached under.
ALIAS = "lake"
#: How every Parquet file of the lake is compressed: the hosts' uploads
#: (:mod:`fmd_profiler.store.lake_files`) and the files DuckLake writes itself (maintenance's
#: merges, rows inserted directly), whose default (snappy) makes larger files.
PARQUET_COMPRESSION = "zstd"
#: Rows per row group of the files DuckLake writes itself. A reader fetches each column of a row
#: group with a request of its own, so a merged file in groups of 500,000 rows (DuckDB's default
#: is 122,880) is read with a quarter of the requests: fewer round trips to the object store,
#: and less work for it (benchmarks/RESULTS.md, the overview from the lake).
PARQUET_ROW_GROUP_ROWS = 500_000
LAKE_WRITE_OPTIONS: dict[str, str | int] = {"parquet_compression": PARQUET_COMPRESSION,
                                            "parquet_row_group_size": PARQUET_ROW_GROUP_ROWS}

LEDGER_DDL = (f"CREATE TABLE IF NOT EXISTS {ALIAS}.fmd_ledger (key VARCHAR, table_name VARCHAR, "
              "host VARCHAR, rows BIGINT, bytes BIGINT, committed_at TIMESTAMP)")
META_DDL = f"CREATE TABLE IF NOT EXISTS {ALIAS}.fmd_meta (key VARCHAR, value VARCHAR)"
#: Monitoring levels set from the dashboard: newest row per endpoint wins; level NULL resets.
LEVELS_DDL = (f"CREATE TABLE IF NOT EXISTS {ALIAS}.fmd_levels (endpoint VARCHAR, level INTEGER, "
              "changed_at TIMESTAMP)")


class LakeVersionError(StoreError):
    """The lake was made by a newer fmd_profiler than this one."""


def load_extensions(con: duckdb.DuckDBPyConnection,
                    names: tuple[str, ...] = EXTENSIONS) -> None:
    """Load the lake's extensions (or ``names`` of them), installing them from their packages
    the first time.

    ``INSTALL '<file>'`` copies a packaged extension into DuckDB's extension folder under its
    own name (``LOAD '<file>'`` would not do: the postgres extension's file and entry point
    differ in name); later processes load it from there.
    """
    for name in names:
        try:
            con.execute(f"LOAD {name}")
            continue
        except duckdb.Error:
            pass
        path = packaged_extension(name)
        if path is None:
            raise StoreError(f"fleet mode needs DuckDB's {name} extension, which is not "
                             f"installed: {FLEET_EXTRA}")
        try:
            con.execute(f"INSTALL '{_sql_str(path)}'")
            con.execute(f"LOAD {name}")
        except duckdb.Error as exc:
            raise StoreError(f"DuckDB could not load its {name} extension from {path} "
                             f"({_first_line(exc)}); reinstall with {FLEET_EXTRA}") from None


def packaged_extension(name: str) -> Path | None:
    """The extension file shipped by ``duckdb-extension-<name>`` for this DuckDB, if any."""
    try:
        module = importlib.import_module(f"duckdb_extension_{name}")
    except ImportError:
        return None
    folder = Path(module.__file__ or "").parent / "extensions"
    path = folder / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if path.is_file():
        return path
    built_for = sorted(p.name.lstrip("v") for p in folder.glob("v*")) or ["another version"]
    raise StoreError(f"DuckDB {duckdb.__version__} is installed, but the {name} extension "
                     f"package is built for DuckDB {', '.join(built_for)}; an extension loads "
                     f"only into its own DuckDB: {FLEET_EXTRA} installs the matching pair")


def connect(settings: LakeSettings, *, read_only: bool, alias: str = ALIAS,
            threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the lake attached as ``alias``."""
    config: dict[str, str | bool | int | float | list[str]] = {}
    if threads is not None:
        config["threads"] = threads
    con = duckdb.connect(config=config)
    try:
        # A long statement (maintenance's merges) would draw a progress bar on the caller's log.
        con.execute("SET enable_progress_bar = false")
        load_extensions(con)
        _create_s3_secret(con, settings)
        options = [f"DATA_PATH '{_sql_str(settings.data_path)}'"]
        if read_only:
            options.append("READ_ONLY")
        try:
            con.execute(f"ATTACH '{_sql_str('ducklake:postgres:' + settings.dsn)}' AS {alias} "
                        f"({', '.join(options)})")
        except duckdb.Error as exc:
            raise StoreError(_explain_attach_error(settings, exc)) from None
    except BaseException:
        con.close()
        raise
    return con


def _create_s3_secret(con: duckdb.DuckDBPyConnection, settings: LakeSettings) -> None:
    s3 = settings.s3
    if s3 is None:
        return
    fields = [f"REGION '{_sql_str(s3.region)}'", f"URL_STYLE '{s3.url_style}'",
              f"USE_SSL {'true' if s3.use_ssl else 'false'}"]
    if s3.key_id:
        fields.append(f"KEY_ID '{_sql_str(s3.key_id)}'")
    if s3.secret:
        fields.append(f"SECRET '{_sql_str(s3.secret)}'")
    if s3.endpoint:
        fields.append(f"ENDPOINT '{_sql_str(s3.endpoint)}'")
    try:
        con.execute(f"CREATE TEMPORARY SECRET fmd_s3 (TYPE s3, {', '.join(fields)})")
    except duckdb.Error:
        # The message could quote the statement, and with it the keys: say only what to check.
        raise StoreError("DuckDB refused the S3 settings; check AWS_REGION and "
                         "AWS_ENDPOINT_URL") from None


def ensure_lake_schema(settings: LakeSettings) -> None:
    """Create the lake's tables and columns that are missing (additive only), once at a time.

    Raises :class:`LakeVersionError` for a lake made by a newer fmd_profiler.
    """
    with advisory.advisory_lock(settings.dsn, advisory.SCHEMA, wait_s=60.0) as got:
        if not got:
            raise StoreError("another process held the lake's schema lock for 60 s; try again")
        con = connect(settings, read_only=False)
        try:
            con.execute(META_DDL)
            check_lake_version(con)
            con.execute("BEGIN TRANSACTION")
            for table in (*SEGMENT_TABLES.values(), *DIRECT_TABLES.values()):
                con.execute(create_table_sql(table, primary_key=False, prefix=f"{ALIAS}."))
            con.execute(LEDGER_DDL)
            con.execute(LEVELS_DDL)
            con.execute("COMMIT")
            _add_missing_columns(con)
            _set_write_options(con)
            # After the columns: a lake made before the counts existed gets them from its
            # requests, in one transaction.
            con.execute("BEGIN TRANSACTION")
            request_counts.create(con, ALIAS)
            con.execute("COMMIT")
            found = con.execute(f"SELECT value FROM {ALIAS}.fmd_meta "
                                "WHERE key = 'lake_version'").fetchone()
            if found is None:
                con.execute(f"INSERT INTO {ALIAS}.fmd_meta VALUES ('lake_version', $v)",
                            {"v": str(LAKE_VERSION)})
        finally:
            con.close()


def _set_write_options(con: duckdb.DuckDBPyConnection) -> None:
    """Have DuckLake write its own files (``fleet maintain``'s merges, benchmark uploads) as
    :data:`LAKE_WRITE_OPTIONS` says (lake options, kept in the catalog); set once, not on every
    start."""
    found = dict(con.execute(f"SELECT option_name, value FROM {ALIAS}.options() "
                             "WHERE scope = 'GLOBAL'").fetchall())
    for name, value in LAKE_WRITE_OPTIONS.items():
        if str(found.get(name, "")).lower() != str(value):
            literal = value if isinstance(value, int) else f"'{value}'"
            con.execute(f"CALL {ALIAS}.set_option('{name}', {literal})")


def check_lake_version(con: duckdb.DuckDBPyConnection, alias: str = ALIAS) -> None:
    """Refuse a lake whose layout version is newer than this code's."""
    try:
        found = con.execute(f"SELECT max(CAST(value AS INTEGER)) FROM {alias}.fmd_meta "
                            "WHERE key = 'lake_version'").fetchone()
    except duckdb.CatalogException:
        return  # not created yet
    if found and found[0] is not None and int(found[0]) > LAKE_VERSION:
        raise LakeVersionError(
            f"the lake was made by a newer fmd_profiler (layout {found[0]}; this one knows "
            f"{LAKE_VERSION}); upgrade fmd_profiler on this host to the version the other "
            "hosts run")


def _add_missing_columns(con: duckdb.DuckDBPyConnection) -> None:
    existing: dict[str, set[str]] = {}
    for table_name, column in con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_catalog = $c", {"c": ALIAS}).fetchall():
        existing.setdefault(table_name, set()).add(column)
    for table in (*SEGMENT_TABLES.values(), *DIRECT_TABLES.values()):
        for column in table.columns:
            if column.name not in existing.get(table.name, set()):
                con.execute(f"ALTER TABLE {ALIAS}.{table.name} ADD COLUMN {column.name} "
                            f"{column.sql_type}")


class Lake:
    """Access to the lake; holds no connection between calls (like :class:`Database`)."""

    def __init__(self, settings: LakeSettings, *, threads: int | None = None) -> None:
        self.settings = settings
        self._threads = threads

    @contextlib.contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only session: one view per table over the lake, as the embedded store has.

        The whole session reads one snapshot (one transaction): a report's pages agree with
        each other, and maintenance, which keeps the files of recent snapshots for a grace
        period, never deletes a file the session still reads.
        """
        con = connect(self.settings, read_only=True, alias="stored", threads=self._threads)
        try:
            check_lake_version(con, "stored")
            create_read_views(con, "stored", {})
            request_counts.create_view(con, "stored")
            con.execute("BEGIN TRANSACTION")
            yield con
        finally:
            con.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection in one lake transaction, tables reachable unqualified."""
        ensure_lake_schema(self.settings)
        con = connect(self.settings, read_only=False, threads=self._threads)
        try:
            con.execute(f"USE {ALIAS}")
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                with contextlib.suppress(duckdb.Error):
                    con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        finally:
            con.close()


def _explain_attach_error(settings: LakeSettings, exc: duckdb.Error) -> str:
    text = redact_dsn(_first_line(exc))
    if settings.s3 is not None and settings.s3.secret:
        text = text.replace(settings.s3.secret, "***")
    return (f"cannot attach the lake (catalog {settings.safe_dsn}, data {settings.data_path}): "
            f"{text}; check DATABASE = ducklake:postgres:<DSN> and that PostgreSQL accepts "
            "this host")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _sql_str(value: object) -> str:
    return str(value).replace("'", "''")


def connect_storage(settings: LakeSettings, *, threads: int = 1) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that reaches DATA_PATH and nothing else (hosts never touch the
    catalog): for S3 the httpfs extension and the secret, for a folder nothing more; no lake
    attached. Every upload child opens one, so it loads only what reaching files needs."""
    con = duckdb.connect(config={"threads": threads})
    if not settings.is_s3:
        return con
    try:
        load_extensions(con, ("httpfs",))
        _create_s3_secret(con, settings)
    except BaseException:
        con.close()
        raise
    return con
