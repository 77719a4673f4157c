"""Which store a reader opens: the embedded DuckDB file, or the lake in fleet mode.

Every reader and direct writer (the report CLI and its exports, the live dashboard, the benchmark
harness, the upload receiver) asks :func:`open_store` instead of building a store itself, so
``DATABASE`` in the config decides in one place. Both kinds hand out the same read sessions (one
view per table) and the same transactions, so the code on top does not know which it got.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from fmd_profiler.config import Config
from fmd_profiler.errors import StoreError
from fmd_profiler.store.segments import StoreLocation

if TYPE_CHECKING:
    from fmd_profiler.fleet.settings import LakeSettings

#: The advisory lock that lets one direct writer at a time check and write the lake's tables.
DIRECT_WRITES = "fmd_profiler direct writes"
DIRECT_WRITE_WAIT_S = 30.0


class Store(Protocol):
    """What readers and direct-table writers use of a store."""

    def read(self) -> contextlib.AbstractContextManager[Any]: ...

    def transaction(self) -> contextlib.AbstractContextManager[Any]: ...


def open_store(config: Config) -> Store:
    """The lake when ``DATABASE`` is ``ducklake:postgres:...``, else the DuckDB file."""
    if config.lake is not None:
        return open_lake(config.lake)
    from fmd_profiler.store.database import Database

    return Database(StoreLocation(Path(config.database)))


def open_lake(settings: LakeSettings) -> Store:
    # Imported here: the lake needs the fleet extra, which an embedded install does not have.
    from fmd_profiler.store.lake import Lake

    return Lake(settings)


def is_lake(store: Store) -> bool:
    from fmd_profiler.store.database import Database

    return not isinstance(store, Database)


@contextlib.contextmanager
def exclusive_transaction(store: Store) -> Iterator[Any]:
    """A transaction no other direct writer runs beside, anywhere in the fleet.

    DuckLake has no unique keys and two transactions that both append never conflict, so a
    writer that checks "is this already stored?" before inserting (the upload receiver, replicas
    of it behind a load balancer) holds an advisory lock on the catalog for the check and the
    insert. The embedded store's transaction is already exclusive (its file lock).
    """
    if not is_lake(store):
        with store.transaction() as con:
            yield con
        return
    from fmd_profiler.fleet import advisory

    dsn = store.settings.dsn  # type: ignore[attr-defined]
    with advisory.advisory_lock(dsn, DIRECT_WRITES, wait_s=DIRECT_WRITE_WAIT_S) as got:
        if not got:
            raise StoreError(f"another writer held the lake for {DIRECT_WRITE_WAIT_S:g} s; "
                             "try again in a moment")
        with store.transaction() as con:
            yield con
