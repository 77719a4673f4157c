"""The lake's request counts per quarter hour, kept beside its requests by every lake write.

A fleet's overview counts tens of millions of requests; reading them all from object storage
costs seconds. So every transaction that adds requests to the lake (the committer) or removes
them (retention) changes ``fmd_request_counts`` in the SAME transaction: requests per UTC quarter
hour, endpoint, method, rule and version, with errors and the first and last request. Readers
use the counts only when they add up to the requests the snapshot holds (:func:`complete`), so a
row written any other way (an older committer, a hand-made insert) costs speed, never a wrong
figure. Percentiles are never rolled up: they still come from the requests, exactly.
"""

from __future__ import annotations

from typing import Any

#: The table in the lake, and the view over it in a read session.
TABLE = "fmd_request_counts"
VIEW = "request_counts"
#: A bucket's length: the time zone check of the overview needs whole quarter hours.
BUCKET_S = 15 * 60

DDL = (f"CREATE TABLE IF NOT EXISTS {{alias}}.{TABLE} (bucket TIMESTAMP, endpoint VARCHAR, "
       "method VARCHAR, rule VARCHAR, version VARCHAR, hits BIGINT, errors BIGINT, "
       "first_at TIMESTAMP, last_at TIMESTAMP)")
COLUMNS = ("bucket", "endpoint", "method", "rule", "version", "hits", "errors", "first_at",
           "last_at")
_KEYS = "bucket, endpoint, method, rule, version"


def counts_sql(source: str) -> str:
    """The counts of the requests in ``source`` (a table, view or table function), one row
    per (bucket, endpoint, method, rule, version), columns in :data:`COLUMNS` order."""
    return f"""
        SELECT time_bucket(INTERVAL 15 MINUTE, started_at) AS bucket, endpoint, method, rule,
               version, count(*) AS hits, count(*) FILTER (WHERE status >= 500) AS errors,
               min(started_at) AS first_at, max(started_at) AS last_at
        FROM {source} GROUP BY ALL"""


def merged_sql(source: str, where: str = "TRUE") -> str:
    """Rows of counts in ``source`` (several per bucket and group, as commits add them) summed
    to one per bucket and group, columns in :data:`COLUMNS` order."""
    return f"""
        SELECT {_KEYS}, sum(hits)::BIGINT AS hits, sum(errors)::BIGINT AS errors,
               min(first_at) AS first_at, max(last_at) AS last_at
        FROM {source} WHERE {where} GROUP BY ALL"""


def create(con: Any, alias: str) -> bool:
    """Create the table if it is missing and fill it from the requests already in the lake,
    in one transaction the caller holds; True when it was created."""
    found = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_catalog = $c "
                        "AND table_name = $t", {"c": alias, "t": TABLE}).fetchone()
    if found and found[0]:
        return False
    con.execute(DDL.format(alias=alias))
    con.execute(f"INSERT INTO {alias}.{TABLE} {counts_sql(f'{alias}.requests')}")
    return True


def add_files(con: Any, alias: str, urls: list[str]) -> None:
    """Count the requests of Parquet files being registered (inside their transaction)."""
    if urls:
        # union_by_name: a file from an older host lacks the columns added since.
        con.execute(f"INSERT INTO {alias}.{TABLE} "
                    f"{counts_sql('read_parquet($urls, union_by_name => true)')}", {"urls": urls})


def bucket_start(epoch_s: float) -> float:
    """The start of the quarter hour ``epoch_s`` falls in: retention cuts there, so a bucket is
    deleted whole with its requests or not at all."""
    return epoch_s - epoch_s % BUCKET_S


def delete_before(con: Any, alias: str, cutoff_epoch_s: float) -> None:
    """Drop the buckets before ``cutoff_epoch_s`` (a :func:`bucket_start`) with the requests."""
    con.execute(f"DELETE FROM {alias}.{TABLE} WHERE bucket < "
                "CAST(to_timestamp($c) AT TIME ZONE 'UTC' AS TIMESTAMP)", {"c": cutoff_epoch_s})


def merge(con: Any, alias: str) -> None:
    """One row per bucket and group again: each commit adds rows for the buckets its files
    touch, so a busy lake's counts would grow with the commits. In the caller's transaction; a
    commit running meanwhile keeps its rows (a delete removes only the rows it saw)."""
    con.execute("CREATE OR REPLACE TEMP TABLE fmd_merged_counts AS "
                f"{merged_sql(f'{alias}.{TABLE}')}")
    merged = con.execute("SELECT count(*) FROM fmd_merged_counts").fetchone()
    stored = con.execute(f"SELECT count(*) FROM {alias}.{TABLE}").fetchone()
    if merged and stored and merged[0] < stored[0]:
        con.execute(f"DELETE FROM {alias}.{TABLE}")
        con.execute(f"INSERT INTO {alias}.{TABLE} SELECT {', '.join(COLUMNS)} "
                    "FROM fmd_merged_counts")
    con.execute("DROP TABLE fmd_merged_counts")


def create_view(con: Any, attached: str) -> None:
    """A read session's ``request_counts`` view, when the lake has the table."""
    found = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_catalog = $c "
                        "AND table_name = $t", {"c": attached, "t": TABLE}).fetchone()
    if found and found[0]:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {VIEW} AS SELECT {', '.join(COLUMNS)} "
                    f"FROM {attached}.{TABLE}")


def complete(con: Any) -> bool:
    """The session has a ``request_counts`` view and it adds up to its ``requests``."""
    found = con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = $v AND temporary",
                        {"v": VIEW}).fetchone()
    if not (found and found[0]):
        return False
    totals = con.execute(f"SELECT (SELECT coalesce(sum(hits), 0) FROM {VIEW}), "
                         "(SELECT count(*) FROM requests)").fetchone()
    return bool(totals and totals[0] == totals[1])
