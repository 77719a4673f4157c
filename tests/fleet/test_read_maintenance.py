"""A report written while maintenance runs: it reads one snapshot from start to end, so merged
files, expired snapshots and deleted rows change nothing in it, and the next report sees them."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fmd_profiler.fleet.settings import LakeSettings
from fmd_profiler.report.build import build_report
from fmd_profiler.report.options import ReportOptions
from fmd_profiler.store.lake import Lake, ensure_lake_schema
from tests.fleet.read_support import maintain
from tests.fleet.test_read_dashboard import add_requests


def summary_of(settings: LakeSettings) -> dict[str, Any]:
    from fmd_profiler.report.json_summary import build_summary

    with Lake(settings).read() as con:
        data = build_summary(con)
    data.pop("generated_at")
    return data


def test_a_report_written_while_maintenance_runs_is_whole_and_consistent(
        lake_settings: LakeSettings, tmp_path: Path) -> None:
    ensure_lake_schema(lake_settings)
    for batch in range(4):  # several small files per table: something to merge
        add_requests(lake_settings, "items", 20 + batch, host=f"h{batch}")
    before = summary_of(lake_settings)
    maintained = []

    @contextlib.contextmanager
    def session_with_maintenance() -> Iterator[Any]:
        """The report's session, with maintenance (and a retention delete) done by another
        connection right after the report started reading."""
        with Lake(lake_settings).read() as con:
            con.execute("SELECT count(*) FROM requests").fetchone()
            with Lake(lake_settings).transaction() as writer:
                writer.execute("DELETE FROM requests WHERE host = 'h0'")
            maintain(lake_settings)
            maintained.append(True)
            yield con

    out = tmp_path / "report"
    result = build_report(session_with_maintenance, ReportOptions(), out, processes=1)
    assert maintained == [True]
    assert result.pages > 1 and result.failed_charts == 0
    written = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    written.pop("generated_at")
    assert written == before  # the snapshot the report started on, whole
    after = summary_of(lake_settings)
    assert after["requests"] == before["requests"] - 20  # the next report sees the delete
