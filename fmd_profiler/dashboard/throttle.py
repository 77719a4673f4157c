"""Attempt throttling shared by every process of a host: login and upload-token guesses.

An :class:`AttemptLog` keeps recent attempts per key and admits a new one only while every key
it counts against is under its limit, checking and recording in one step (so parallel guesses
cannot all pass the check before any is recorded). :class:`FileAttemptLog` keeps the log in
small JSON files in the store's folder under an ``flock``, so all worker processes share one count
and a worker restart resets nothing; in fleet mode ``fmd_profiler.fleet.state`` keeps it in the
catalog instead, shared by every pod. The log is bounded: stale attempts expire, each key keeps
at most its limit, and the number of keys is capped (the oldest go first).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

log = logging.getLogger("fmd_profiler")

#: Keys kept at most; a scan from many addresses drops the least recently tried ones.
MAX_KEYS = 4096

#: key -> attempt times (seconds, oldest first).
Attempts = dict[str, list[float]]


@dataclass(frozen=True)
class Limit:
    """At most ``count`` attempts counted against ``key`` within the window."""

    key: str
    count: int


class AttemptLog(Protocol):
    """Where attempts are counted (a file in the store's folder, later a catalog table)."""

    def admit(self, limits: Sequence[Limit], now: float, window_s: float) -> float:
        """Record an attempt at ``now`` against every limit's key and return 0 when each is
        under its count; otherwise record nothing and return the seconds to wait."""
        ...

    def forget(self, key: str, stamp: float | None = None) -> None:
        """Drop the attempt made at ``stamp`` from ``key`` (None: all of its attempts)."""
        ...


def admit_in(attempts: Attempts, limits: Sequence[Limit], now: float, window_s: float, *,
             max_keys: int = MAX_KEYS, sweep: bool = True) -> float:
    """The decision of :meth:`AttemptLog.admit` on a plain dict, which it updates.

    ``sweep`` drops every expired key first (O(keys): the caller decides how often); over
    ``max_keys`` the least recently tried keys go, down to nine tenths of it, so the cost of a
    full log is paid once per many attempts.
    """
    horizon = now - window_s
    if sweep or len(attempts) > max_keys:
        for key in [k for k, stamps in attempts.items() if not stamps or stamps[-1] <= horizon]:
            del attempts[key]
    wait = 0.0
    for limit in limits:
        recent = [t for t in attempts.get(limit.key, ()) if t > horizon]
        if len(recent) >= limit.count:
            wait = max(wait, recent[-limit.count] + window_s - now)
    if wait > 0:
        return wait
    for limit in limits:
        recent = [t for t in attempts.get(limit.key, ()) if t > horizon]
        recent.append(now)
        attempts[limit.key] = recent[-limit.count:]  # more than the limit tells nothing new
    if len(attempts) > max_keys:
        keep = max_keys * 9 // 10
        for key in sorted(attempts, key=lambda k: attempts[k][-1])[:len(attempts) - keep]:
            del attempts[key]
    return 0.0


def forget_in(attempts: Attempts, key: str, stamp: float | None) -> None:
    if stamp is None:
        attempts.pop(key, None)
        return
    stamps = attempts.get(key)
    if stamps and stamp in stamps:
        stamps.remove(stamp)
        if not stamps:
            del attempts[key]


class MemoryAttemptLog:
    """An :class:`AttemptLog` of one process (the fallback when the file cannot be written)."""

    def __init__(self, max_keys: int = MAX_KEYS) -> None:
        self._attempts: Attempts = {}
        self._lock = threading.Lock()
        self._max_keys = max_keys
        self._swept_at = float("-inf")

    def admit(self, limits: Sequence[Limit], now: float, window_s: float) -> float:
        with self._lock:
            sweep = now - self._swept_at >= window_s  # expired keys go once per window
            if sweep:
                self._swept_at = now
            return admit_in(self._attempts, limits, now, window_s, max_keys=self._max_keys,
                            sweep=sweep)

    def forget(self, key: str, stamp: float | None = None) -> None:
        with self._lock:
            forget_in(self._attempts, key, stamp)

    def __len__(self) -> int:
        return len(self._attempts)


class ShardedAttemptLog:
    """An :class:`AttemptLog` whose keys are spread over ``shards`` small documents by a hash,
    so an attempt reads and rewrites only the one or two its keys live in, never the whole log.

    Subclasses say where the documents live: :meth:`_locked` yields the attempts of the given
    keys' shards with the shards held exclusively and writes them back; :meth:`_read` reads one
    shard. When that storage fails (an error of :attr:`failures`) the log falls back to this
    process's memory with one warning, so a read-only or unreachable store still throttles, per
    process.
    """

    #: The errors of the storage that make the log fall back to memory.
    failures: tuple[type[Exception], ...] = (OSError,)

    def __init__(self, max_keys: int = MAX_KEYS, shards: int = 64) -> None:
        self._shards = shards
        self._max_keys = max_keys
        self._fallback = MemoryAttemptLog(max_keys)
        self._warned = False

    def admit(self, limits: Sequence[Limit], now: float, window_s: float) -> float:
        try:
            with self._locked([limit.key for limit in limits]) as (attempts, shards):
                # only these shards are in hand: the key cap is theirs
                cap = max(1, self._max_keys * shards // self._shards)
                return admit_in(attempts, limits, now, window_s, max_keys=cap)
        except self.failures as exc:
            self._warn(exc)
            return self._fallback.admit(limits, now, window_s)

    def forget(self, key: str, stamp: float | None = None) -> None:
        try:
            with self._locked([key]) as (attempts, _):
                forget_in(attempts, key, stamp)
        except self.failures as exc:
            self._warn(exc)
        self._fallback.forget(key, stamp)

    def keys(self) -> int:
        """How many keys the log holds (for tests and status pages)."""
        return sum(len(self._read(n)) for n in range(self._shards))

    def _shard(self, key: str) -> int:
        return zlib.crc32(key.encode("utf-8", "surrogatepass")) % self._shards

    def _locked(self, keys: Sequence[str]) -> contextlib.AbstractContextManager[
            tuple[Attempts, int]]:
        raise NotImplementedError

    def _read(self, shard: int) -> Attempts:
        raise NotImplementedError

    def _where(self) -> str:
        """Where the log lives, for the warning."""
        raise NotImplementedError

    def _warn(self, exc: Exception) -> None:
        if not self._warned:
            self._warned = True
            log.warning("fmd_profiler: cannot write the attempt log %s (%s); throttling per "
                        "process until it can", self._where(), exc)


def stamps_of(document: object) -> Attempts:
    """The attempts in one shard's document; anything malformed in it counts as absent."""
    if not isinstance(document, dict):
        return {}
    return {str(k): [float(t) for t in v if isinstance(t, (int, float))]
            for k, v in document.items() if isinstance(v, list)}


class FileAttemptLog(ShardedAttemptLog):
    """A :class:`ShardedAttemptLog` in the folder ``path``, shared by every process that names
    it: one JSON file per shard, everything decided under one exclusive ``flock`` on
    ``<path>/.lock``; a damaged file counts as empty.
    """

    def __init__(self, path: Path, max_keys: int = MAX_KEYS, shards: int = 64) -> None:
        super().__init__(max_keys, shards)
        self.path = path
        self._thread_lock = threading.Lock()  # flock is per open file, threads share a process

    def _file(self, shard: int) -> Path:
        return self.path / f"{shard:02x}.json"

    def _where(self) -> str:
        return str(self.path)

    @contextlib.contextmanager
    def _locked(self, keys: Sequence[str]) -> Iterator[tuple[Attempts, int]]:
        shards = sorted({self._shard(k) for k in keys})
        with self._thread_lock:
            self.path.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                before = {n: self._read(n) for n in shards}
                attempts = {k: list(v) for part in before.values() for k, v in part.items()}
                yield attempts, len(shards)
                after: dict[int, Attempts] = {n: {} for n in shards}
                for key, stamps in attempts.items():
                    after[self._shard(key)][key] = stamps
                for n in shards:  # a refused attempt changes nothing: no write
                    if after[n] != before[n]:
                        # In place, not through a rename: every reader holds the lock, and a
                        # file cut short by a crash only forgets some attempts (read as empty).
                        with open(self._file(n), "wb") as fh:
                            fh.write(json.dumps(after[n], separators=(",", ":")).encode())
            finally:
                os.close(fd)  # closing releases the flock

    def _read(self, shard: int) -> Attempts:
        try:
            return stamps_of(json.loads(self._file(shard).read_bytes()))
        except (OSError, ValueError):
            return {}


def key_of(*parts: str) -> str:
    """A fixed-size key for attacker-chosen parts (a user name may be any text)."""
    digest = hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:32]


@dataclass(frozen=True)
class Admission:
    """One attempt's verdict: ``wait_s`` 0 lets it go ahead; the rest undoes it on success."""

    wait_s: int
    keys: tuple[str, ...]
    stamp: float


class Throttle:
    """Attempts per (address, name) and per address within a window, shared through a log.

    Never per name alone: a stranger could then lock the admin out from every address.
    """

    def __init__(self, attempts: AttemptLog, *, scope: str, per_name: int, per_address: int,
                 window_s: float = 300.0, clock: Callable[[], float] = time.time) -> None:
        self.attempts = attempts
        self.scope = scope
        self.per_name = per_name
        self.per_address = per_address
        self.window_s = window_s
        self._clock = clock

    def admit(self, address: str | None, name: str = "") -> Admission:
        """Count this attempt before its credentials are checked (see the module docstring)."""
        address = address or "unknown"
        keys = (key_of(self.scope, "name", address, name[:256]),
                key_of(self.scope, "address", address))
        now = round(self._clock(), 6)
        wait = self.attempts.admit([Limit(keys[0], self.per_name),
                                    Limit(keys[1], self.per_address)], now, self.window_s)
        return Admission(int(wait) + 1 if wait > 0 else 0, keys, now)

    def succeeded(self, admission: Admission) -> None:
        """The attempt was right: it does not count, and earlier failures for the name go."""
        self.attempts.forget(admission.keys[0])
        self.attempts.forget(admission.keys[1], admission.stamp)
