"""Chaos under gunicorn (3 workers x 4 threads): the store's folder read-only, the disk full, the
DuckDB file locked by another program and corrupted, while bounded traffic runs.

Every app request is answered; while the store cannot be written each worker keeps its rows in
memory up to MAX_BUFFERED_ROWS (the oldest beyond it are dropped and counted) and writes them
when it can again; each outage is one log line per worker when it starts and one when it ends.
The store lives on a small tmpfs (needs root), remounted read-only and filled up for real.
"""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import servers
from tests.helpers import query

pytestmark = pytest.mark.slow

BOUND = 1000  # MAX_BUFFERED_ROWS of tests/fixtures/chaos_app.py
WRITE_FAILS = "cannot write segments to the store"
WRITE_WORKS = "works again (write segments to)"

LOCK_HOLDER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
print("locked", flush=True)
sys.stdin.readline()
con.close()
"""


@contextlib.contextmanager
def tmpfs(path: Path, size: str = "48m") -> Iterator[None]:
    path.mkdir(parents=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN)")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def remount(path: Path, mode: str) -> None:
    deadline = time.monotonic() + 30
    while True:  # EBUSY while a file on it is open for writing (an ingestion child, say)
        done = subprocess.run(["mount", "-o", f"remount,{mode}", str(path)], capture_output=True,
                              text=True)
        if done.returncode == 0:
            return
        assert time.monotonic() < deadline, done.stderr
        time.sleep(0.1)


def log_lines(log: Path, text: str) -> dict[int, int]:
    """How many log lines containing ``text`` each worker pid wrote."""
    counts: dict[int, int] = {}
    for line in log.read_text(errors="replace").splitlines():
        found = re.match(r"fmd-log pid=(\d+) ", line)
        if found and text in line:
            pid = int(found.group(1))
            counts[pid] = counts.get(pid, 0) + 1
    return counts


def ingestion_running(db: Path) -> bool:
    """Whether an ingestion child of the store ``db`` is alive (read from /proc)."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue  # ended meanwhile
        if b"fmd_profiler.store.ingestion" in args and str(db).encode() in args:
            return True
    return False


