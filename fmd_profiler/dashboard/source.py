"""What the dashboard reads and changes: the embedded store, or the lake in fleet mode.

A source hands out read sessions, says when its data changed (the page cache's key), and keeps
the monitoring-level overrides. The embedded store keeps them in the spool's ``levels.json``
that every worker polls; the lake keeps them in the catalog's ``fmd_levels``, from which the
committer publishes them to every host - so a dashboard-only pod of a fleet needs no spool.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Protocol

from fmd_profiler.config import Config
from fmd_profiler.errors import ProfilerError
from fmd_profiler.schema import REQUESTS
from fmd_profiler.store import StoreLocation
from fmd_profiler.store.control import read_level_overrides, update_level_overrides
from fmd_profiler.store.factory import open_lake

if TYPE_CHECKING:
    from fmd_profiler.store.lake import Lake

PRUNE_LOCKED = ("the store stayed locked for 10 s (an ingestion, a report or maintenance is "
                "running); try again in a moment")


class DashboardSource(Protocol):
    def read(self) -> contextlib.AbstractContextManager[Any]: ...

    def version(self) -> tuple[object, ...]: ...

    def has_data(self) -> bool: ...

    def overrides(self, con: Any) -> dict[str, int]: ...

    def set_level(self, endpoint: str, level: int | None) -> None: ...

    def prune(self, days: int) -> int: ...


def dashboard_source(config: Config, location: StoreLocation) -> DashboardSource:
    """The lake in fleet mode, else the embedded store at ``location`` (the store factory
    decides, as for every reader)."""
    if config.lake is not None:  # open_store's rule
        return LakeSource(open_lake(config.lake))  # type: ignore[arg-type]
    # The embedded store opens nothing until a page is asked for: an app's worker process
    # that serves the dashboard must not load DuckDB at start-up.
    return EmbeddedSource(location)


class EmbeddedSource:
    """The DuckDB file and its spool, read without ingesting (a request must stay quick)."""

    def __init__(self, location: StoreLocation) -> None:
        self.location = location

    def read(self) -> contextlib.AbstractContextManager[Any]:
        from fmd_profiler.store import Database

        return Database(self.location).read(ingest_first=False)

    def version(self) -> tuple[object, ...]:
        from fmd_profiler.dashboard.cache import data_version

        return data_version(self.location)

    def has_data(self) -> bool:
        return self.location.database.exists() or self.location.spool_dir.exists()

    def overrides(self, con: Any) -> dict[str, int]:
        return read_level_overrides(self.location.levels_path)

    def set_level(self, endpoint: str, level: int | None) -> None:
        def change(overrides: dict[str, int]) -> None:
            if level is None:
                overrides.pop(endpoint, None)
            else:
                overrides[endpoint] = level

        # under the file's lock: two admins' edits at once both land
        update_level_overrides(self.location.levels_path, change)

    def prune(self, days: int) -> int:
        from fmd_profiler.store import Database

        deleted = Database(self.location).prune(days, timeout=10.0)
        if deleted is None:
            raise ProfilerError(PRUNE_LOCKED)
        return deleted


class LakeSource:
    """The lake: sessions over a kept read-only connection; its snapshot id is the data
    version."""

    def __init__(self, lake: Lake) -> None:
        from fmd_profiler.fleet.catalog import SnapshotProbe
        from fmd_profiler.store.lake_reader import KeptLakeReader

        settings = lake.settings
        self.settings = settings
        self.lake = lake
        self.reader = KeptLakeReader(settings)
        self.probe = SnapshotProbe(settings.dsn)

    def read(self) -> contextlib.AbstractContextManager[Any]:
        return self.reader.read()

    def version(self) -> tuple[object, ...]:
        return ("lake", self.probe.snapshot_id())

    def has_data(self) -> bool:
        return self.probe.snapshot_id() is not None

    def overrides(self, con: Any) -> dict[str, int]:
        from fmd_profiler.fleet.level_overrides import current_levels

        return current_levels(con, "stored.fmd_levels")

    def set_level(self, endpoint: str, level: int | None) -> None:
        from fmd_profiler.fleet.level_overrides import record_level

        with self.lake.transaction() as con:
            record_level(con, endpoint, level)

    def prune(self, days: int) -> int:
        """``fleet maintain`` with a retention of ``days`` days (deletes, then compacts)."""
        from fmd_profiler.fleet.maintain import maintain_once

        done = maintain_once(self.settings, retention_days=days, wait_s=10.0)
        if done is None:
            raise ProfilerError(PRUNE_LOCKED)
        return done.deleted.get(REQUESTS.name, 0)
