"""The document a benchmark run travels as: ``--json FILE``, the upload body, the receiver's input.

``{"format": "fmd_profiler.benchmark", "version": 1, "tables": {name: {"columns": [...],
"rows": [[...], ...]}}}`` with the columns of :mod:`fmd_profiler.schema`'s benchmark tables
(columnar, so 100k request rows stay a few MB). :func:`parse_payload` validates strictly and names
the first problem by its place in the document; what it returns can be stored without a
constraint ever failing. Timestamps are epoch seconds. Pure: no flask, no duckdb.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fmd_profiler.errors import ProfilerError
from fmd_profiler.schema import (
    BENCH_FUNCTIONS,
    BENCH_REQUESTS,
    BENCH_RUNS,
    BENCH_TESTS,
    BENCH_VERDICTS,
    BOOL,
    EPOCH,
    FLOAT,
    INT,
    STR,
    Column,
    Table,
)

FORMAT = "fmd_profiler.benchmark"
VERSION = 1

#: The tables a payload carries, in storing order (bench_endpoints is derived when stored).
TABLES: dict[str, Table] = {t.name: t for t in (
    BENCH_RUNS, BENCH_TESTS, BENCH_REQUESTS, BENCH_FUNCTIONS, BENCH_VERDICTS)}

MAX_TEXT = 4096
_RUN_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
#: Columns limited to a few values.
_CHOICES = {
    ("bench_tests", "outcome"): {"passed", "failed", "skipped", "error"},
    ("bench_verdicts", "kind"): {"test", "endpoint"},
    ("bench_verdicts", "verdict"): {"regression", "ok", "inconclusive", "too_few_samples", "new"},
    ("bench_runs", "label"): {"run", "base", "head"},
}

#: Columns added after the format's first release: a document from an older harness lacks them,
#: and they are read as None.
_ADDED_LATER = {("bench_verdicts", "base_set_aside"), ("bench_verdicts", "head_set_aside")}

Row = tuple[Any, ...]

#: What each integer SQL type holds (a value beyond it would fail the INSERT, as a 500).
_INT_RANGES = {"TINYINT": (-2**7, 2**7 - 1), "SMALLINT": (-2**15, 2**15 - 1),
               "INTEGER": (-2**31, 2**31 - 1), "BIGINT": (-2**62, 2**62)}


class PayloadError(ProfilerError):
    """The document is not a valid benchmark run; the message names where and why."""


@dataclass(frozen=True)
class Payload:
    """Rows per table (tuples in schema column order). Immutable; build a new one to change."""

    tables: Mapping[str, tuple[Row, ...]]

    def rows(self, name: str) -> tuple[Row, ...]:
        return self.tables.get(name, ())

    def with_rows(self, name: str, rows: Iterable[Row]) -> Payload:
        tables = dict(self.tables)
        tables[name] = tuple(rows)
        return Payload(tables)

    @property
    def run_ids(self) -> list[str]:
        return [row[0] for row in self.rows(BENCH_RUNS.name)]

    def to_document(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": VERSION,
                "tables": {name: {"columns": list(table.column_names),
                                  "rows": [list(r) for r in self.rows(name)]}
                           for name, table in TABLES.items() if self.rows(name)}}

    def to_json(self) -> bytes:
        return json.dumps(self.to_document(), allow_nan=False, separators=(",", ":")).encode()

    def digest(self) -> str:
        """sha256 of the measured data; verdicts are derived, so they do not count."""
        measured = Payload({k: v for k, v in self.tables.items() if k != BENCH_VERDICTS.name})
        return hashlib.sha256(measured.to_json()).hexdigest()


def parse_payload(body: bytes | str) -> Payload:
    """Decode and validate a document; raises :class:`PayloadError`."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError(f"the body is not JSON: {exc}") from None
    except RecursionError:  # a run is five levels deep; thousands of brackets are hostile
        raise PayloadError("the body is nested too deeply to be a benchmark run") from None
    return validate_document(document)


def validate_document(document: object) -> Payload:
    if not isinstance(document, dict):
        raise PayloadError("the document must be a JSON object")
    if document.get("format") != FORMAT:
        raise PayloadError(f"format: expected {FORMAT!r}, got {document.get('format')!r}")
    if document.get("version") != VERSION:
        raise PayloadError(f"version: expected {VERSION}, got {document.get('version')!r} "
                           "(is the dashboard's fmd_profiler older than the harness's?)")
    tables = document.get("tables")
    if not isinstance(tables, dict):
        raise PayloadError("tables: expected an object of table name to {columns, rows}")
    unknown = sorted(set(tables) - set(TABLES))
    if unknown:
        raise PayloadError(f"tables: unknown table {unknown[0]!r} (known: {', '.join(TABLES)})")
    parsed = {name: _table_rows(TABLES[name], tables[name]) for name in TABLES if name in tables}
    payload = Payload(parsed)
    if not payload.run_ids:
        raise PayloadError("tables.bench_runs: at least one run is needed")
    _check_references(payload)
    return payload