def wait_for(condition: object, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def traffic(server: servers.Server, phase: str, count: int) -> dict[int, int]:
    load = servers.send(server.url, count, clients=6, seconds=240, path=f"/{phase}")
    assert (load.total, load.failures) == (count, 0), phase  # zero failed app requests
    return {pid: len(times) for pid, times in load.by_pid.items()}


def ingest_by_hand(db: Path) -> tuple[int, str]:
    done = subprocess.run([sys.executable, "-m", "fmd_profiler.store.ingestion", str(db)],
                          capture_output=True, text=True, timeout=120, cwd=servers.ROOT)
    return done.returncode, done.stdout.strip()


def stored(db: Path, endpoint: str) -> dict[int, int]:
    return {r["pid"]: r["n"] for r in query(
        db, "SELECT pid, count(*) AS n FROM requests WHERE endpoint = $e GROUP BY pid "
            "ORDER BY pid", {"e": endpoint})}


def outage_lines(log: Path, served: dict[int, int], before: tuple[dict[int, int], ...]) -> None:
    """Each worker that served during the outage said once that it broke and once that it
    recovered (counted since ``before``)."""
    fails, works = (log_lines(log, WRITE_FAILS), log_lines(log, WRITE_WORKS))
    for pid in served:
        assert fails.get(pid, 0) - before[0].get(pid, 0) == 1, (pid, fails, before)
        assert works.get(pid, 0) - before[1].get(pid, 0) == 1, (pid, works, before)


def test_chaos_under_gunicorn(tmp_path: Path) -> None:
    mount = tmp_path / "store"
    with tmpfs(mount):
        db = mount / "fmd.duckdb"
        log = tmp_path / "gunicorn.log"
        port = servers.free_port()
        server = servers.start(
            [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "3",
             "--threads", "4", "--graceful-timeout", "20", "tests.fixtures.chaos_app:app"],
            db, log, port)
        try:
            run_phases(server, mount, db, log)
        finally:
            code = server.stop(signal.SIGTERM)
        assert code == 0, log.read_text()[-3000:]
        # what the workers flushed on their way out is there too
        assert ingest_by_hand(db)[0] == 0


def run_phases(server: servers.Server, mount: Path, db: Path, log: Path) -> None:
    def counts() -> tuple[dict[int, int], dict[int, int]]:
        return log_lines(log, WRITE_FAILS), log_lines(log, WRITE_WORKS)

    baseline = traffic(server, "baseline", 150)
    # The first flush starts an ingestion child (the next is two minutes away): let it finish,
    # or it could run into an outage below, free space as it fails and blur the phases.
    wait_for(lambda: db.exists() and not ingestion_running(db), "the first ingestion")

    # -- the store's folder read-only ------------------------------------------------------
    before = counts()
    remount(mount, "ro")
    read_only = traffic(server, "read_only", 300)
    wait_for(lambda: all(log_lines(log, WRITE_FAILS).get(p, 0) > before[0].get(p, 0)
                         for p in read_only), "a warning from every worker")
    remount(mount, "rw")
    wait_for(lambda: all(log_lines(log, WRITE_WORKS).get(p, 0) > before[1].get(p, 0)
                         for p in read_only), "every worker to recover")
    outage_lines(log, read_only, before)

    # -- the disk full: more than the bound per worker ---------------------------------------
    before = counts()
    filler = mount / "filler"
    with open(filler, "wb") as fh, contextlib.suppress(OSError):
        while True:
            fh.write(b"\0" * 2**20)
    disk_full = traffic(server, "disk_full", 3300)
    wait_for(lambda: all(log_lines(log, WRITE_FAILS).get(p, 0) > before[0].get(p, 0)
                         for p in disk_full), "a disk-full warning from every worker")
    assert "No space left on device" in log.read_text(errors="replace")
    time.sleep(1.0)  # a few more flushes while full: still one line each
    filler.unlink()
    wait_for(lambda: all(log_lines(log, WRITE_WORKS).get(p, 0) > before[1].get(p, 0)
                         for p in disk_full), "every worker to recover from the full disk")
    outage_lines(log, disk_full, before)

    # -- the DuckDB file locked by another program -------------------------------------------
    code, said = ingest_by_hand(db)
    assert code == 0, said  # a database file to lock
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(db)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        locked = traffic(server, "locked", 150)
        time.sleep(0.6)  # flushed to the spool meanwhile
        code, said = ingest_by_hand(db)
        assert code == 1 and "\n" not in said and "locked by another program" in said
    finally:
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=60)
        holder.stdout.close()
    time.sleep(0.6)
    assert ingest_by_hand(db)[0] == 0

    # everything so far is stored: every request, less what a worker dropped beyond the bound
    assert stored(db, "baseline") == baseline
    assert stored(db, "read_only") == read_only
    assert stored(db, "locked") == locked
    kept = stored(db, "disk_full")
    drops = {r["pid"]: r["d"] for r in query(
        db, "SELECT pid, max(dropped) AS d FROM process_stats GROUP BY pid ORDER BY pid")}
    for pid, served in disk_full.items():
        # kept up to the bound and written after recovery; the oldest beyond it dropped, counted
        assert kept.get(pid, 0) == min(served, BOUND), (pid, served, kept, drops)
        assert drops.get(pid, 0) == max(0, served - BOUND), (pid, served, kept, drops)
    assert sum(drops.values()) > 0  # 3300 requests on 3 workers: one of them went past 1000

    # -- the DuckDB file corrupted -----------------------------------------------------------
    db.write_bytes(b"this is not a duckdb file" * 400)
    corrupt = traffic(server, "corrupt", 150)
    time.sleep(0.6)
    code, said = ingest_by_hand(db)
    assert code == 1 and "\n" not in said and "move it away" in said
    db.rename(db.with_name("fmd.duckdb.broken"))
    assert ingest_by_hand(db)[0] == 0
    assert stored(db, "corrupt") == corrupt
