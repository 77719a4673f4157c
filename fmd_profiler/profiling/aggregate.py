"""Sums per key and per minute, held in memory until the minute is over.

The sampler adds one weight per request thread per tick; storing that would be one row per sample.
:class:`BucketTotals` sums the values of each (minute, key) and hands out a minute's rows once the
minute has ended (or everything, on a complete flush), so the stored rows grow with the number of
distinct stacks per minute, not with traffic. Thread-safe.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable

#: Width of a time bucket in seconds.
BUCKET_S = 60


def bucket_of(wall: float) -> float:
    """Start of the minute ``wall`` (epoch seconds) falls in."""
    return wall - wall % BUCKET_S


class BucketTotals:
    """(bucket, key) -> running sums of ``width`` numbers."""

    def __init__(self, width: int) -> None:
        self.width = width
        self._lock = threading.Lock()
        self._sums: dict[float, dict[Hashable, list[float]]] = {}

    def add(self, wall: float, key: Hashable, *values: float) -> None:
        bucket = bucket_of(wall)
        with self._lock:
            by_key = self._sums.get(bucket)
            if by_key is None:
                by_key = self._sums[bucket] = {}
            sums = by_key.get(key)
            if sums is None:
                by_key[key] = list(values)
            else:
                for i, value in enumerate(values):
                    sums[i] += value

    def take(self, now_wall: float, *, everything: bool = False
             ) -> list[tuple[float, Hashable, list[float]]]:
        """(bucket, key, sums) of every finished minute (every minute with ``everything``)."""
        current = bucket_of(now_wall)
        with self._lock:
            done = sorted(b for b in self._sums if everything or b < current)
            taken = [(b, self._sums.pop(b)) for b in done]
        return [(bucket, key, sums) for bucket, by_key in taken for key, sums in by_key.items()]

    def __len__(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._sums.values())

    def clear(self) -> None:
        with self._lock:
            self._sums = {}
