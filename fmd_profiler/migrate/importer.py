"""Import one Flask-MonitoringDashboard database into the store, resumably and exactly once.

Each FMD table is read in id order in batches; a batch's rows and the ledger entry saying "up to
this id" (:data:`~fmd_profiler.schema.FMD_IMPORTS`) commit in one transaction, so an interrupted
run resumes where it stopped and a second run imports nothing twice. FMD's endpoints become
routes (their levels translated, and kept as level overrides where they differ from the
configured level); requests, outliers and exceptions become ours; what has no equivalent here is
counted in the summary as skipped.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fmd_profiler import store
from fmd_profiler.config import Config
from fmd_profiler.dashboard import admin
from fmd_profiler.dashboard.source import EmbeddedSource
from fmd_profiler.fmd_config import fmd_level
from fmd_profiler.migrate import rows as mapping
from fmd_profiler.migrate.fmd_source import FmdSource, batches, epoch, text
from fmd_profiler.profiling.redact import Redactor
from fmd_profiler.schema import (
    BENCH_REQUESTS,
    BENCH_RUNS,
    BENCH_TESTS,
    EXCEPTION_TRACES,
    EXCEPTIONS,
    FMD_IMPORTS,
    OUTLIERS,
    REQUESTS,
    ROUTES,
)
from fmd_profiler.store.database import insert_rows

#: Rows per transaction: each commit costs a WAL write, so batches are large (and bounded).
BATCH = 100_000

#: FMD tables with no equivalent here (shown as skipped, with their row counts).
NOT_IMPORTED = {
    "StackLine": "profiler call-tree lines (ours are sampled stacks, recorded from now on)",
    "CustomGraphData": "custom graph points (no custom graphs here)",
}


@dataclass
class Summary:
    """What one run imported and skipped, per kind."""

    imported: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, tuple[int, str]] = field(default_factory=dict)
    level_overrides: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"imported {n:,} {kind}" for kind, n in self.imported.items()]
        out += [f"skipped {n:,} {kind}: {why}" for kind, (n, why) in self.skipped.items() if n]
        if self.level_overrides:
            out.append("levels kept as overrides: " + ", ".join(
                f"{e}={lvl}" for e, lvl in sorted(self.level_overrides.items())))
        return out + self.notes


Progress = Callable[[str, int], Any]  # (kind, total) -> an object with update(n) and close()


class Importer:
    def __init__(self, source: FmdSource, config: Config, progress: Progress,
                 clock: Callable[[], float] = time.time) -> None:
        self.source = source
        self.config = config
        self.db = store.Database(store.StoreLocation(config.database))
        self.redactor = Redactor(config.redact_patterns)
        self.progress = progress
        self.clock = clock
        self.key = _short_hash(source.identity)
        self.summary = Summary()

    def run(self) -> Summary:
        self._endpoints()
        self._requests()
        if self.source.has("Outlier"):
            self._outliers()
        if self.source.has("ExceptionOccurrence"):
            self._exceptions()
        if self.source.has("TestResult") and self.source.has("Test"):
            self._test_results()
        for table, why in NOT_IMPORTED.items():
            if self.source.has(table):
                found = self.source.query(f"SELECT count(*) FROM {{{table}}}")
                self.summary.skipped[table] = (int(found[0][0]), why)
        return self.summary

    # -- ledger ----------------------------------------------------------------------------

    def _last_id(self, fmd_table: str) -> tuple[int, int]:
        with self.db.read(ingest_first=False) as con:
            found = con.execute("SELECT last_id, imported FROM fmd_imports WHERE source = $s "
                                "AND fmd_table = $t", {"s": self.source.identity,
                                                       "t": fmd_table}).fetchone()
        return (int(found[0]), int(found[1])) if found else (0, 0)

    def _commit(self, con: Any, fmd_table: str, last_id: int, imported: int) -> None:
        con.execute("DELETE FROM fmd_imports WHERE source = $s AND fmd_table = $t",
                    {"s": self.source.identity, "t": fmd_table})
        insert_rows(con, FMD_IMPORTS, [(self.source.identity, fmd_table, last_id, imported,
                                        self.clock())])

    def _copy(self, fmd_table: str, kind: str, sql: str,
              write: Callable[[Any, list[tuple[Any, ...]]], object]) -> None:
        last, imported = self._last_id(fmd_table)
        total = self.source.count(fmd_table, last)
        bar = self.progress(kind, total)
        done = 0
        try:
            for batch in batches(self.source, sql, last, BATCH):
                with self.db.transaction() as con:
                    write(con, batch)
                    imported += len(batch)
                    self._commit(con, fmd_table, int(batch[-1][0]), imported)
                done += len(batch)
                bar.update(len(batch))
        finally:
            bar.close()
        self.summary.imported[kind] = done

    # -- the tables --------------------------------------------------------------------------

    def _endpoints(self) -> None:
        level = "monitor_level" if self.source.has("Endpoint", "monitor_level") else "NULL"
        added = "time_added" if self.source.has("Endpoint", "time_added") else "NULL"
        found = self.source.query(f"SELECT id, name, {level}, {added} FROM {{Endpoint}} "
                                  "ORDER BY id")
        with self.db.read(ingest_first=False) as con:
            known = {r[0] for r in con.execute("SELECT DISTINCT endpoint FROM routes")
                     .fetchall()}
        new = [mapping.route_row(text(name) or "", lvl, when) for _, name, lvl, when in found
               if text(name) and text(name) not in known]
        if new:
            with self.db.transaction() as con:
                insert_rows(con, ROUTES, new)
        self.summary.imported["endpoints"] = len(new)
        self._levels([(str(text(name)), int(lvl)) for _, name, lvl, _ in found
                      if lvl is not None and text(name)])

    def _levels(self, levels: list[tuple[str, int]]) -> None:
        """FMD's most common endpoint level was its MONITOR_LEVEL; endpoints set otherwise (in
        FMD's dashboard) keep their level, translated, as overrides here."""
        if not levels:
            return
        counts = Counter(level for _, level in levels)
        usual = max(sorted(counts), key=lambda level: counts[level])
        store_levels = EmbeddedSource(self.db.location)
        overrides = store_levels.overrides(None)
        for endpoint, level in levels:
            ours = fmd_level(level)
            if level != usual and endpoint not in overrides \
                    and ours != self.config.level_for(endpoint):
                admin.set_level(store_levels, endpoint, ours)
                self.summary.level_overrides[endpoint] = ours
        if fmd_level(usual) > self.config.monitor_level:
            self.summary.notes.append(
                f"FMD monitored most endpoints at its level {usual}; to keep recording what it "
                f"did, set MONITOR_LEVEL = {fmd_level(usual)} (now {self.config.monitor_level})")

    def _requests(self) -> None:
        status = "r.status_code" if self.source.has("Request", "status_code") else "NULL"
        group = "r.group_by" if self.source.has("Request", "group_by") else "NULL"
        if self.source.has("ExceptionOccurrence") and self.source.has("ExceptionType"):
            exception = "t.type"
            joins = ("LEFT JOIN (SELECT request_id, min(exception_type_id) AS type_id "
                     "FROM {ExceptionOccurrence} GROUP BY request_id) x ON x.request_id = r.id "
                     "LEFT JOIN {ExceptionType} t ON t.id = x.type_id")
        else:
            exception, joins = "NULL", ""
        sql = (f"SELECT r.id, e.name, r.duration, r.time_requested, r.version_requested, "
               f"{group}, r.ip, {status}, {exception} FROM {{Request}} r "
               f"LEFT JOIN {{Endpoint}} e ON e.id = r.endpoint_id {joins} "
               "WHERE r.id > :after ORDER BY r.id LIMIT :size")
        self._copy("Request", "requests", sql, lambda con, batch: insert_rows(
            con, REQUESTS, [mapping.request_row(r) for r in batch]))

    def _outliers(self) -> None:
        sql = ("SELECT o.id, o.request_id, o.request_header, o.request_url, r.duration, "
               "r.time_requested, r.version_requested, e.name FROM {Outlier} o "
               "LEFT JOIN {Request} r ON r.id = o.request_id "
               "LEFT JOIN {Endpoint} e ON e.id = r.endpoint_id "
               "WHERE o.id > :after ORDER BY o.id LIMIT :size")
        self._copy("Outlier", "outliers", sql, lambda con, batch: insert_rows(
            con, OUTLIERS, [mapping.outlier_row(r, self.key, self.redactor) for r in batch]))

    def _exceptions(self) -> None:
        sql = ("SELECT o.id, t.type, m.message, o.stack_trace_snapshot_id, r.time_requested, "
               "r.version_requested, e.name FROM {ExceptionOccurrence} o "
               "LEFT JOIN {ExceptionType} t ON t.id = o.exception_type_id "
               "LEFT JOIN {ExceptionMessage} m ON m.id = o.exception_msg_id "
               "LEFT JOIN {Request} r ON r.id = o.request_id "
               "LEFT JOIN {Endpoint} e ON e.id = r.endpoint_id "
               "WHERE o.id > :after ORDER BY o.id LIMIT :size")
        frames_of: dict[Any, list[dict[str, Any]]] = {}

        def write(con: Any, batch: list[tuple[Any, ...]]) -> None:
            groups = mapping.ExceptionGroups(self.redactor)
            for _, name, message, snapshot_id, when, version, endpoint in batch:
                if snapshot_id not in frames_of:
                    frames_of[snapshot_id] = self._frames(snapshot_id)
                groups.add(text(name) or "Exception", text(message),
                           text(endpoint) or "<unknown>", text(version), epoch(when),
                           [dict(f) for f in frames_of[snapshot_id]])
            insert_rows(con, EXCEPTIONS, groups.rows())
            known = {r[0] for r in con.execute("SELECT fingerprint FROM exception_traces")
                     .fetchall()}
            insert_rows(con, EXCEPTION_TRACES, [row for key, row in groups.traces.items()
                                                if key not in known])

        self._copy("ExceptionOccurrence", "exceptions", sql, write)

    def _test_results(self) -> None:
        """FMD 1.x-3.x's test results (its Travis harness): one benchmark run per CI job and
        version, its rounds FMD's run numbers, and each test-endpoint hit as endpoint timings."""
        runs = self.source.query(
            "SELECT travis_job_id, app_version, min(time_added), max(time_added), max(run_nr), "
            "count(DISTINCT test_id) FROM {TestResult} GROUP BY travis_job_id, app_version")
        new_runs = [mapping.bench_run_row(self.source.identity, *run) for run in runs]
        with self.db.transaction() as con:
            known = {r[0] for r in con.execute("SELECT run_id FROM bench_runs").fetchall()}
            insert_rows(con, BENCH_RUNS, [r for r in new_runs if r[0] not in known])
        passing = "t.passing" if self.source.has("Test", "passing") else "NULL"
        sql = (f"SELECT x.id, t.name, x.duration, x.app_version, x.travis_job_id, x.run_nr, "
               f"{passing} FROM {{TestResult}} x LEFT JOIN {{Test}} t ON t.id = x.test_id "
               "WHERE x.id > :after ORDER BY x.id LIMIT :size")
        self._copy("TestResult", "test results", sql, lambda con, batch: insert_rows(
            con, BENCH_TESTS, [mapping.bench_test_row(self.source.identity, r) for r in batch]))
        if self.source.has("TestEndpoint"):
            sql = ("SELECT x.id, t.name, e.name, x.duration, x.app_version, x.travis_job_id "
                   "FROM {TestEndpoint} x LEFT JOIN {Test} t ON t.id = x.test_id "
                   "LEFT JOIN {Endpoint} e ON e.id = x.endpoint_id "
                   "WHERE x.id > :after ORDER BY x.id LIMIT :size")
            self._copy("TestEndpoint", "test endpoint hits", sql, lambda con, batch: insert_rows(
                con, BENCH_REQUESTS,
                [mapping.bench_request_row(self.source.identity, r) for r in batch]))
        run_ids = [r[0] for r in new_runs]
        with self.db.transaction() as con:  # per (test, endpoint) figures, as the harness has
            con.execute("DELETE FROM bench_endpoints WHERE run_id IN (SELECT unnest($ids))",
                        {"ids": run_ids})
            con.execute("""
                INSERT INTO bench_endpoints
                SELECT run_id, test_id, endpoint, round, count(*), sum(duration_ms),
                       median(duration_ms), max(duration_ms), 0
                FROM bench_requests WHERE run_id IN (SELECT unnest($ids))
                GROUP BY run_id, test_id, endpoint, round""", {"ids": run_ids})

    def _frames(self, snapshot_id: Any) -> list[dict[str, Any]]:
        if snapshot_id is None or not self.source.has("ExceptionStackLine"):
            return []
        found = self.source.query(
            "SELECT l.position, f.line_number, p.path, d.name, d.code, "
            "loc.function_start_line_number FROM {ExceptionStackLine} l "
            "JOIN {ExceptionFrame} f ON f.id = l.exception_frame_id "
            "JOIN {FunctionLocation} loc ON loc.id = f.function_location_id "
            "LEFT JOIN {FilePath} p ON p.id = loc.file_path_id "
            "LEFT JOIN {FunctionDefinition} d ON d.id = loc.function_definition_id "
            "WHERE l.stack_trace_snapshot_id = :sid ORDER BY l.position", {"sid": snapshot_id})
        return mapping.frame_dicts(found)


def _short_hash(value: str) -> str:
    import hashlib

    return hashlib.sha256(value.encode()).hexdigest()[:8]
