"""Login and token throttling: per (address, name) and per address, shared by every worker
process through a file in the store's folder, decided before the credentials are checked."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from fmd_profiler.dashboard.throttle import FileAttemptLog, Limit, MemoryAttemptLog, Throttle
from fmd_profiler.demo.app import create_app
from tests.dashboard.test_security import ADMIN_PASSWORD, SECRET, csrf_of


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_name_is_never_locked_from_every_address() -> None:
    clock = Clock()
    throttle = Throttle(MemoryAttemptLog(), scope="t", per_name=3, per_address=10,
                        window_s=60, clock=clock)
    for _ in range(3):
        assert throttle.admit("10.0.0.66", "admin").wait_s == 0
    assert throttle.admit("10.0.0.66", "admin").wait_s == 61
    assert throttle.admit("10.0.0.1", "admin").wait_s == 0  # the admin, elsewhere
    clock.now += 61
    assert throttle.admit("10.0.0.66", "admin").wait_s == 0


def test_an_address_trying_many_names_is_throttled_too() -> None:
    throttle = Throttle(MemoryAttemptLog(), scope="t", per_name=3, per_address=5,
                        window_s=60, clock=Clock())
    verdicts = [throttle.admit("10.0.0.66", f"user{i}").wait_s for i in range(6)]
    assert verdicts == [0, 0, 0, 0, 0, 61]


def test_a_success_does_not_count_and_clears_the_name() -> None:
    throttle = Throttle(MemoryAttemptLog(), scope="t", per_name=3, per_address=6,
                        window_s=60, clock=Clock())
    for _ in range(2):
        throttle.admit("a", "boss")
    throttle.succeeded(throttle.admit("a", "boss"))
    for _ in range(3):  # the name starts afresh
        assert throttle.admit("a", "boss").wait_s == 0
    assert throttle.admit("a", "boss").wait_s > 0
    # the address kept its 2 + 3 failures, not the success: one more name may try once
    assert throttle.admit("a", "other").wait_s == 0
    assert throttle.admit("a", "third").wait_s > 0


def test_parallel_guesses_cannot_all_pass_the_check(tmp_path: Path) -> None:
    throttle = Throttle(FileAttemptLog(tmp_path / "attempts"), scope="t", per_name=5,
                        per_address=100, window_s=60, clock=Clock())
    admitted: list[int] = []
    barrier = threading.Barrier(8)

    def guess() -> None:
        barrier.wait()
        for _ in range(5):
            if throttle.admit("10.0.0.66", "boss").wait_s == 0:
                admitted.append(1)

    threads = [threading.Thread(target=guess) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(admitted) == 5


GUESSER = """
import sys, time
from pathlib import Path
from fmd_profiler.dashboard.throttle import FileAttemptLog, Throttle
path, start = Path(sys.argv[1]), float(sys.argv[2])
throttle = Throttle(FileAttemptLog(path), scope="login", per_name=5, per_address=100,
                    window_s=300, clock=lambda: 1_800_000_000.0)
while time.time() < start:
    time.sleep(0.001)
print(sum(throttle.admit("10.0.0.66", "boss").wait_s == 0 for _ in range(10)))
"""


def test_worker_processes_share_one_count(tmp_path: Path) -> None:
    import time

    path = tmp_path / "store.spool" / "attempts"
    start = time.time() + 1.0  # every process starts guessing at the same moment
    procs = [subprocess.Popen([sys.executable, "-c", GUESSER, str(path), str(start)],
                              stdout=subprocess.PIPE, text=True) for _ in range(4)]
    admitted = [int(p.communicate(timeout=60)[0]) for p in procs]
    assert sum(admitted) == 5, admitted


def test_the_log_is_bounded_and_expires(tmp_path: Path) -> None:
    clock = Clock()
    memory = MemoryAttemptLog()
    throttle = Throttle(memory, scope="t", per_name=5, per_address=20, window_s=300,
                        clock=clock)
    for i in range(30_000):  # a scan from 30k addresses
        throttle.admit(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}", "admin")
        clock.now += 0.001
    assert len(memory) <= 4096
    clock.now += 301
    throttle.admit("10.9.9.9", "admin")
    assert len(memory) == 2  # everything older than the window is gone

    log = FileAttemptLog(tmp_path / "attempts", max_keys=256, shards=4)
    for i in range(2000):
        log.admit([Limit(f"k{i}", 5)], 1000.0 + i, 300)
    assert 128 <= log.keys() <= 256
    files = list((tmp_path / "attempts").glob("*.json"))
    assert len(files) == 4 and all(f.stat().st_size < 64 * 60 for f in files)
    log.admit([Limit("late", 5)], 1000.0 + 2000 + 301, 300)  # all older than the window
    assert log.keys() <= 1 + 3 * 64  # its shard was swept; the others are swept when next used


def test_an_unwritable_folder_throttles_per_process(tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    throttle = Throttle(FileAttemptLog(blocker / "attempts"), scope="t", per_name=2,
                        per_address=10, window_s=60, clock=Clock())
    assert [throttle.admit("a", "b").wait_s for _ in range(3)] == [0, 0, 61]
    assert sum("cannot write the attempt log" in r.getMessage() for r in caplog.records) == 1


# -- through the dashboard -----------------------------------------------------------------------

@pytest.fixture
def apps(tmp_path: Path) -> Iterator[tuple[Flask, Flask]]:
    """Two apps on one store: what two worker processes of one server are to each other."""
    made = tuple(create_app(DATABASE=str(tmp_path / "dash.duckdb"), USERNAME="boss",
                            PASSWORD=ADMIN_PASSWORD, SECRET_KEY=SECRET) for _ in range(2))
    yield made  # type: ignore[misc]
    for app in made:
        app.extensions["fmd_profiler"].runtime.stop()


def attempt(app: Flask, address: str, password: str) -> int:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    token = csrf_of(client.get("/dashboard/login").text)
    return client.post("/dashboard/login", data={"username": "boss", "password": password,
                                                 "csrf_token": token}).status_code


def test_a_stranger_cannot_lock_the_admin_out(apps: tuple[Flask, Flask]) -> None:
    first, _second = apps
    for _ in range(5):
        assert attempt(first, "203.0.113.9", "guess") == 401
    assert attempt(first, "203.0.113.9", ADMIN_PASSWORD) == 429  # the stranger's address
    assert attempt(first, "10.0.0.1", ADMIN_PASSWORD) == 302  # the admin's


def test_every_worker_counts_the_same_failures(apps: tuple[Flask, Flask]) -> None:
    first, second = apps
    for app in (first, second, first, second, first):
        assert attempt(app, "203.0.113.9", "guess") == 401
    assert attempt(second, "203.0.113.9", "guess") == 429
    assert attempt(first, "203.0.113.9", "guess") == 429
