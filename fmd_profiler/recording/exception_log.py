"""Exceptions raised by monitored requests, grouped by a fingerprint of their type and frames.

On the request thread :meth:`ExceptionLog.add` appends the endpoint, version, time and the
exception object to a bounded buffer (O(1): the traceback is read later). On the writer thread
:meth:`ExceptionLog.take_groups` walks each traceback: the fingerprint hashes the type and every
frame's file, function and line; occurrences are counted per (fingerprint, endpoint, version,
minute) and handed over once the minute is over; the frames (file, line, function, source line;
never locals) are formatted once per fingerprint and process, at most ``per_hour`` new ones per
endpoint and hour. Messages and source lines are redacted like outliers' request data.
"""

from __future__ import annotations

import hashlib
import json
import linecache
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from fmd_profiler.profiling.redact import Redactor
from fmd_profiler.recording.recorder import Recorder

log = logging.getLogger("fmd_profiler")

#: The innermost frames kept of a deep traceback (recursion).
MAX_FRAMES = 64
MAX_CODE = 240
BUCKET_S = 60.0


def exception_name(exc: BaseException) -> str:
    cls = type(exc)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


@dataclass(frozen=True)
class Frame:
    file: str
    line: int
    function: str
    code: str


def raw_frames(tb: TracebackType | None) -> list[tuple[str, str, int, object]]:
    """(file, function, line, globals) of each frame of ``tb``, innermost last, capped."""
    frames: list[tuple[str, str, int, object]] = []
    while tb is not None:
        code = tb.tb_frame.f_code
        frames.append((code.co_filename, getattr(code, "co_qualname", code.co_name),
                       tb.tb_lineno or 0, tb.tb_frame.f_globals))
        tb = tb.tb_next
    return frames[-MAX_FRAMES:]


def fingerprint(name: str, frames: list[tuple[str, str, int, object]]) -> str:
    digest = hashlib.blake2b(digest_size=8)
    digest.update(name.encode("utf-8", "replace"))
    for file, function, line, _ in frames:
        digest.update(f"\0{file}\0{function}\0{line}".encode("utf-8", "replace"))
    return digest.hexdigest()


def format_frames(frames: list[tuple[str, str, int, object]],
                  redactor: Redactor | None = None) -> list[Frame]:
    """The frames with their source line (from linecache; locals are never read). The
    configured redaction patterns apply to source lines too: a literal in code is data."""
    out = []
    for file, function, line, module_globals in frames:
        code = linecache.getline(file, line, module_globals  # type: ignore[arg-type]
                                 if isinstance(module_globals, dict) else None).strip()
        if redactor is not None:
            code = redactor.text(code)
        out.append(Frame(file, line, function, code[:MAX_CODE]))
    return out


def frames_json(frames: list[Frame]) -> str:
    return json.dumps([{"file": f.file, "line": f.line, "function": f.function, "code": f.code}
                       for f in frames], ensure_ascii=False)


class _Group:
    __slots__ = ("count", "exception", "first", "last", "message")

    def __init__(self, exception: str, message: str, wall: float) -> None:
        self.exception = exception
        self.message = message
        self.count = 0
        self.first = wall
        self.last = wall


class ExceptionLog:
    """The buffer and the per-process grouping of one store's exceptions."""

    def __init__(self, redactor: Redactor, *, per_hour: int, capacity: int,
                 now: Callable[[], float]) -> None:
        self.pending = Recorder(capacity)
        self.add = self.pending.add  # the request thread's only call
        self._redactor = redactor
        self._per_hour = per_hour
        self._now = now
        self._lock = threading.Lock()
        # (fingerprint, endpoint, version, minute) -> counts of the minute
        self._groups: dict[tuple[str, str, str, float], _Group] = {}
        self._traced: set[str] = set()
        self._kept: dict[tuple[str, float], int] = {}  # (endpoint, hour) -> new traces kept
        self._traces: list[tuple[object, ...]] = []
        self._dropped_told = 0

    # -- writer thread ---------------------------------------------------------------------

    def _collect(self) -> None:
        for endpoint, version, wall, exc in self.pending.drain():
            self._count(endpoint, version, wall, exc)  # type: ignore[arg-type]
        # The exception objects (and their frames) are released here, once per flush.
        dropped = self.pending.dropped
        if dropped > self._dropped_told:
            self._dropped_told = dropped
            log.warning("fmd_profiler: %d exceptions so far in process %d came faster than "
                        "%d per flush and were not grouped; their requests still carry the "
                        "exception's type", dropped, os.getpid(), self.pending.capacity)

    def _count(self, endpoint: str, version: str, wall: float, exc: BaseException) -> None:
        name = exception_name(exc)
        frames = raw_frames(exc.__traceback__)
        key = fingerprint(name, frames)
        message = self._redactor.text(_message(exc))
        minute = wall - wall % BUCKET_S
        group = self._groups.get((key, endpoint, version, minute))
        if group is None:
            group = self._groups[(key, endpoint, version, minute)] = _Group(name, message, wall)
        group.count += 1
        group.first = min(group.first, wall)
        if wall >= group.last:
            group.last, group.message = wall, message
        if key not in self._traced and self._allow(endpoint, wall):
            self._traced.add(key)
            formatted = format_frames(frames, self._redactor)
            self._traces.append((key, name, frames_json(formatted), wall))

    def _allow(self, endpoint: str, wall: float) -> bool:
        hour = wall - wall % 3600.0
        kept = self._kept.get((endpoint, hour), 0)
        if kept >= self._per_hour:
            return False
        if len(self._kept) > 10_000:
            self._kept = {k: v for k, v in self._kept.items() if k[1] >= hour}
        self._kept[(endpoint, hour)] = kept + 1
        return True

    def take_groups(self, everything: bool = False) -> list[tuple[object, ...]]:
        """Rows of :data:`~fmd_profiler.schema.EXCEPTIONS` for minutes that are over."""
        with self._lock:
            self._collect()
            now = self._now()
            current = now - now % BUCKET_S
            done = [k for k in self._groups if everything or k[3] < current]
            rows: list[tuple[object, ...]] = []
            for key in sorted(done):
                group = self._groups.pop(key)
                fp, endpoint, version, minute = key
                rows.append((fp, endpoint, version, group.exception, group.message, minute,
                             group.count, group.first, group.last))
            return rows

    def take_traces(self) -> list[tuple[object, ...]]:
        """Rows of :data:`~fmd_profiler.schema.EXCEPTION_TRACES` (new fingerprints)."""
        with self._lock:
            self._collect()
            rows, self._traces = self._traces, []
            return rows

    def clear(self) -> None:
        with self._lock:
            self.pending.clear()
            self._groups.clear()
            self._traced.clear()
            self._kept.clear()
            self._traces = []
            self._dropped_told = 0


def _message(exc: BaseException) -> str:
    try:
        # KeyError's str() is the repr of its key; args[0] reads as FMD showed it.
        if isinstance(exc, KeyError) and len(exc.args) == 1:
            return str(exc.args[0])
        return str(exc)
    except Exception:  # the app's own exception class may fail to print itself
        return "<message could not be read>"
