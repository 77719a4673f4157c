"""Who moves spool segments into DuckDB: a short-lived child process, not the request server.

A worker only writes segments (:mod:`.segments`). Ingesting them needs duckdb and numpy, which
would add tens of megabytes of RSS to every worker and thousands of objects for its garbage
collector to walk, for work done a few times an hour. So the writer thread starts
``python -m fmd_profiler.store.ingestion`` now and then, one child per store at a time (the
age of a marker file tells every process of the store when one was last started); the child
ingests under the store lock and exits. Readers ingest before they read, so the interval bounds
how many segments wait, never what a report shows. Tests and the demo can still ingest in
their own process (:meth:`Ingestion.ingest_here`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from fmd_profiler.errors import one_line
from fmd_profiler.schema import SEGMENT_TABLES
from fmd_profiler.store.control import mtime
from fmd_profiler.store.segments import StoreLocation

if TYPE_CHECKING:
    from fmd_profiler.store.database import IngestResult

#: How often, at most, a child is started for one store (all of its processes together). A child
#: pays for importing duckdb and numpy on top of the ingestion itself, so not on every flush.
INGEST_INTERVAL_S = 120.0
#: A child still running after this long is killed (and the next one tries again).
CHILD_TIMEOUT_S = 600.0

#: How long the child waits for the store lock (a reader may hold it); it is off the request
#: path, so it can wait where a worker could not.
CHILD_LOCK_WAIT_S = 10.0

#: The database settings of an ingestion: it shares the machine with the server it works for.
INGEST_THREADS = 1
INGEST_MEMORY_LIMIT = "256MB"


#: Children still running when their process stopped recording (see :meth:`Ingestion.close`).
_LEFT_RUNNING: list[subprocess.Popen[bytes]] = []


class Ingestion:
    """Starts ingestion children for one store and collects how they ended (one at a time)."""

    #: What the writer's log lines call this work and its target.
    operation = "ingest"
    #: How long stopping waits for a child this process started (it usually takes well under a
    #: second; one that takes longer finishes on its own).
    stop_wait_s = 5.0

    def __init__(self, location: StoreLocation, *, retention_days: int = 0,
                 interval_s: float = INGEST_INTERVAL_S,
                 child_timeout_s: float = CHILD_TIMEOUT_S) -> None:
        self.location = location
        self._retention_days = retention_days
        self._interval = interval_s
        self._child_timeout = child_timeout_s
        self._child: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0

    @property
    def target(self) -> str:
        """Where the work goes, as log lines name it."""
        return str(self.location.database)

    # -- by a child process -------------------------------------------------------------------

    def launch_if_due(self) -> bool:
        """Start a child when none ran for the interval and segments wait; True if started."""
        if self._child is not None:
            return False
        marker = self.location.ingest_marker_path
        last = mtime(marker)
        # A marker from the future (the clock was set back) does not block ingestion for good.
        if last is not None and 0 <= time.time() - last < self._interval:
            return False
        if not self._has_work(last):
            return False
        # Claim the turn before starting, so the other workers of the server see it at once.
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
        self._launch()
        return True

    def _has_work(self, last_started: float | None) -> bool:
        return any(self.location.pending_segments(name) for name in SEGMENT_TABLES)

    def _child_argv(self) -> list[str]:
        return ["-m", "fmd_profiler.store.ingestion", str(self.location.database),
                f"--retention-days={self._retention_days}"]

    def _child_input(self) -> bytes | None:
        """What the child reads on its stdin (secrets go there, never into argv)."""
        return None

    def _launch(self) -> None:
        package_root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        data = self._child_input()
        self._child = subprocess.Popen(
            [python_executable(), *self._child_argv()],
            stdin=subprocess.DEVNULL if data is None else subprocess.PIPE,
            stdout=subprocess.PIPE, env=env, close_fds=True)
        self._started_at = time.monotonic()
        if data is not None and self._child.stdin is not None:
            try:
                self._child.stdin.write(data)  # far below a pipe's buffer: never blocks
            except BrokenPipeError:
                pass  # the child died at once; collect() reports how
            finally:
                self._child.stdin.close()

    def collect(self) -> tuple[bool, str | None]:
        """``(finished, problem)`` of the child started last: the child's own one-line reason
        when it failed. ``(False, None)`` while it runs or when there is none. A child past its
        time limit is killed and reported as failed."""
        child = self._child
        if child is None:
            return False, None
        if child.poll() is None:
            if time.monotonic() - self._started_at < self._child_timeout:
                return False, None
            child.kill()
            child.wait()
            self._release()
            return True, (f"the ingestion process ran longer than {self._child_timeout:.0f} s "
                          f"and was stopped; the next one starts within {self._interval:.0f} s")
        output = child.stdout.read().decode("utf-8", "replace").strip() if child.stdout else ""
        code = child.returncode
        self._release()
        if code == 0:
            return True, None
        return True, (output.splitlines()[-1] if output else
                      f"the ingestion process exited with status {code}")

    @property
    def running(self) -> bool:
        """A child was started and not collected yet."""
        return self._child is not None

    def wait(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for a running child."""
        if self._child is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._child.wait(timeout=timeout)

    def close(self, timeout: float) -> tuple[bool, str | None]:
        """At stop: give a running child ``timeout`` seconds, then leave it to finish alone.

        The child holds the store lock and commits or rolls back on its own, so leaving it is
        safe; it is kept referenced, so nothing reports it as forgotten.
        """
        self.wait(timeout)
        outcome = self.collect()
        if self._child is not None:
            _LEFT_RUNNING.append(self._child)
            self._child = None
        return outcome

    def _release(self) -> None:
        if self._child is not None and self._child.stdout is not None:
            self._child.stdout.close()
        self._child = None

    # -- here ----------------------------------------------------------------------------------

    def ingest_here(self, *, timeout: float) -> IngestResult | None:
        """Ingest in this process (it loads duckdb); raises what the store raises.

        None when the lock could not be had within ``timeout`` seconds.
        """
        from fmd_profiler.store.database import Database

        database = Database(self.location, threads=INGEST_THREADS,
                            memory_limit=INGEST_MEMORY_LIMIT)
        return database.ingest(timeout=timeout, retention_days=self._retention_days)


