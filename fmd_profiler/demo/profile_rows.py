"""Profiler rows built by hand: frames, stacks, samples, outliers and per-request profiles.

:class:`ProfileRows` collects what the profiling engine would hand to the writer - interned
frames and stacks with the same stable ids (:func:`~fmd_profiler.profiling.stacks.frame_id`,
:func:`~fmd_profiler.profiling.stacks.stack_id`), sample weights, coverage, outliers - and writes
it as segments through the real :class:`~fmd_profiler.store.SegmentWriter`. Synthetic stores and
tests use it to put profile data of any shape in a store without sampling a live app.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fmd_profiler.profiling.stacks import SYNTHETIC, FrameInfo, frame_id, stack_id
from fmd_profiler.schema import (
    OUTLIERS,
    PROFILE_FRAMES,
    PROFILE_REQUESTS,
    PROFILE_SAMPLES,
    PROFILE_STACKS,
    REQUEST_PROFILES,
)
from fmd_profiler.store import SegmentWriter


def make_frame(function: str, file: str = "", line: int = 0) -> FrameInfo:
    """A frame as the sampler would intern it (``function`` is ``module:qualname``)."""
    return FrameInfo(frame_id(function, line), function, file, line)


#: The root every stored stack starts with: the framework's dispatch above the view.
DISPATCH = make_frame(*SYNTHETIC[0])


@dataclass(frozen=True)
class Outlier:
    """The stored context of one outlier (request data already redacted)."""

    request_id: str
    endpoint: str
    version: str
    started_at: float  # epoch seconds
    duration_ms: float
    cpu_ms: float
    baseline_ms: float
    threshold_ms: float
    method: str
    url: str
    args: Mapping[str, Any]
    headers: Mapping[str, Any]
    memory_rss_bytes: int = 0
    load_1m: float = 0.0


Stack = tuple[Sequence[FrameInfo], float]  # frames root first, weight in ms


class ProfileRows:
    """Rows of the profile tables, frames and stacks interned once."""

    def __init__(self) -> None:
        self._frames: dict[int, FrameInfo] = {}
        self._stacks: dict[tuple[int, ...], int] = {}
        self.rows: dict[str, list[tuple[object, ...]]] = {
            t.name: [] for t in (PROFILE_FRAMES, PROFILE_STACKS, PROFILE_SAMPLES,
                                 PROFILE_REQUESTS, OUTLIERS, REQUEST_PROFILES)}
        self._seen_at = 0.0

    def stack(self, frames: Sequence[FrameInfo], seen_at: float) -> int:
        """The id of the stack of ``frames`` (root first), storing new frames and stacks."""
        ids = tuple(f.frame_id for f in frames)
        found = self._stacks.get(ids)
        if found is not None:
            return found
        for frame in frames:
            if frame.frame_id not in self._frames:
                self._frames[frame.frame_id] = frame
                self.rows[PROFILE_FRAMES.name].append(
                    (frame.frame_id, frame.function, frame.file, frame.line, seen_at))
        new = self._stacks[ids] = stack_id(ids)
        self.rows[PROFILE_STACKS.name].append((new, list(ids), seen_at))
        return new

    def add_samples(self, endpoint: str, version: str, bucket: float, stacks: Sequence[Stack],
                    interval_ms: float = 10.0) -> None:
        """Sampled time of ``stacks`` in the minute (or any bucket) starting at ``bucket``."""
        for frames, weight in stacks:
            if weight <= 0:
                continue
            self.rows[PROFILE_SAMPLES.name].append(
                (endpoint, version, bucket, self.stack(frames, bucket), float(weight),
                 max(1, round(weight / interval_ms))))

    def add_requests(self, endpoint: str, version: str, bucket: float, requests: int,
                     duration_ms: float, exact_requests: int = 0) -> None:
        """The profiled requests the samples of that bucket came from."""
        self.rows[PROFILE_REQUESTS.name].append(
            (endpoint, version, bucket, int(requests), float(duration_ms), int(exact_requests)))

    def add_request_profile(self, request_id: str, kind: str, endpoint: str, version: str,
                            started_at: float, duration_ms: float, stacks: Sequence[Stack],
                            interval_ms: float = 1.0) -> None:
        """One request's own stacks (``kind`` 'outlier' or 'detail')."""
        for frames, weight in stacks:
            self.rows[REQUEST_PROFILES.name].append(
                (request_id, kind, endpoint, version, started_at, float(duration_ms),
                 self.stack(frames, started_at), float(weight),
                 max(1, round(weight / interval_ms))))

    def add_outlier(self, outlier: Outlier, stacks: Sequence[Stack]) -> None:
        o = outlier
        self.rows[OUTLIERS.name].append(
            (o.request_id, o.endpoint, o.version, o.started_at, o.duration_ms, o.cpu_ms,
             o.baseline_ms, o.threshold_ms, o.method, o.url,
             json.dumps(dict(o.args), ensure_ascii=False, sort_keys=True),
             json.dumps(dict(o.headers), ensure_ascii=False, sort_keys=True),
             o.memory_rss_bytes, o.load_1m))
        self.add_request_profile(o.request_id, "outlier", o.endpoint, o.version, o.started_at,
                                 o.duration_ms, stacks, interval_ms=10.0)

    def write(self, writer: SegmentWriter) -> None:
        """One segment per table with rows (frames and stacks first, as the engine writes)."""
        for table in (PROFILE_FRAMES, PROFILE_STACKS, PROFILE_SAMPLES, PROFILE_REQUESTS,
                      OUTLIERS, REQUEST_PROFILES):
            if self.rows[table.name]:
                writer.write(table, self.rows[table.name])
