"""A host's upload: the spool's segments become one Parquet file per table under DATA_PATH.

Under the spool's exclusive lock, for each table the pending segments of ALL the host's
processes become one file at a deterministic key, ``incoming/<table>/v<schema>/<host>/<first
segment>.parquet``. A manifest in ``<spool>/outbox`` makes it crash-safe: (1) the manifest lists
the segments (written atomically); (2) the file is written unless the key already exists; (3) the
segments are deleted; (4) the manifest is deleted. A run first finishes leftover manifests with
their same segment list, so a retry never gives the same rows a second key. Then it fetches the
monitoring levels the committer published into the spool's ``levels.json``, which every worker
polls. Hosts never touch the catalog.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fmd_profiler.fleet.settings import LakeSettings
from fmd_profiler.schema import SCHEMA_VERSION, SEGMENT_TABLES
from fmd_profiler.store.control import read_level_overrides, write_atomic, write_level_overrides
from fmd_profiler.store.database import Database, SegmentBatch, load_segments
from fmd_profiler.store.lake_files import DataPath
from fmd_profiler.store.segments import SEGMENT_SUFFIX, StoreLocation, unlink_quietly

log = logging.getLogger("fmd_profiler")

INCOMING = "incoming"
OUTBOX = "outbox"
#: Segments in one file: a backlog (storage was down for an hour) becomes several files.
MAX_SEGMENTS_PER_FILE = 2000
#: Files per table in one run; what is left waits for the next run.
MAX_FILES_PER_TABLE = 20


@dataclass(frozen=True)
class Manifest:
    """What one upload will hold: its key and the segments (names in the table's folder)."""

    key: str
    table: str
    segments: tuple[str, ...]


@dataclass(frozen=True)
class UploadResult:
    files: int  # files written (a key found already there is not counted)
    rows: int
    segments: int  # segments uploaded and deleted
    quarantined: int
    levels_changed: bool


def upload_key(table: str, host: str, first_segment: str) -> str:
    """The key of the file holding ``first_segment`` and the segments after it."""
    stem = first_segment.removesuffix(SEGMENT_SUFFIX)
    return f"{INCOMING}/{table}/v{SCHEMA_VERSION}/{safe_host(host)}/{stem}.parquet"


def safe_host(host: str) -> str:
    """A host name as one safe path part (what a key and the ``host`` folder carry)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", host)[:100].strip(".") or "host"


def outbox_dir(location: StoreLocation) -> Path:
    return location.spool_dir / OUTBOX


def upload_spool(settings: LakeSettings, location: StoreLocation, *, lock_wait_s: float,
                 checkpoint: Callable[[str], None] = lambda step: None) -> UploadResult | None:
    """Upload what the spool holds; None when the spool stayed locked for ``lock_wait_s``.

    Raises StoreError when the object store fails; what was not uploaded stays in the spool
    (and its manifest in the outbox) for the next run. ``checkpoint`` is called after each
    step of a file ("manifest", "file", "segments"); tests kill the process there.
    """
    with Database(location).lock(exclusive=True, timeout=lock_wait_s) as got:
        if not got:
            return None
        with DataPath(settings) as data:
            return _Upload(settings, location, data, checkpoint).run()


class _Upload:
    def __init__(self, settings: LakeSettings, location: StoreLocation, data: DataPath,
                 checkpoint: Callable[[str], None]) -> None:
        self.settings = settings
        self.checkpoint = checkpoint
        self.location = location
        self.data = data
        self.files = self.rows = self.segments = self.quarantined = 0

    def run(self) -> UploadResult:
        for manifest in leftover_manifests(self.location):
            self._finish(manifest)
        for table in SEGMENT_TABLES:
            for _ in range(MAX_FILES_PER_TABLE):
                pending = self.location.pending_segments(table)[:MAX_SEGMENTS_PER_FILE]
                if not pending:
                    break
                self._upload_new(table, pending)
        levels_changed = self._fetch_levels()
        return UploadResult(self.files, self.rows, self.segments, self.quarantined,
                            levels_changed)

    def _upload_new(self, table_name: str, pending: list[Path]) -> None:
        table = SEGMENT_TABLES[table_name]
        batch = load_segments(table, pending)
        for path, problem in batch.unreadable:
            self._quarantine(path, problem)
        if not batch.paths:
            return
        manifest = Manifest(upload_key(table_name, self.settings.host_name, batch.paths[0].name),
                            table_name, tuple(p.name for p in batch.paths))
        write_manifest(self.location, manifest)
        self.checkpoint("manifest")
        self._finish(manifest, batch)

    def _finish(self, manifest: Manifest, batch: SegmentBatch | None = None) -> None:
        table = SEGMENT_TABLES.get(manifest.table)
        if table is None:
            # Written by a newer version (a table this one does not know): keep it for that
            # version rather than delete segments nobody uploaded.
            log.warning("fmd_profiler: upload manifest of unknown table %r left in %s",
                        manifest.table, outbox_dir(self.location))
            return
        folder = self.location.table_dir(manifest.table)
        paths = [folder / name for name in manifest.segments]
        if not self.data.exists(manifest.key):
            if batch is None:
                # Only segments that are still there: the file does not exist yet, so none
                # of them was deleted by this manifest (deletion follows the upload).
                batch = load_segments(table, paths)
                for path, problem in batch.unreadable:
                    self._quarantine(path, problem)
            if batch.rows:
                self.data.write_parquet(manifest.key, table, dict(batch.columns))
                self.files += 1
                self.rows += batch.rows
                self.checkpoint("file")
        for path in paths:
            unlink_quietly(path)
        self.segments += len(paths)
        self.checkpoint("segments")
        unlink_quietly(manifest_path(self.location, manifest))

    def _quarantine(self, path: Path, problem: str) -> None:
        target = self.location.quarantine_dir
        try:
            target.mkdir(parents=True, exist_ok=True)
            os.replace(path, target / path.name)
        except OSError:
            return
        self.quarantined += 1
        log.warning("fmd_profiler: unreadable segment %s (%s) moved to %s", path.name, problem,
                    target)

    def _fetch_levels(self) -> bool:
        published = self.data.read_levels()
        if published is None:
            return False
        path = self.location.levels_path
        if published == read_level_overrides(path) and path.exists():
            return False
        write_level_overrides(path, published)
        return True


# -- manifests ----------------------------------------------------------------------------------

def manifest_path(location: StoreLocation, manifest: Manifest) -> Path:
    stem = manifest.segments[0].removesuffix(SEGMENT_SUFFIX)
    return outbox_dir(location) / f"{manifest.table}--{stem}.json"


def write_manifest(location: StoreLocation, manifest: Manifest) -> Path:
    path = manifest_path(location, manifest)
    write_atomic(path, json.dumps({"key": manifest.key, "table": manifest.table,
                                   "segments": list(manifest.segments)}).encode())
    return path


def leftover_manifests(location: StoreLocation) -> list[Manifest]:
    """Manifests a killed upload left behind, oldest first; unreadable ones are set aside."""
    folder = outbox_dir(location)
    try:
        names = sorted(n for n in os.listdir(folder)
                       if n.endswith(".json") and not n.startswith("."))
    except FileNotFoundError:
        return []
    manifests = []
    for name in names:
        try:
            data = json.loads((folder / name).read_text(encoding="utf-8"))
            manifest = Manifest(str(data["key"]), str(data["table"]),
                                tuple(str(s) for s in data["segments"]))
            if not manifest.segments:
                raise ValueError("no segments")
        except (OSError, ValueError, KeyError, TypeError):
            # Written atomically, so this is damage from outside; its segments are still in
            # the spool and a later run uploads them under a new manifest.
            log.warning("fmd_profiler: unreadable upload manifest %s set aside", name)
            target = location.quarantine_dir
            target.mkdir(parents=True, exist_ok=True)
            os.replace(folder / name, target / name)
            continue
        manifests.append(manifest)
    return manifests
