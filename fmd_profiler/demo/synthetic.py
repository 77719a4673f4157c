"""A synthetic store of any size, written through the real segment writer and ingester.

Benchmarks and tests need a million requests over fifty endpoints without serving them: this
module draws them with numpy (Zipf-like endpoint and user popularity, log-normal durations, a
daily load curve, a few errors, versions in time order with one endpoint slower in each new
version) and stores them exactly as the request path would: spool segments, then ingestion.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fmd_profiler.demo.synthetic_profiles import SyntheticProfiles
from fmd_profiler.schema import REQUESTS, ROUTES, SEGMENT_TABLES
from fmd_profiler.store import Database, SegmentWriter, StoreLocation

BATCH = 200_000
DAY = 86_400.0


@dataclass(frozen=True)
class SyntheticStore:
    database: Path
    requests: int
    endpoints: tuple[str, ...]
    unused: tuple[str, ...]
    versions: tuple[str, ...]


def endpoint_names(count: int) -> list[str]:
    areas = ("api", "admin", "auth", "search", "cart", "user", "report", "feed")
    return [f"{areas[i % len(areas)]}.view_{i:02d}" for i in range(count)]


def write_synthetic_store(database: Path, *, requests: int, endpoints: int = 50,
                          unused: int = 3, days: int = 14, versions: int = 3, users: int = 40,
                          end: float, seed: int = 7, profiles: bool = False) -> SyntheticStore:
    """Write ``requests`` requests ending at ``end`` (epoch seconds) into a new store."""
    rng = np.random.default_rng(seed)
    names = endpoint_names(endpoints + unused)
    used, never = names[:endpoints], names[endpoints:]
    version_names = [f"2.{i}.0" for i in range(versions)]
    location = StoreLocation(database)
    writer = SegmentWriter(location, host=socket.gethostname(), pid=1)
    try:
        _write_routes(writer, names, end)
        weights = 1.0 / np.arange(1, endpoints + 1) ** 0.9
        weights /= weights.sum()
        base_ms = np.exp(rng.uniform(np.log(2.0), np.log(400.0), endpoints))
        profiled = SyntheticProfiles(used, np.random.default_rng(seed + 1)) if profiles else None
        for start in range(0, requests, BATCH):
            count = min(BATCH, requests - start)
            batch = _batch(rng, count, used, weights, base_ms, version_names, users, days, end)
            writer.write(REQUESTS, batch.rows)
            if profiled is not None:
                profiled.add(batch.which, batch.version, batch.started, batch.duration, base_ms,
                             batch.slower)
        if profiled is not None:
            profiled.write(writer, version_names)
    finally:
        writer.close()
    database_ = Database(location)
    while any(location.pending_segments(table) for table in SEGMENT_TABLES):
        if database_.ingest(timeout=30.0) is None:
            raise TimeoutError(f"the store {database} stayed locked")
    return SyntheticStore(database, requests, tuple(used), tuple(never), tuple(version_names))


def _write_routes(writer: SegmentWriter, names: list[str], now: float) -> None:
    rows = [(name, f"/{name.replace('.', '/')}/<int:id>", "GET", 1, now) for name in names]
    writer.write(ROUTES, rows)


@dataclass(frozen=True)
class _Batch:
    """Generated requests: the rows to store and the arrays the profiles are derived from."""

    rows: list[tuple[object, ...]]
    which: np.ndarray  # endpoint index
    version: np.ndarray  # version index
    started: np.ndarray  # epoch seconds
    duration: np.ndarray  # ms
    slower: np.ndarray  # 1.4 where the version made the endpoint slower, else 1.0


def _batch(rng: np.random.Generator, count: int, endpoints: list[str], weights: np.ndarray,
           base_ms: np.ndarray, versions: list[str], users: int, days: int,
           end: float) -> _Batch:
    which = rng.choice(len(endpoints), size=count, p=weights)
    # A daily load curve: more traffic in the (UTC) afternoon than at night.
    day = rng.integers(0, days, size=count)
    hour = np.clip(rng.normal(14.0, 4.5, size=count), 0, 23.999)
    started = end - days * DAY + day * DAY + hour * 3600.0
    started = np.minimum(started, end - 1.0)
    version = np.minimum(((started - (end - days * DAY)) / (days * DAY) * len(versions))
                         .astype(int), len(versions) - 1)
    # Endpoints with k % 7 == v get 40 % slower from version v on: every release changes some.
    step = which % 7
    slower = np.where((step >= 1) & (version >= step), 1.4, 1.0)
    duration = base_ms[which] * rng.lognormal(0.0, 0.45, size=count) * slower
    cpu = duration * rng.uniform(0.3, 0.9, size=count)
    status = rng.choice([200, 201, 304, 404, 500], size=count,
                        p=[0.9, 0.03, 0.03, 0.03, 0.01])
    user_rank = np.minimum(rng.zipf(1.6, size=count), users)
    ip = rng.integers(1, 60, size=count)
    endpoint_arr = np.array(endpoints, dtype=object)[which]
    rule = [f"/{e.replace('.', '/')}/<int:id>" for e in endpoint_arr]
    version_arr = np.array(versions, dtype=object)[version]
    rows = list(zip(
        endpoint_arr.tolist(), rule, ["GET"] * count, status.tolist(), duration.tolist(),
        cpu.tolist(), started.tolist(), version_arr.tolist(),
        [f"user{u}" for u in user_rank.tolist()], [f"10.1.0.{i}" for i in ip.tolist()],
        ["RuntimeError" if s == 500 else None for s in status.tolist()], [None] * count,
        strict=True))
    return _Batch(rows, which, version, started, duration, slower)
