"""The recording process's side of fleet mode: it starts upload children, never uploads itself.

:class:`Uploader` is the fleet-mode :class:`~fmd_profiler.store.ingestion.Ingestion`: every
``UPLOAD_INTERVAL_S`` (paced for all of a host's processes by the spool's marker file) the
writer thread starts ``python -m fmd_profiler.fleet upload --settings-stdin`` and hands it the
lake settings on its stdin. At a graceful stop it starts one more upload after the final flush
and waits for it within a bound, so a Kubernetes grace period loses nothing. This module imports
neither duckdb nor psycopg: the recording process stays as light as in embedded mode.
"""

from __future__ import annotations

import time

from fmd_profiler.fleet.handoff import settings_to_json
from fmd_profiler.fleet.settings import LakeSettings
from fmd_profiler.schema import SEGMENT_TABLES
from fmd_profiler.store.ingestion import Ingestion
from fmd_profiler.store.segments import StoreLocation

#: How long a graceful stop waits for its last upload (within gunicorn's and Kubernetes'
#: default grace periods of 30 s).
STOP_UPLOAD_WAIT_S = 20.0
#: An upload child waits this long for the spool lock (another child may be uploading).
CHILD_LOCK_WAIT_S = 10.0
#: Without new segments, a host still fetches the published levels every this many intervals.
IDLE_REFRESH_INTERVALS = 10
#: An upload still running after this long is killed; the next one finishes its manifest.
UPLOAD_TIMEOUT_S = 300.0


class Uploader(Ingestion):
    """Starts upload children for one host's spool and collects how they ended."""

    operation = "upload"
    stop_wait_s = STOP_UPLOAD_WAIT_S

    def __init__(self, location: StoreLocation, settings: LakeSettings, *,
                 interval_s: float) -> None:
        super().__init__(location, interval_s=interval_s, child_timeout_s=UPLOAD_TIMEOUT_S)
        self.settings = settings
        self._lock_wait_s = CHILD_LOCK_WAIT_S

    @property
    def target(self) -> str:
        return self.settings.data_path

    def _has_work(self, last_started: float | None) -> bool:
        if self._has_segments():
            return True
        # Nothing to upload: now and then all the same, to fetch the dashboard's levels.
        return last_started is None or (
            time.time() - last_started >= IDLE_REFRESH_INTERVALS * self._interval)

    def _has_segments(self) -> bool:
        return any(self.location.pending_segments(name) for name in SEGMENT_TABLES)

    def _child_argv(self) -> list[str]:
        return ["-m", "fmd_profiler.fleet", "upload", "--settings-stdin",
                f"--lock-wait={self._lock_wait_s:g}"]

    def _child_input(self) -> bytes:
        return settings_to_json(self.settings)

    def ingest_here(self, *, timeout: float) -> None:  # type: ignore[override]
        """Upload in this process (tests and ``Runtime.flush(ingest=True)``)."""
        from fmd_profiler.fleet.upload import upload_spool

        upload_spool(self.settings, self.location, lock_wait_s=timeout)

    def close(self, timeout: float) -> tuple[bool, str | None]:
        """At stop: let a running upload end, then upload what the final flush wrote, all
        within ``timeout`` seconds; a child still running then finishes alone."""
        deadline = time.monotonic() + timeout
        self.wait(timeout)
        first = self.collect()
        remaining = deadline - time.monotonic()
        if self.running or remaining <= 0 or not self._has_segments():
            last = super().close(0.0)
            return last if last[0] else first
        self._lock_wait_s = max(1.0, remaining - 1.0)
        self.location.ingest_marker_path.parent.mkdir(parents=True, exist_ok=True)
        self.location.ingest_marker_path.touch()
        self._launch()
        last = super().close(max(0.0, deadline - time.monotonic()))
        return last if last[0] else first
