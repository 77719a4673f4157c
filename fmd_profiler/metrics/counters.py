"""Counts and duration histograms per (endpoint, method, status class), from request rows.

Pure and framework-free: the writer thread hands :meth:`RequestCounters.observe` every batch of
request rows it drains, so a request pays nothing for the metrics. Buckets are Prometheus-style
upper bounds in seconds; a series keeps per-bucket counts (not cumulative) so series of many
processes add up bucket by bucket.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fmd_profiler.schema import REQUESTS

#: Upper bounds of the duration histogram, in seconds (+Inf is implied).
BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

_COLUMNS = REQUESTS.column_names
_ENDPOINT = _COLUMNS.index("endpoint")
_METHOD = _COLUMNS.index("method")
_STATUS = _COLUMNS.index("status")
_DURATION = _COLUMNS.index("duration_ms")

SeriesKey = tuple[str, str, str]  # endpoint, method, status class


def status_class(status: object) -> str:
    """'2xx' for 200-299 and so on; 'other' outside 100-599."""
    if isinstance(status, int) and 100 <= status <= 599:
        return f"{status // 100}xx"
    return "other"


@dataclass
class Series:
    """One (endpoint, method, status class): requests, summed seconds, per-bucket counts."""

    count: int = 0
    sum_s: float = 0.0
    # len(BUCKETS_S) + 1: the last one counts requests slower than every bound
    buckets: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS_S) + 1))

    def add(self, seconds: float) -> None:
        self.count += 1
        self.sum_s += seconds
        self.buckets[bisect.bisect_left(BUCKETS_S, seconds)] += 1

    def merge(self, other: Series) -> None:
        self.count += other.count
        self.sum_s += other.sum_s
        for i, n in enumerate(other.buckets):
            self.buckets[i] += n

    def to_json(self) -> list[Any]:
        return [self.count, self.sum_s, list(self.buckets)]

    @classmethod
    def from_json(cls, value: list[Any]) -> Series:
        count, sum_s, buckets = value
        if len(buckets) != len(BUCKETS_S) + 1:
            raise ValueError(f"{len(buckets)} buckets, expected {len(BUCKETS_S) + 1}")
        return cls(int(count), float(sum_s), [int(n) for n in buckets])


@dataclass
class Totals:
    """Series per key plus the profiler's own counters (name -> cumulative value)."""

    series: dict[SeriesKey, Series] = field(default_factory=dict)
    counters: dict[str, float] = field(default_factory=dict)

    def merge(self, other: Totals) -> None:
        for key, series in other.series.items():
            self.series.setdefault(key, Series()).merge(series)
        for name, value in other.counters.items():
            self.counters[name] = self.counters.get(name, 0) + value

    def to_json(self) -> dict[str, Any]:
        return {"series": [[*key, *s.to_json()] for key, s in sorted(self.series.items())],
                "counters": dict(sorted(self.counters.items()))}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Totals:
        totals = cls()
        for endpoint, method, klass, *rest in value.get("series", []):
            totals.series[(str(endpoint), str(method), str(klass))] = Series.from_json(rest)
        totals.counters = {str(k): float(v) for k, v in value.get("counters", {}).items()}
        return totals


class RequestCounters:
    """This process's cumulative totals; fed by the writer thread only."""

    def __init__(self) -> None:
        self.totals = Totals()
        self.changed = True  # nothing written yet

    def observe(self, rows: Iterable[tuple[object, ...]]) -> None:
        series = self.totals.series
        for row in rows:
            key = (str(row[_ENDPOINT]), str(row[_METHOD] or ""), status_class(row[_STATUS]))
            found = series.get(key)
            if found is None:
                found = series[key] = Series()
            found.add(float(row[_DURATION]) / 1000.0)  # type: ignore[arg-type]
            self.changed = True

    def set_counters(self, counters: Mapping[str, float]) -> None:
        """The profiler's own cumulative counters, read on the writer thread."""
        if counters != self.totals.counters:
            self.totals.counters = dict(counters)
            self.changed = True
