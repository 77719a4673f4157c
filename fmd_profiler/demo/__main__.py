"""``python -m fmd_profiler.demo``: the example app under traffic, then its report.

Two releases of the demo app (1.0, then 1.1 where /compute got slower) each serve a bounded
burst of traffic on 127.0.0.1; then the report of the store is written to ``--out``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from fmd_profiler.demo.app import create_app
from fmd_profiler.demo.traffic import drive, serve
from fmd_profiler.report.cli import main as report_main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fmd_profiler.demo")
    parser.add_argument("--out", default="reports/demo", help="report folder (default %(default)s)")
    parser.add_argument("--requests", type=int, default=1500,
                        help="requests per release (default %(default)s)")
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="time limit per release (default %(default)s)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    data = out.parent / f".{out.name}-data"
    shutil.rmtree(data, ignore_errors=True)
    database = data / "demo.duckdb"
    for release in ("1.0", "1.1"):
        app = create_app(release=release, DATABASE=str(database), APP_VERSION=release,
                         MONITOR_LEVEL=3)
        with serve(app) as url:
            result = drive(url, requests=args.requests, seconds=args.seconds)
        print(f"release {release}: {result.sent} requests in {result.seconds:.1f} s "
              f"{dict(sorted(result.by_status.items()))}", file=sys.stderr)
        app.extensions["fmd_profiler"].runtime.flush(ingest=True)
    out.mkdir(parents=True, exist_ok=True)
    summary = out / "summary.json"
    code = report_main(["--db", str(database), "--json", str(summary)])
    if code == 0:
        print(summary.resolve())
    return code


if __name__ == "__main__":
    sys.exit(main())
