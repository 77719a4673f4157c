"""The committer: uploaded files become part of the lake, each exactly once.

Under the COMMIT advisory lock (one committer at a time; another waits or skips its turn) it
lists ``incoming/**/*.parquet``, leaves out the keys the ledger already holds and files of a
newer schema than this code knows, and registers the rest with their ledger rows in one
transaction (:meth:`Catalog.register`). A file uploaded twice, or a committer killed anywhere,
never counts a row twice. Then it publishes the dashboard's monitoring levels to
``control/levels.json`` for the hosts' uploaders to fetch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from fmd_profiler.fleet import advisory
from fmd_profiler.fleet.settings import LakeSettings
from fmd_profiler.fleet.upload import INCOMING
from fmd_profiler.schema import SCHEMA_VERSION
from fmd_profiler.store.lake_catalog import Catalog, NewFile
from fmd_profiler.store.lake_files import DataPath, StoredFile

log = logging.getLogger("fmd_profiler")

#: Files registered in one transaction; a larger backlog takes several turns.
MAX_FILES_PER_COMMIT = 2000


@dataclass(frozen=True)
class UploadedFile:
    """An ``incoming/<table>/v<schema>/<host>/<name>.parquet`` file."""

    key: str
    table: str
    schema_version: int
    host: str
    size: int
    modified: float


@dataclass(frozen=True)
class CommitResult:
    files: int
    rows: int
    newer_schema: int  # files left for a newer committer
    waiting: int  # uploaded files not committed after this turn


def parse_upload(stored: StoredFile) -> UploadedFile | None:
    """The parts of an uploaded file's key; None for anything else under ``incoming/``."""
    parts = stored.key.split("/")
    if (len(parts) != 5 or parts[0] != INCOMING or not parts[2].startswith("v")
            or not parts[2][1:].isdigit() or not parts[4].endswith(".parquet")):
        return None
    return UploadedFile(stored.key, parts[1], int(parts[2][1:]), parts[3], stored.size,
                        stored.modified)


def list_uploads(data: DataPath) -> list[UploadedFile]:
    found = (parse_upload(f) for f in data.list_files(INCOMING + "/"))
    return [f for f in found if f is not None]


def commit_once(settings: LakeSettings, *, wait_s: float | None,
                after_register: Callable[[], None] = lambda: None) -> CommitResult | None:
    """One turn; None when another committer held the lock for ``wait_s`` seconds.

    ``after_register`` runs between the commit and what follows it (tests kill the process
    there).
    """
    with advisory.advisory_lock(settings.dsn, advisory.COMMIT, wait_s=wait_s) as got:
        if not got:
            return None
        with DataPath(settings) as data, Catalog(settings) as catalog:
            uploads = list_uploads(data)
            newer = [f for f in uploads if f.schema_version > SCHEMA_VERSION]
            if newer:
                log.warning("fmd_profiler: %d uploaded file(s) have schema v%d, newer than this "
                            "committer's v%d; they wait for a committer of the newer version "
                            "(first: %s)", len(newer), max(f.schema_version for f in newer),
                            SCHEMA_VERSION, newer[0].key)
            known = [f for f in uploads if f.schema_version <= SCHEMA_VERSION]
            done = catalog.committed([f.key for f in known])
            new = [f for f in known if f.key not in done]
            batch = new[:MAX_FILES_PER_COMMIT]
            rows = data.parquet_rows([f.key for f in batch])
            catalog.register([NewFile(f.key, f.table, f.host, rows.get(f.key, 0), f.size)
                              for f in batch])
            after_register()
            data.write_levels(catalog.current_levels())
            return CommitResult(len(batch), sum(rows.get(f.key, 0) for f in batch),
                                len(newer), len(new) - len(batch))
