"""Profile exports for the usual tools: folded stacks (flamegraph.pl, inferno, speedscope) and
speedscope's JSON file format.

``--folded DIR`` writes one ``<endpoint>.folded`` file per profiled endpoint; ``--speedscope
FILE`` writes one file with a "sampled" profile per endpoint. Both carry the window's total time
per stack in integer microseconds, scaled to the measured durations of the profiled requests. The
HTML report links the same files per endpoint (:func:`folded_bytes`, :func:`speedscope_bytes`).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from fmd_profiler.queries import profile_queries
from fmd_profiler.queries.profile_queries import ALL_TIME, UNKNOWN, total_scale_us
from fmd_profiler.queries.request_queries import Window
from fmd_profiler.store.control import write_atomic

SPEEDSCOPE_SCHEMA = "https://www.speedscope.app/file-format-schema.json"

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


#: Characters of an endpoint name kept readable in its file name (the hash suffix comes after).
MAX_NAME = 110


def endpoint_file_name(endpoint: str) -> str:
    """A file name for an endpoint: readable, and distinct even when two names clean up alike
    or share their first :data:`MAX_NAME` characters (the hash suffix is never cut off)."""
    clean = _UNSAFE.sub("_", endpoint).strip("._") or "endpoint"
    if clean != endpoint or len(clean) > MAX_NAME:
        digest = hashlib.sha1(endpoint.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        clean = clean[:MAX_NAME] + "-" + digest
    return clean + ".folded"


def speedscope_file_name(endpoint: str) -> str:
    """The speedscope file of one endpoint, named like its folded file."""
    return endpoint_file_name(endpoint).removesuffix(".folded") + ".speedscope.json"


def folded_bytes(con: Any, endpoint: str, window: Window = ALL_TIME) -> bytes:
    lines = profile_queries.folded(con, endpoint, window)
    return ("\n".join(lines) + "\n").encode() if lines else b""


def write_folded(con: Any, folder: Path, window: Window = ALL_TIME) -> list[Path]:
    """One folded-stack file per profiled endpoint; returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for endpoint in profile_queries.stacks_by_endpoint(con, window):
        path = folder / endpoint_file_name(endpoint)
        write_atomic(path, folded_bytes(con, endpoint, window))
        written.append(path)
    return written


def speedscope_document(con: Any, window: Window = ALL_TIME, *, name: str = "fmd_profiler",
                        endpoint: str | None = None) -> dict[str, Any]:
    """A speedscope file: shared frames and one "sampled" profile per endpoint (µs), or only
    ``endpoint``'s."""
    by_endpoint = profile_queries.stacks_by_endpoint(con, window, endpoint=endpoint)
    cover = profile_queries.coverage(con, window, endpoint=endpoint)
    names = profile_queries.frame_names(con, (f for stacks in by_endpoint.values()
                                              for s in stacks for f in s.frames))
    frames: list[dict[str, Any]] = []
    index: dict[int, int] = {}
    profiles = []
    for endpoint in sorted(by_endpoint):
        stacks = by_endpoint[endpoint]
        scale = total_scale_us(stacks, cover.get(endpoint, {}).get("duration_ms"))
        samples, weights = [], []
        for stack in stacks:
            weight = round(stack.weight * scale)
            if weight <= 0:
                continue
            for frame_id in stack.frames:
                if frame_id not in index:
                    function, file, line = names.get(frame_id, UNKNOWN)
                    frame: dict[str, Any] = {"name": function}
                    if file:
                        frame["file"] = file
                        frame["line"] = line
                    index[frame_id] = len(frames)
                    frames.append(frame)
            samples.append([index[f] for f in stack.frames])
            weights.append(weight)
        profiles.append({"type": "sampled", "name": endpoint, "unit": "microseconds",
                         "startValue": 0, "endValue": sum(weights), "samples": samples,
                         "weights": weights})
    return {"$schema": SPEEDSCOPE_SCHEMA, "shared": {"frames": frames}, "profiles": profiles,
            "name": name, "activeProfileIndex": 0, "exporter": "fmd_profiler"}


def speedscope_bytes(con: Any, endpoint: str, window: Window = ALL_TIME) -> bytes:
    """``endpoint``'s speedscope file."""
    document = speedscope_document(con, window, name=endpoint, endpoint=endpoint)
    return json.dumps(document, separators=(",", ":")).encode()


def write_speedscope(con: Any, path: Path, window: Window = ALL_TIME) -> int:
    """Write the speedscope file; returns the number of profiles (endpoints) in it."""
    document = speedscope_document(con, window)
    write_atomic(path, json.dumps(document, separators=(",", ":")).encode())
    return len(document["profiles"])
