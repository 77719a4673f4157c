"""PostgreSQL advisory locks on the catalog: one committer, one schema change at a time.

DuckLake has no unique keys and its concurrent DDL on a PostgreSQL catalog is unsafe, so every
step that must not run twice at once (creating or altering the lake's tables, registering files
with their ledger rows, maintenance) holds a session-level advisory lock on a connection of its
own. The lock goes with the connection, so a killed holder never leaves it taken.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Iterator
from typing import Any

from fmd_profiler.errors import FLEET_EXTRA, StoreError
from fmd_profiler.fleet.settings import redact_dsn

#: Lock names; each maps to a stable 64-bit key.
SCHEMA = "fmd_profiler schema"
COMMIT = "fmd_profiler commit"
MAINTAIN = "fmd_profiler maintain"

CONNECT_TIMEOUT_S = 10


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise StoreError("fleet mode needs psycopg and DuckDB's lake extensions: "
                         f"{FLEET_EXTRA}") from None
    return psycopg


def lock_key(name: str) -> int:
    """A signed 64-bit key for ``name`` (PostgreSQL's advisory lock key is a bigint)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big",
                          signed=True)


def connect(dsn: str) -> Any:
    """A psycopg connection to the catalog, or a StoreError that hides the password."""
    psycopg = _psycopg()
    try:
        return psycopg.connect(dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.Error as exc:
        raise StoreError(f"cannot reach the catalog database ({redact_dsn(dsn)}): "
                         f"{redact_dsn(str(exc).strip().splitlines()[0] if str(exc) else '')}; "
                         "check DATABASE = ducklake:postgres:<DSN> (host, port, dbname, user, "
                         "password) and that PostgreSQL accepts this host") from None


@contextlib.contextmanager
def advisory_lock(dsn: str, name: str, *, wait_s: float | None = None) -> Iterator[bool]:
    """Hold the advisory lock ``name``; yields False if it was not had within ``wait_s``.

    ``wait_s=None`` waits as long as it takes; ``0`` only tries once.
    """
    key = lock_key(name)
    con = connect(dsn)
    try:
        deadline = None if wait_s is None else time.monotonic() + wait_s
        while True:
            row = con.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
            if row and row[0]:
                break
            if deadline is not None and time.monotonic() >= deadline:
                yield False
                return
            time.sleep(0.2)
        try:
            yield True
        finally:
            with contextlib.suppress(Exception):
                con.execute("SELECT pg_advisory_unlock(%s)", (key,))
    finally:
        con.close()
