"""Prune and retention cut in UTC, whatever the machine's time zone; absurd day counts refused."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fmd_profiler.errors import StoreError
from fmd_profiler.schema import REQUESTS
from fmd_profiler.store import Database, SegmentWriter, StoreLocation
from fmd_profiler.store.database import utc_cutoff


def row(endpoint: str, started_at: float) -> tuple[object, ...]:
    return (endpoint, f"/{endpoint}", "GET", 200, 5.0, 1.0, started_at, "1.0", None,
            "127.0.0.1", None, None)


PRUNE = """
import sys
from pathlib import Path
from fmd_profiler.store import Database, StoreLocation
print(Database(StoreLocation(Path(sys.argv[1]))).prune(1))
"""


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago", "UTC"])
def test_keep_one_day_keeps_the_last_24_hours_in_any_time_zone(db_path: Path, zone: str) -> None:
    location = StoreLocation(db_path)
    now = time.time()
    SegmentWriter(location).write(REQUESTS, [row("hours-23", now - 23 * 3600),
                                             row("hours-25", now - 25 * 3600)])
    Database(location).ingest()
    env = {**os.environ, "TZ": zone}
    done = subprocess.run([sys.executable, "-c", PRUNE, str(db_path)], env=env, text=True,
                          capture_output=True, timeout=120, check=True)
    assert done.stdout.strip() == "1"
    with Database(location).read() as con:
        kept = [r[0] for r in con.execute("SELECT endpoint FROM requests").fetchall()]
    assert kept == ["hours-23"]


def test_a_day_count_no_calendar_holds_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="at most"):
        utc_cutoff(10**6)
    assert utc_cutoff(1).tzinfo is None
