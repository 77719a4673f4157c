"""/metrics under real gunicorn with three workers: the counts equal the requests served, and
they survive a worker being replaced (its file is folded into the archive, then deleted)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from fmd_profiler.metrics.files import ARCHIVE, metrics_dir
from fmd_profiler.store import StoreLocation
from tests import servers

pytestmark = pytest.mark.slow

TOKEN = "scrape-token-for-tests"
#: (method, path, status) and how many of each the clients send.
MIX = ((("GET", "/work", 200), 240), (("POST", "/work", 201), 90), (("GET", "/fail", 503), 30))
CLASS = {200: "2xx", 201: "2xx", 503: "5xx"}
ENDPOINT = {"/work": "work", "/fail": "fail"}


class Clients:
    """What the clients saw: responses per (method, path, status), and the worker pids."""

    def __init__(self) -> None:
        self.seen: Counter[tuple[str, str, int]] = Counter()
        self.pids: set[int] = set()
        self.failures = 0
        self.lock = threading.Lock()

    def send(self, port: int, jobs: list[tuple[str, str]], clients: int = 6,
             seconds: float = 60) -> None:
        queue = iter(jobs)
        take = threading.Lock()
        deadline = time.monotonic() + seconds

        def client() -> None:
            while time.monotonic() < deadline:
                with take:
                    job = next(queue, None)
                if job is None:
                    return
                method, path = job
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                try:
                    connection.request(method, path)
                    response = connection.getresponse()
                    pid = json.loads(response.read())["pid"]
                except (OSError, http.client.HTTPException, ValueError):
                    with self.lock:
                        self.failures += 1
                    continue
                finally:
                    connection.close()
                with self.lock:
                    self.seen[(method, path, response.status)] += 1
                    self.pids.add(pid)

        threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=seconds + 30)

    def expected(self) -> dict[tuple[str, str, str], int]:
        found: Counter[tuple[str, str, str]] = Counter()
        for (method, path, status), n in self.seen.items():
            found[(ENDPOINT[path], method, CLASS[status])] += n
        return dict(found)


def scrape(port: int) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", "/dashboard/metrics",
                           headers={"Authorization": f"Bearer {TOKEN}"})
        response = connection.getresponse()
        body = response.read().decode()
    finally:
        connection.close()
    assert response.status == 200, body
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def requests_total(found: dict[str, dict[tuple[tuple[str, str], ...], float]]
                   ) -> dict[tuple[str, str, str], int]:
    totals = {}
    for labels, value in found.get("fmd_profiler_requests_total", {}).items():
        named = dict(labels)
        totals[(named["endpoint"], named["method"], named["status_class"])] = int(value)
    return totals


def scrape_until(port: int, expected: dict[tuple[str, str, str], int],
                 seconds: float = 30) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Scrape until the counts match (workers write their files once per flush interval)."""
    deadline = time.monotonic() + seconds
    while True:
        found = scrape(port)
        if requests_total(found) == expected or time.monotonic() > deadline:
            return found
        time.sleep(0.25)


def test_three_workers_count_every_request(tmp_path: Path) -> None:
    db = tmp_path / "fmd.duckdb"
    port = servers.free_port()
    argv = [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "3",
            "--graceful-timeout", "20", "tests.fixtures.metrics_app:app"]
    server = servers.start(argv, db, tmp_path / "gunicorn.log", port,
                           {"FMD_TEST_METRICS_TOKEN": TOKEN})
    clients = Clients()
    try:
        jobs = [(method, path) for (method, path, _), n in MIX for _ in range(n)]
        clients.send(port, jobs)
        assert clients.failures == 0 and sum(clients.seen.values()) == len(jobs)
        found = scrape_until(port, clients.expected())
        assert requests_total(found) == clients.expected()
        histogram = {dict(labels)["endpoint"] + " " + dict(labels)["method"]: int(v)
                     for labels, v in found["fmd_profiler_request_duration_seconds_count"].items()
                     if dict(labels)["status_class"] != "5xx"}
        assert histogram == {"work GET": 240, "work POST": 90}
        assert found["fmd_profiler_rows_recorded_total"][()] == len(jobs)
        assert found["fmd_profiler_rows_dropped_total"][()] == 0
        processes = int(found["fmd_profiler_processes"][()])
        assert len(clients.pids) <= processes <= 3

        # A worker is replaced: what it counted stays, its file goes into the archive.
        victim = min(clients.pids)
        os.kill(victim, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(victim, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        more = [("GET", "/work")] * 30
        clients.send(port, more)
        assert clients.failures == 0
        found = scrape_until(port, clients.expected())
        assert requests_total(found) == clients.expected()
        assert found["fmd_profiler_rows_recorded_total"][()] == len(jobs) + len(more)
        folder = metrics_dir(StoreLocation(db).spool_dir)
        assert (folder / ARCHIVE).exists()
        assert not [p for p in folder.glob("p-*.json") if f"-{victim}-" in p.name]
    finally:
        code = server.stop(signal.SIGTERM)
    assert code == 0, (tmp_path / "gunicorn.log").read_text()
