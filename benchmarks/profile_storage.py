"""Stored bytes of profile data (levels 2-3) per 1M requests and per minute of traffic.

The demo traffic mix at level 3 goes through a real threaded server; then each profile table is
written as zstd Parquet (compact columns, as a fleet would ship them; DuckDB's own file allocates
256 kB blocks, which would measure the allocation of seven small tables, not their data) and the
bytes are scaled to 1M requests and to a minute of traffic (stack rows grow with distinct stacks
per minute, outliers and detailed profiles are capped per hour). Latency is measured by
:mod:`benchmarks.latency`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def measure_storage(*, requests: int = 20_000, seconds: float = 120.0) -> dict[str, Any]:
    """Stored profile bytes for the demo mix at level 3, scaled to 1M requests."""
    from fmd_profiler.demo.app import create_app
    from fmd_profiler.demo.traffic import drive
    from fmd_profiler.demo.traffic import serve as serve_app
    from fmd_profiler.schema import PROFILE_TABLES
    from fmd_profiler.store import Database, StoreLocation

    folder = Path(tempfile.mkdtemp(prefix="fmd-bench-storage-"))
    database = folder / "store.duckdb"
    app = create_app(DATABASE=str(database), MONITOR_LEVEL=3)
    # /flaky?fail=1 raises on purpose; Flask would log each traceback.
    app.logger.disabled = True
    started = time.monotonic()
    with serve_app(app) as url:
        sent = drive(url, requests=requests, clients=4, seconds=seconds)
    minutes = (time.monotonic() - started) / 60.0
    app.extensions["fmd_profiler"].runtime.stop()
    rows, parquet_bytes = {}, 0
    with Database(StoreLocation(database)).read() as con:
        for table in PROFILE_TABLES:
            (rows[table.name],) = con.execute(f"SELECT count(*) FROM {table.name}").fetchall()[0]
            target = folder / f"{table.name}.parquet"
            con.execute(f"COPY {table.name} TO '{target}' (FORMAT parquet, COMPRESSION zstd)")
            parquet_bytes += target.stat().st_size
    return {"requests": sent.sent, "minutes": round(minutes, 2), "rows": rows,
            "profile_bytes": parquet_bytes,
            "bytes_per_1m_requests": round(parquet_bytes / max(sent.sent, 1) * 1_000_000),
            "bytes_per_minute": round(parquet_bytes / max(minutes, 1e-9))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    args = parser.parse_args(argv)
    s = measure_storage(requests=args.requests)
    print(f"storage: {s['profile_bytes']} bytes of profile data for {s['requests']} requests "
          f"in {s['minutes']} min -> {s['bytes_per_1m_requests'] / 1e6:.1f} MB per 1M requests, "
          f"{s['bytes_per_minute'] / 1e3:.1f} kB per minute of traffic; rows {s['rows']}")
    print(json.dumps(s))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))  # this checkout's fmd_profiler, whatever is installed
    sys.exit(main())
