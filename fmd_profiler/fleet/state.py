"""The dashboard's shared state in fleet mode: named JSON documents in the catalog database.

Dashboard replicas on different pods share the sign-in and upload-token throttle, the session
generations and the generated session secret; without a fleet these live in files of the local
store folder, here they are rows of the plain PostgreSQL table :data:`TABLE` (not a DuckLake
table). :class:`CatalogDocuments` edits any set of documents in one transaction that holds their
rows ``FOR UPDATE``, and the three users are built on it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import threading
import weakref
from collections.abc import Iterator, Sequence
from typing import Any

from fmd_profiler.dashboard.throttle import (
    MAX_KEYS,
    Attempts,
    ShardedAttemptLog,
    stamps_of,
)
from fmd_profiler.errors import StoreError, redact_dsn
from fmd_profiler.fleet.advisory import connect, lock_key
from fmd_profiler.fleet.catalog import _close_all

log = logging.getLogger("fmd_profiler")

TABLE = "fmd_dashboard_state"
_CREATE = (f"CREATE TABLE IF NOT EXISTS {TABLE} (name text PRIMARY KEY, body jsonb NOT NULL, "
           "updated_at timestamptz NOT NULL DEFAULT now())")

#: Document names.
SESSIONS = "sessions"
SECRET = "secret"
ATTEMPTS = "attempts/"  # + shard number


class CatalogDocuments:
    """JSON objects by name in the catalog database, over one connection kept between calls.

    Every call runs in one transaction; a broken connection is dropped and the next call opens
    a new one. Failures raise StoreError, whose message shows the DSN without its password.
    """

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._held: list[Any] = []  # the kept connection, or nothing
        self._lock = threading.Lock()  # one connection: one transaction at a time
        # A forgotten Dashboard (a test app's) closes its connection, not psycopg's finalizer
        # with a warning.
        weakref.finalize(self, _close_all, self._held)

    @contextlib.contextmanager
    def edit(self, names: Sequence[str]) -> Iterator[dict[str, dict[str, Any]]]:
        """The documents ``names`` (missing ones are empty), written back when the block ends
        without an error; their rows stay locked until then, so a read-modify-write is atomic
        across every pod."""
        names = sorted(set(names))  # one lock order: two editors never deadlock
        with self._transaction() as con:
            con.execute(f"INSERT INTO {TABLE} (name, body) SELECT n, '{{}}'::jsonb "
                        "FROM unnest(%s::text[]) AS n ON CONFLICT (name) DO NOTHING", (names,))
            rows = con.execute(f"SELECT name, body FROM {TABLE} WHERE name = ANY(%s) "
                               "ORDER BY name FOR UPDATE", (names,)).fetchall()
            before = {name: _object(body) for name, body in rows}
            documents = {name: json.loads(json.dumps(before.get(name, {}))) for name in names}
            yield documents
            for name in names:  # an unchanged document is not rewritten
                if documents[name] != before.get(name, {}):
                    con.execute(f"UPDATE {TABLE} SET body = %s::jsonb, updated_at = now() "
                                "WHERE name = %s", (json.dumps(documents[name]), name))

    def read(self, name: str) -> dict[str, Any]:
        """The document ``name`` as committed (empty when missing), without locking it."""
        with self._transaction() as con:
            row = con.execute(f"SELECT body FROM {TABLE} WHERE name = %s", (name,)).fetchone()
        return _object(row[0]) if row else {}

    def close(self) -> None:
        with self._lock:
            self._drop()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Any]:
        with self._lock:
            if not self._held:
                con = connect(self._dsn)
                self._held.append(con)
                try:
                    # Two pods' first CREATE ... IF NOT EXISTS at once can both try to make the
                    # table (PostgreSQL then refuses one): one at a time, under a lock.
                    with con.transaction():
                        con.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(TABLE),))
                        con.execute(_CREATE)
                except Exception as exc:
                    self._drop()
                    raise self._error(exc) from None
            try:
                with self._held[0].transaction():
                    yield self._held[0]
            except StoreError:
                raise
            except Exception as exc:
                if type(exc).__module__.startswith("psycopg"):
                    self._drop()  # the next call starts on a fresh connection
                    raise self._error(exc) from None
                raise

    def _drop(self) -> None:
        _close_all(self._held)

    def _error(self, exc: Exception) -> StoreError:
        text = str(exc).strip()
        first = redact_dsn(text.splitlines()[0]) if text else type(exc).__name__
        return StoreError(f"cannot use the dashboard's state in the catalog database "
                          f"({redact_dsn(self._dsn)}): {first}; check that PostgreSQL is "
                          "reachable and the catalog user may create tables")


def _object(body: Any) -> dict[str, Any]:
    if isinstance(body, str):  # jsonb arrives decoded; text only from an odd adapter
        try:
            body = json.loads(body)
        except ValueError:
            return {}
    return body if isinstance(body, dict) else {}


class CatalogAttemptLog(ShardedAttemptLog):
    """A :class:`~fmd_profiler.dashboard.throttle.ShardedAttemptLog` in the catalog, shared by
    every pod: one document per shard, so an attempt locks only the one or two rows its keys
    live in.
    """

    failures = (StoreError,)

    def __init__(self, documents: CatalogDocuments, max_keys: int = MAX_KEYS,
                 shards: int = 64) -> None:
        super().__init__(max_keys, shards)
        self.documents = documents

    def _name(self, shard: int) -> str:
        return f"{ATTEMPTS}{shard:02x}"

    def _read(self, shard: int) -> Attempts:
        return stamps_of(self.documents.read(self._name(shard)))

    def _where(self) -> str:
        return "in the catalog"

    @contextlib.contextmanager
    def _locked(self, keys: Sequence[str]) -> Iterator[tuple[Attempts, int]]:
        shards = sorted({self._shard(k) for k in keys})
        with self.documents.edit([self._name(n) for n in shards]) as documents:
            attempts: Attempts = {}
            for n in shards:
                attempts.update(stamps_of(documents[self._name(n)]))
            yield attempts, len(shards)
            for n in shards:
                documents[self._name(n)] = {}
            for key, stamps in attempts.items():
                documents[self._name(self._shard(key))][key] = stamps


class CatalogSessionGenerations:
    """Each account's session generation in the catalog (the fleet's
    :class:`~fmd_profiler.dashboard.auth.SessionGenerations`): read per request, so a sign-out on
    one pod ends the session on every other at its next request.

    While the catalog cannot be read the last generations read stand (one warning): every page
    then fails on the unreachable lake anyway, and it can say so to a signed-in user.
    """

    def __init__(self, documents: CatalogDocuments) -> None:
        self.documents = documents
        self._known: dict[str, Any] = {}
        self._warned = False

    def current(self, role: str, user: str) -> int:
        try:
            self._known = self.documents.read(SESSIONS)
            self._warned = False
        except StoreError as exc:
            if not self._warned:
                self._warned = True
                log.warning("fmd_profiler: %s; sessions are checked against the last "
                            "generations read until it can be read again", exc)
        value = self._known.get(f"{role}:{user}", 0)
        return value if type(value) is int else 0

    def bump(self, role: str, user: str) -> int:
        """End every session of the account (sign-out); returns the new generation."""
        key = f"{role}:{user}"
        with self.documents.edit([SESSIONS]) as documents:
            data = documents[SESSIONS]
            value = data.get(key, 0)
            data[key] = (value if type(value) is int else 0) + 1
            return int(data[key])


def catalog_secret(documents: CatalogDocuments, key_bytes: int) -> tuple[str, bool]:
    """The fleet's generated session secret and whether this call made it; the first pod to
    ask makes it, the others read it (one transaction under the row's lock)."""
    with documents.edit([SECRET]) as docs:
        key = docs[SECRET].get("key")
        if isinstance(key, str) and len(key) >= 32:
            return key, False
        docs[SECRET] = {"key": secrets.token_urlsafe(key_bytes)}
        return docs[SECRET]["key"], True
