"""FMD rows turned into ours: pure functions, one per kind of row, no database here.

Requests keep FMD's endpoint, duration (ms), time (FMD stored when the request was written, just
after it ended), version, group, IP and status. Outliers keep the URL and headers FMD captured,
redacted the way ours are (FMD stored cookies and Authorization headers in clear). Exception
frames get their source line from the function source FMD kept.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from fmd_profiler.fmd_config import fmd_level
from fmd_profiler.migrate.fmd_source import epoch, text
from fmd_profiler.profiling.redact import Redactor, snapshot
from fmd_profiler.recording.exception_log import BUCKET_S, fingerprint

#: host and pid of imported rows: they did not come from a process of ours.
IMPORT_HOST = "fmd-import"
IMPORT_PID = 0


def request_row(row: Sequence[Any]) -> tuple[object, ...]:
    """(id, endpoint, duration, time, version, group_by, ip, status, exception) -> requests."""
    _, endpoint, duration, when, version, group_by, ip, status, exception = row
    return (text(endpoint) or "<unknown>", None, None,
            int(status) if status is not None else None, float(duration), None, epoch(when),
            text(version), text(group_by), text(ip), text(exception), None,
            IMPORT_HOST, IMPORT_PID)


def route_row(name: str, level: int | None, added: Any) -> tuple[object, ...]:
    """An FMD endpoint as a route: FMD never stored URL rules, so the rule is empty."""
    return (name, "", None, fmd_level(int(level)) if level is not None else None,
            epoch(added), IMPORT_HOST, IMPORT_PID)


def outlier_row(row: Sequence[Any], source_key: str,
                redactor: Redactor) -> tuple[object, ...]:
    """(id, request_id, header, url, duration, time, version, endpoint) -> outliers."""
    _, request_id, header, url, duration, when, version, endpoint = row
    parts = urlsplit(_stored_bytes_text(text(url) or ""))
    environ: dict[str, Any] = {"PATH_INFO": parts.path, "QUERY_STRING": parts.query}
    for line in (text(header) or "").splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip():
            environ["HTTP_" + name.strip().upper().replace("-", "_")] = value.strip()
    snap = snapshot(environ, redactor)
    return (f"fmd-{source_key}-{request_id}", text(endpoint) or "<unknown>", text(version),
            epoch(when), float(duration) if duration is not None else None, None, None, None,
            None, snap.url, snap.args, snap.headers, None, None, IMPORT_HOST, IMPORT_PID)


_HEX_BYTES = re.compile(r"^\\x((?:[0-9a-fA-F]{2})+)$")


def _stored_bytes_text(value: str) -> str:
    """FMD 5 hands its URL to the database as bytes: SQLite keeps them as a blob, while
    PostgreSQL's driver writes them into the text column as a ``\\x…`` hex literal."""
    found = _HEX_BYTES.match(value)
    return bytes.fromhex(found.group(1)).decode("utf-8", "replace") if found else value


def frame_dicts(frames: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """(position, line, path, function, function source, first line) -> {file, line, ...}."""
    out = []
    for _, line, path, function, source, first in frames:
        code = ""
        if source and line is not None and first is not None:
            lines = str(source).splitlines()
            index = int(line) - int(first)
            if 0 <= index < len(lines):
                code = lines[index].strip()
        out.append({"file": text(path) or "", "line": int(line or 0),
                    "function": text(function) or "", "code": code})
    return out


def exception_fingerprint(name: str, frames: list[dict[str, Any]]) -> str:
    return fingerprint(name, [(f["file"], f["function"], f["line"], None) for f in frames])


class ExceptionGroups:
    """Occurrences counted per (fingerprint, endpoint, version, minute), as the live store does."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self.groups: dict[tuple[str, str, str | None, float], list[Any]] = {}
        self.traces: dict[str, tuple[object, ...]] = {}

    def add(self, name: str, message: str | None, endpoint: str, version: str | None,
            when: float | None, frames: list[dict[str, Any]]) -> None:
        key = exception_fingerprint(name, frames)
        wall = when if when is not None else 0.0
        minute = wall - wall % BUCKET_S
        message = self.redactor.text(message or "")
        group = self.groups.get((key, endpoint, version, minute))
        if group is None:
            self.groups[(key, endpoint, version, minute)] = [name, message, 1, wall, wall]
        else:
            group[2] += 1
            group[3] = min(group[3], wall)
            if wall >= group[4]:
                group[1], group[4] = message, wall
        if key not in self.traces:
            for frame in frames:
                frame["code"] = self.redactor.text(frame["code"])
            self.traces[key] = (key, name, json.dumps(frames, ensure_ascii=False), wall,
                                IMPORT_HOST, IMPORT_PID)

    def rows(self) -> list[tuple[object, ...]]:
        return [(key, endpoint, version, name, message, minute, count, first, last,
                 IMPORT_HOST, IMPORT_PID)
                for (key, endpoint, version, minute), (name, message, count, first, last)
                in sorted(self.groups.items(), key=lambda item: str(item[0]))]


def bench_run_id(source: str, job: Any, version: Any) -> str:
    """A stable run id per FMD CI job and version (UUID 5): imports merge, never duplicate."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"fmd:{source}|{text(job)}|{text(version)}"))


def bench_run_row(source: str, job: Any, version: Any, first: Any, last: Any, last_run: Any,
                  tests: Any) -> tuple[object, ...]:
    """A benchmark run for FMD's test results of one CI job: no commit or machine was kept."""
    return (bench_run_id(source, job, version), "run", epoch(first), epoch(last), None, None,
            None, None, None, None, None, text(version), IMPORT_HOST, "{}", None, None,
            "travis", text(job), None, int(last_run or 0) + 1, 0, int(tests or 0), None, 0,
            False, "fmd-import")


def bench_test_row(source: str, row: Sequence[Any]) -> tuple[object, ...]:
    """(id, test name, duration ms, version, job, run number, passing) -> bench_tests."""
    _, name, duration, version, job, run_nr, passing = row
    outcome = "passed" if passing is None or bool(passing) else "failed"
    return (bench_run_id(source, job, version), text(name) or "<unknown>",
            int(run_nr or 0) + 1, None, float(duration), None, outcome)


def bench_request_row(source: str, row: Sequence[Any]) -> tuple[object, ...]:
    """(id, test name, endpoint, duration ms, version, job) -> bench_requests (round 1: FMD
    did not say which run a hit came from)."""
    _, name, endpoint, duration, version, job = row
    return (bench_run_id(source, job, version), text(name) or "<unknown>", 1,
            text(endpoint) or "<unknown>", None, None, None, float(duration), None, None)
