"""Which requests are outliers: slower than ``OUTLIER_DETECTION_CONSTANT`` × their median.

The baseline is the median of the endpoint's last :data:`WINDOW` durations (robust: a burst of
slow requests does not drag it the way a mean does) and it needs :data:`MIN_REQUESTS` requests
before it judges anything, so the first requests of a new endpoint are never outliers. A request
must also be :data:`MIN_EXCESS_MS` slower than the median: for a 1 ms endpoint, 2.5 × the median
is scheduling noise, not a story worth keeping. At most ``per_hour`` outliers per endpoint per
hour are kept, so a slow day cannot fill the disk.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

WINDOW = 256
MIN_REQUESTS = 30
MIN_EXCESS_MS = 10.0
#: The median is recomputed after this many new durations (sorting 256 numbers per request
#: would be wasted work; the baseline moves slowly anyway).
REFRESH_EVERY = 8


@dataclass(frozen=True)
class Verdict:
    """Why a request was kept as an outlier."""

    baseline_ms: float
    threshold_ms: float


class _Baseline:
    __slots__ = ("durations", "hour", "kept", "median", "pending")

    def __init__(self) -> None:
        self.durations: deque[float] = deque(maxlen=WINDOW)
        self.median = 0.0
        self.pending = 0
        self.hour = -1.0
        self.kept = 0


class OutlierDetector:
    """Per-endpoint baselines. Not thread-safe: the engine calls it from one thread."""

    def __init__(self, constant: float, *, per_hour: int, min_requests: int = MIN_REQUESTS) -> None:
        self.constant = constant
        self.per_hour = per_hour
        self.min_requests = min_requests
        self._baselines: dict[str, _Baseline] = {}

    def observe(self, endpoint: str, duration_ms: float, wall: float) -> Verdict | None:
        """Judge one finished request, then add it to the baseline."""
        base = self._baselines.get(endpoint)
        if base is None:
            base = self._baselines[endpoint] = _Baseline()
        verdict = None
        if len(base.durations) >= self.min_requests:
            threshold = max(self.constant * base.median, base.median + MIN_EXCESS_MS)
            if duration_ms > threshold and self._allow(base, wall):
                verdict = Verdict(base.median, threshold)
        base.durations.append(duration_ms)
        base.pending += 1
        if base.pending >= REFRESH_EVERY or len(base.durations) == self.min_requests:
            base.median = _median(base.durations)
            base.pending = 0
        return verdict

    def _allow(self, base: _Baseline, wall: float) -> bool:
        hour = wall - wall % 3600
        if hour != base.hour:
            base.hour, base.kept = hour, 0
        if base.kept >= self.per_hour:
            return False
        base.kept += 1
        return True

    def baseline_ms(self, endpoint: str) -> float | None:
        base = self._baselines.get(endpoint)
        if base is None or len(base.durations) < self.min_requests:
            return None
        return _median(base.durations)


def _median(values: deque[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2.0
