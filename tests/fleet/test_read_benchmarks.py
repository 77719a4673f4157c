"""Benchmark runs in fleet mode: the harness's store and the upload receiver write into the lake,
once per run, however often and however concurrently a run is sent."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from fmd_profiler.benchmark import benchmark_queries as queries
from fmd_profiler.benchmark.storage import EXISTS, STORED, store_payload
from fmd_profiler.benchmark.submit import upload
from fmd_profiler.config import load_config
from fmd_profiler.dashboard.standalone import create_app
from fmd_profiler.fleet.settings import LakeSettings
from fmd_profiler.store.factory import open_store
from fmd_profiler.store.lake import Lake, ensure_lake_schema
from tests.benchmark.test_storage import run_payload
from tests.benchmark.test_submit import Server, post

TOKEN = "upload-token-for-tests"


def bench_counts(settings: LakeSettings) -> dict[str, int]:
    counts = {}
    with Lake(settings).read() as con:
        for table in ("bench_runs", "bench_tests", "bench_endpoints", "bench_submissions"):
            row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
            counts[table] = int(row[0]) if row else 0
    return counts


def test_the_harness_stores_its_run_in_the_lake_once(
        lake_env: dict[str, str], lake_settings: LakeSettings, tmp_path: Path) -> None:
    config = load_config(**lake_env, SPOOL_DIR=str(tmp_path / "spool"))
    store = open_store(config)
    payload = run_payload("run-1", test_ms={"tests/t.py::test_a": [3.0, 1.0, 2.0]},
                          endpoint_ms={"index": [3.0, 1.0, 2.0]}, rounds=3)
    assert store_payload(store, payload).status == STORED
    once = bench_counts(lake_settings)
    assert store_payload(store, payload).status == EXISTS
    assert bench_counts(lake_settings) == once
    assert once["bench_runs"] == 1 and once["bench_tests"] == 6
    with store.read() as con:
        assert [(e["endpoint"], e["median_ms"]) for e in queries.endpoint_medians(con, "run-1")] \
            == [("index", 1.5)]


def test_uploads_sent_at_once_and_again_land_in_the_lake_once(
        lake_env: dict[str, str], lake_settings: LakeSettings, tmp_path: Path) -> None:
    ensure_lake_schema(lake_settings)  # as the committer does before any host uploads
    app = create_app(**lake_env, SPOOL_DIR=str(tmp_path / "spool"), SUBMIT_TOKEN=TOKEN,
                     PASSWORD="boss-pass-1", SECRET_KEY="a-session-secret")
    payload = run_payload("run-2", test_ms={"tests/t.py::test_b": [4.0, 2.0, 3.0]},
                          endpoint_ms={"items": [4.0, 2.0, 3.0]}, rounds=3)
    body = payload.to_json()
    statuses: list[Any] = []
    with Server(app) as server:
        url = f"{server.url}/dashboard"

        def send() -> None:
            statuses.append(upload(url, TOKEN, body).status)

        senders = [threading.Thread(target=send) for _ in range(3)]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join(timeout=120)
        statuses.append(upload(url, TOKEN, body).status)  # a retry after the fact
        other = run_payload("run-2", test_ms={"tests/t.py::test_b": [9.0, 9.0, 9.0]},
                            endpoint_ms={"items": [9.0]}, rounds=3)
        conflict, answer, _ = post(f"{url}/submit-test-results", other.to_json(),
                                   {"Authorization": f"Bearer {TOKEN}",
                                    "Content-Type": "application/json"})
    assert sorted(statuses) == [200, 200, 200, 201]
    assert conflict == 409 and "already stored" in answer["error"]
    counts = bench_counts(lake_settings)
    assert counts == {"bench_runs": 1, "bench_tests": 6, "bench_endpoints": 3,
                      "bench_submissions": 1}
    assert not (tmp_path / "spool").exists()