def _table_rows(table: Table, data: object) -> tuple[Row, ...]:
    where = f"tables.{table.name}"
    if not isinstance(data, dict) or not isinstance(data.get("columns"), list) \
            or not isinstance(data.get("rows"), list):
        raise PayloadError(f"{where}: expected {{\"columns\": [...], \"rows\": [...]}}")
    columns = data["columns"]
    expected = set(table.column_names)
    for name in columns:
        if not isinstance(name, str) or name not in expected:
            raise PayloadError(f"{where}.columns: unknown column {_show(name)}")
    missing = [c for c in table.column_names
               if c not in columns and (table.name, c) not in _ADDED_LATER]
    if missing or len(set(columns)) != len(columns):
        raise PayloadError(f"{where}.columns: expected each of {', '.join(table.column_names)} "
                           f"once{f'; missing {missing[0]!r}' if missing else ''}")
    order = [columns.index(c) if c in columns else None for c in table.column_names]
    rows = []
    seen: set[Row] = set()
    key_at = [table.column_names.index(k) for k in table.key]
    for i, raw in enumerate(data["rows"]):
        if not isinstance(raw, list) or len(raw) != len(columns):
            raise PayloadError(f"{where}.rows[{i}]: expected a list of {len(columns)} values")
        row = tuple(None if j is None else raw[j] for j in order)
        for column, value in zip(table.columns, row, strict=True):
            _check_value(f"{where}.rows[{i}] ({column.name})", table, column, value,
                         required=column.name in table.key or column.name == "run_id")
        if key_at:
            key = tuple(row[j] for j in key_at)
            if key in seen:
                raise PayloadError(f"{where}.rows[{i}]: duplicate {', '.join(table.key)} "
                                   f"{key!r}")
            seen.add(key)
        rows.append(row)
    return tuple(rows)


def _check_value(where: str, table: Table, column: Column, value: object, *,
                 required: bool) -> None:
    name, kind = column.name, column.kind
    if value is None:
        if required:
            raise PayloadError(f"{where}: a value is required")
        return
    if kind == STR:
        if not isinstance(value, str):
            raise PayloadError(f"{where}: expected text, got {_show(value)}")
        if len(value) > MAX_TEXT:
            raise PayloadError(f"{where}: text longer than {MAX_TEXT} characters")
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise PayloadError(f"{where}: text with a lone surrogate (\\ud800-\\udfff), "
                                   "which UTF-8 cannot hold") from None
        if name in ("run_id", "baseline_run_id") and not _RUN_ID.match(value):
            raise PayloadError(f"{where}: a run id is 1-64 letters, digits, '-', '_' or '.'")
        choices = _CHOICES.get((table.name, name))
        if choices and value not in choices:
            raise PayloadError(f"{where}: expected one of {', '.join(sorted(choices))}, "
                               f"got {_show(value)}")
    elif kind == INT:
        if isinstance(value, bool) or not isinstance(value, int):
            raise PayloadError(f"{where}: expected a whole number, got {_show(value)}")
        if name == "round" and value < 1:
            raise PayloadError(f"{where}: rounds count from 1")
        low, high = _INT_RANGES.get(column.sql_type, (-2**62, 2**62))
        if not low <= value <= high:
            raise PayloadError(f"{where}: {_show(value)} is out of range for its column "
                               f"({column.sql_type}, {low} to {high})")
    elif kind in (FLOAT, EPOCH):
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value):
            raise PayloadError(f"{where}: expected a number, got {_show(value)}")
        if kind == EPOCH and not 0 <= value < 32503680000:  # before the year 3000
            raise PayloadError(f"{where}: expected epoch seconds, got {_show(value)}")
    elif kind == BOOL and not isinstance(value, bool):
        raise PayloadError(f"{where}: expected true or false, got {_show(value)}")


def _check_references(payload: Payload) -> None:
    runs = set(payload.run_ids)
    for name in TABLES:
        if name == BENCH_RUNS.name:
            continue
        for i, row in enumerate(payload.rows(name)):
            if row[0] not in runs:
                raise PayloadError(f"tables.{name}.rows[{i}] (run_id): run {row[0]!r} is not in "
                                   "tables.bench_runs")


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