def python_executable() -> str:
    """The interpreter to start the child with.

    ``sys.executable`` is the server's binary under an embedding server (uWSGI's is ``uwsgi``),
    so when it is not a Python, the environment's own ``bin/python3`` is used.
    """
    if Path(sys.executable).name.startswith("python"):
        return sys.executable
    for name in ("python3", "python"):
        candidate = Path(sys.prefix) / "bin" / name
        if candidate.exists():
            return str(candidate)
    return sys.executable  # nothing better: a failing child is one warning, not lost rows


def main(argv: list[str] | None = None) -> int:
    """The child: ingest once, print a one-line reason and exit 1 on failure."""
    parser = argparse.ArgumentParser(
        prog="python -m fmd_profiler.store.ingestion",
        description="Move a store's spool segments into its DuckDB file once (workers start "
                    "this themselves; it is safe to run by hand).")
    parser.add_argument("database", type=Path, help="the store's DuckDB file")
    parser.add_argument("--retention-days", type=int, default=0,
                        help="also delete rows older than this many days (0: keep all)")
    args = parser.parse_args(argv)
    location = StoreLocation(args.database)
    if not location.database.exists() and not location.spool_dir.exists():
        print(f"StoreError: no store at {location.database}: neither the file nor "
              f"{location.spool_dir.name} exists; give the DATABASE of your config", flush=True)
        return 2
    try:
        result = Ingestion(location, retention_days=args.retention_days).ingest_here(
            timeout=CHILD_LOCK_WAIT_S)
    except Exception as exc:
        print(one_line(exc), flush=True)
        return 1
    if result is None:
        print(f"the store stayed locked for {CHILD_LOCK_WAIT_S:.0f} s (another ingestion or a "
              "report); nothing to do, the next ingestion takes the segments", flush=True)
    else:
        print(f"ingested {result.segments} segment(s), {result.rows} row(s)"
              + (f"; {result.quarantined} damaged one(s) set aside in "
                 f"{location.quarantine_dir}" if result.quarantined else ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
