"""``fleet maintain``: retention, fewer and larger files, old snapshots and files removed.

Under the MAINTAIN advisory lock (one maintainer at a time; a second one skips): rows older than
``RETENTION_DAYS`` are deleted (the cutoff is computed here, in UTC, and bound as a value), small
files are merged, and snapshots and files older than the grace period are expired and deleted.
A report reads one snapshot from start to end; the grace period keeps that snapshot's files for
readers that started before maintenance did. Uploads merged away are deleted with the rest;
DuckLake's "orphaned files" cleanup is never used, because to the catalog an upload the
committer has not registered yet looks exactly like an orphan.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from fmd_profiler.fleet import advisory
from fmd_profiler.fleet.settings import LakeSettings
from fmd_profiler.store.lake_catalog import Catalog

#: Snapshots (and the files only they use) younger than this stay readable.
DEFAULT_GRACE_S = 3600.0


@dataclass(frozen=True)
class MaintainResult:
    deleted: dict[str, int]  # rows deleted per table by retention


def maintain_once(settings: LakeSettings, *, retention_days: int, grace_s: float = DEFAULT_GRACE_S,
                  now: float | None = None, wait_s: float = 0.0) -> MaintainResult | None:
    """One maintenance; None when another maintainer holds the lock."""
    now = time.time() if now is None else now
    with advisory.advisory_lock(settings.dsn, advisory.MAINTAIN, wait_s=wait_s) as got:
        if not got:
            return None
        with Catalog(settings) as catalog:
            deleted = (catalog.delete_older_than(now - retention_days * 86400.0)
                       if retention_days > 0 else {})
            catalog.compact(grace_s)
        return MaintainResult(deleted)
