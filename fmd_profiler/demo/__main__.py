"""``python -m fmd_profiler.demo``: the example app under a week of traffic, then its report.

Three releases of the demo app (1.0; 1.1 where /compute got slower; 1.2 where it is fixed)
serve bounded bursts of real traffic on 127.0.0.1, hour by hour over ``--days`` simulated days
(more by day than by night). Durations are measured; only the dates come from a simulated clock
(:mod:`fmd_profiler.demo.simulated_clock`). Then the HTML report is written to ``--out`` and the
path of
its ``index.html`` printed.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import time
from pathlib import Path

from fmd_profiler.demo.app import create_app
from fmd_profiler.demo.simulated_clock import SimulatedClock
from fmd_profiler.demo.traffic import drive, serve
from fmd_profiler.report.report_cli import main as report_main

RELEASES = ("1.0", "1.1", "1.2")
HOUR = 3600.0
DAY = 24 * HOUR
#: Relative traffic per hour of day: quiet nights, a morning and an afternoon peak.
HOURLY_LOAD = (1, 1, 1, 1, 1, 2, 3, 6, 9, 10, 10, 9, 8, 9, 10, 10, 9, 8, 6, 5, 4, 3, 2, 1)


def plan(days: int, requests: int) -> list[tuple[int, int, int]]:
    """(day, hour, requests) for every simulated hour that gets traffic."""
    per_day = requests / days
    total = sum(HOURLY_LOAD)
    weekday_factor = (1.0, 1.05, 1.1, 1.05, 0.95, 0.5, 0.4)  # quieter weekends
    slots = []
    for day in range(days):
        for hour, load in enumerate(HOURLY_LOAD):
            count = round(per_day * load / total * weekday_factor[day % 7])
            if count:
                slots.append((day, hour, count))
    return slots


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fmd_profiler.demo")
    parser.add_argument("--out", default="reports/demo", help="report folder (default %(default)s)")
    parser.add_argument("--requests", type=int, default=3000,
                        help="requests in total (default %(default)s)")
    parser.add_argument("--days", type=int, default=7,
                        help="simulated days of history (default %(default)s)")
    parser.add_argument("--seconds", type=float, default=120.0,
                        help="time limit for all traffic (default %(default)s)")
    args = parser.parse_args(argv)
    if args.days < 1 or args.requests < 1:
        parser.error("--days and --requests must be 1 or more")
    out = Path(args.out)
    data = out.parent / f".{out.name}-data"
    shutil.rmtree(data, ignore_errors=True)
    database = data / "demo.duckdb"
    print(f"simulated clock: {args.days} days of traffic are sent now, hour by hour; durations "
          "are measured, only the dates are simulated", file=sys.stderr)
    slots = plan(args.days, args.requests)
    # The simulated week ends at the last full hour, so "last 24 h" figures mean something.
    first_day = (time.time() // HOUR) * HOUR - args.days * DAY
    deadline = time.monotonic() + args.seconds
    rng = random.Random(5)
    for index, release in enumerate(RELEASES):
        mine = [s for s in slots if s[0] * len(RELEASES) // args.days == index]
        if not mine:
            continue
        clock = SimulatedClock()
        app = create_app(release=release, clock=clock, DATABASE=str(database),
                         APP_VERSION=release, MONITOR_LEVEL=3)
        # /flaky?fail=1 raises on purpose; Flask would log each traceback.
        app.logger.disabled = True
        sent = 0
        with serve(app) as url:
            for day, hour, count in mine:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                clock.move_to(first_day + day * DAY + hour * HOUR + rng.uniform(0, 50 * 60))
                sent += drive(url, requests=count, seconds=left, seed=day * 24 + hour).sent
        runtime = app.extensions["fmd_profiler"].runtime
        runtime.flush(ingest=True)
        runtime.stop()
        print(f"release {release}: {sent} requests over simulated days "
              f"{mine[0][0] + 1}-{mine[-1][0] + 1}", file=sys.stderr)
    return report_main(["--db", str(database), "--out", str(out)])


if __name__ == "__main__":
    sys.exit(main())
