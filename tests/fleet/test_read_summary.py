"""The lake's report equals the single DuckDB file's report of the same traffic, figure for figure.

Real traffic (the demo app at level 3, served on 127.0.0.1) is recorded into a spool; one copy
of the spool is ingested into an embedded DuckDB file, the other goes into the lake through the
uploader and the committer. The report CLI then reads each through the store its config names,
and its exports (summary, folded stacks, speedscope) must agree figure for figure.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from fmd_profiler import enable_profiler
from fmd_profiler.demo.app import create_app
from fmd_profiler.demo.traffic import drive, serve
from fmd_profiler.fleet.settings import LakeSettings
from fmd_profiler.recording import runtime as runtime_module
from fmd_profiler.report.report_cli import main as report_main
from fmd_profiler.store import Database, StoreLocation
from fmd_profiler.store.lake import ensure_lake_schema
from tests.fleet.read_support import copy_spool, put_segments_into_lake, write_config

REQUESTS = 300


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[StoreLocation, int]:
    """A spool of real traffic (segments only, nothing ingested) and the requests served."""
    folder = tmp_path_factory.mktemp("traffic")
    location = StoreLocation(folder / "host" / "fmd.duckdb")
    app = create_app(DATABASE=str(location.database), MONITOR_LEVEL=3, FLUSH_INTERVAL_S=60)
    try:
        with serve(app) as url:
            result = drive(url, requests=REQUESTS, clients=4, seconds=120)
    finally:
        app.extensions["fmd_profiler"].runtime.stop()  # flushes; never ingests
        runtime_module.forget_all()
    assert result.sent == REQUESTS
    return location, result.sent


def exports(argv: list[str], out: Path) -> tuple[dict[str, Any], dict[str, bytes], Any]:
    """The JSON summary, the folded stacks and the speedscope file the CLI writes."""
    assert report_main([*argv, "--json", str(out / "summary.json"), "--folded",
                        str(out / "folded"), "--speedscope", str(out / "speedscope.json")]) == 0
    data = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    data.pop("generated_at")
    folded = {p.name: p.read_bytes() for p in sorted((out / "folded").iterdir())}
    return data, folded, json.loads((out / "speedscope.json").read_text(encoding="utf-8"))


def test_the_lake_summary_equals_the_embedded_summary_of_the_same_traffic(
        recorded: tuple[StoreLocation, int], lake_env: dict[str, str],
        lake_settings: LakeSettings, tmp_path: Path) -> None:
    location, served = recorded
    embedded = StoreLocation(tmp_path / "embedded" / "fmd.duckdb")
    lake_copy = StoreLocation(tmp_path / "lake-copy" / "fmd.duckdb")
    copy_spool(location, embedded)
    copy_spool(location, lake_copy)
    assert Database(embedded).ingest(timeout=30.0) is not None
    ensure_lake_schema(lake_settings)
    assert put_segments_into_lake(lake_copy, lake_settings) > served
    config = write_config(tmp_path / "fleet.cfg", {**lake_env, "SPOOL_DIR": tmp_path / "spool"})

    from_file, folded_file, speedscope_file = exports(["--db", str(embedded.database)],
                                                      tmp_path / "embedded-out")
    from_lake, folded_lake, speedscope_lake = exports(["--config", str(config)],
                                                      tmp_path / "lake-out")

    assert from_lake == from_file
    assert folded_lake == folded_file and folded_lake
    assert speedscope_lake == speedscope_file
    # Not two empty reports: the traffic is there, with its errors and its call stacks.
    assert from_lake["requests"] == served
    assert sum(e["hits"] for e in from_lake["endpoints"]) == served
    assert any(e["errors"] for e in from_lake["endpoints"])
    assert from_lake["functions"]
    assert not (tmp_path / "spool").exists()  # reading the lake needs no spool

    # `flask profiler report` of an app in fleet mode reads the lake too.
    app = Flask("fleet_app")
    enable_profiler(app, config_file=config)
    result = app.test_cli_runner().invoke(args=["profiler", "report", "--json", "-"])
    assert result.exit_code == 0, result.output
    from_app = json.loads(result.output)
    from_app.pop("generated_at")
    assert from_app == from_file
    in_code = Flask("fleet_app_in_code")
    enable_profiler(in_code, **lake_env, SPOOL_DIR=str(tmp_path / "spool"))
    refused = in_code.test_cli_runner().invoke(args=["profiler", "report", "--json", "-"])
    assert refused.exit_code != 0 and "pass --config" in refused.output
    assert "password" not in refused.output
