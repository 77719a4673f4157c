"""Synthetic fleet data written straight into the lake's object store as Parquet, by DuckDB.

Ten million requests do not need ten million served requests, nor a Python loop: each host's
rows are one ``COPY (SELECT … FROM range(n)) TO 's3://…parquet'`` whose columns follow
:data:`fmd_profiler.schema.REQUESTS` (Zipf-like endpoint popularity, log-normal durations,
three versions in time order, a few errors, 40 users). :func:`register` hands finished files to
the lake with ``ducklake_add_data_files`` in one transaction, as the committer does; the
committer benchmark instead leaves them under ``incoming/`` for ``fleet commit`` to find.
"""

from __future__ import annotations

from typing import Any

from fmd_profiler.schema import REQUESTS, ROUTES, SCHEMA_VERSION
from fmd_profiler.store import request_counts
from fmd_profiler.store.lake import PARQUET_COMPRESSION

DAY_S = 86_400
VERSIONS = 3


def endpoint_name(index: int) -> str:
    return f"api.view_{index:02d}"


def request_rows_sql(*, rows: int, host: str, pid: int, endpoints: int, days: int,
                     end_epoch: float) -> str:
    """A SELECT of ``rows`` synthetic requests of ``host``, columns in the table's order."""
    period = days * DAY_S
    expressions = {
        "endpoint": "'api.view_' || lpad(e::VARCHAR, 2, '0')",
        "rule": "'/api/view_' || lpad(e::VARCHAR, 2, '0') || '/<int:id>'",
        "method": "'GET'",
        "status": "CASE WHEN u < 0.01 THEN 500 WHEN u < 0.04 THEN 404 ELSE 200 END",
        "duration_ms": "d",
        "cpu_ms": "d * 0.6",
        "started_at": f"to_timestamp({end_epoch:.0f} - (1 - t) * {period})::TIMESTAMP",
        "version": f"'2.' || least(floor(t * {VERSIONS}), {VERSIONS - 1})::INT || '.0'",
        "group_by": "'user' || (1 + floor(40 * pow(g, 3)))::INT",
        "ip": "'10.1.0.' || (1 + floor(g * 59))::INT",
        "exception": "CASE WHEN u < 0.01 THEN 'RuntimeError' END",
        "host": f"'{host}'",
        "pid": str(pid),
    }
    columns = ", ".join(f"CAST({expressions.get(c.name, 'NULL')} AS {c.sql_type}) AS {c.name}"
                        for c in REQUESTS.columns)
    # e: endpoint (popular ones first); d: a per-endpoint base time times a log-normal factor
    # (Box-Muller from two uniforms; 1 - random() keeps ln() away from 0).
    return (f"SELECT {columns} FROM (SELECT e, u, t, g, "
            f"(2 + (e * 37) % 200) * exp(0.45 * sqrt(-2 * ln(1 - random())) "
            f"* cos(2 * pi() * random())) AS d "
            f"FROM (SELECT floor({endpoints} * pow(random(), 2.5))::INT AS e, random() AS u, "
            f"random() AS t, random() AS g FROM range({rows})))")


def route_rows_sql(*, endpoints: int, unused: int, end_epoch: float) -> str:
    """The routes table's rows: every endpoint, ``unused`` of them never requested."""
    expressions = {
        "endpoint": "'api.view_' || lpad(i::VARCHAR, 2, '0')",
        "rule": "'/api/view_' || lpad(i::VARCHAR, 2, '0') || '/<int:id>'",
        "methods": "'GET'",
        "level": "1",
        "seen_at": f"to_timestamp({end_epoch:.0f})::TIMESTAMP",
        "host": "'host-000'",
        "pid": "1000",
    }
    columns = ", ".join(f"CAST({expressions.get(c.name, 'NULL')} AS {c.sql_type}) AS {c.name}"
                        for c in ROUTES.columns)
    return f"SELECT {columns} FROM range({endpoints + unused}) r(i)"


def incoming_key(data_path: str, host: str, stem: str) -> str:
    """Where the uploader puts a requests file (the committer's contract, docs/fleet.md)."""
    return f"{data_path}incoming/requests/v{SCHEMA_VERSION}/{host}/{stem}.parquet"


def write_parquet(con: Any, select_sql: str, path: str) -> None:
    """Write the rows as a host's upload has them: in time order (a host's segments are), with
    the lake's compression."""
    con.execute(f"COPY ({select_sql} ORDER BY started_at) TO '{path}' "
                f"(FORMAT parquet, COMPRESSION {PARQUET_COMPRESSION})")


def register(con: Any, table: str, paths: list[str], alias: str = "lake") -> None:
    """Register ``paths`` in ``table`` in one lake transaction (files written elsewhere)."""
    con.execute("BEGIN TRANSACTION")
    for path in paths:
        con.execute(f"CALL ducklake_add_data_files('{alias}', '{table}', '{path}')")
    if table == "requests":  # as the committer does, in the same transaction
        request_counts.add_files(con, alias, paths)
    con.execute("COMMIT")
