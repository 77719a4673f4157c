"""Fleet mode: many hosts write into one DuckLake (a PostgreSQL catalog, Parquet in object storage).

The request path does not change: processes still write spool segments. What differs is who
takes them: an uploader turns a host's segments into Parquet files under deterministic keys,
one committer registers uploaded files in the lake together with a ledger of their keys, and
readers attach the lake read-only. ``settings`` is pure; ``lake`` is where DuckDB meets the
catalog; the command line is ``python -m fmd_profiler.fleet``.
"""
