"""Three hosts under load write into one lake: every served request is stored exactly once.

Real gunicorn servers (one per simulated host, each with its own HOST_NAME and SPOOL_DIR), real
PostgreSQL and SeaweedFS. The servers upload every few seconds and once more at their graceful
stop; the committer registers what they uploaded.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from fmd_profiler.config import load_config
from fmd_profiler.demo.services import SeaweedFS
from fmd_profiler.fleet.commit import commit_once
from fmd_profiler.fleet.settings import LakeSettings
from fmd_profiler.fleet.upload import outbox_dir
from fmd_profiler.store.lake import Lake
from tests import servers
from tests.fleet.hosts import Host, start_host, upload_children, write_config
from tests.fleet.support import duplicates, pending, spool_of, stored_requests

pytestmark = pytest.mark.slow

REQUESTS_PER_HOST = 300


def served_by(host: Host, load: servers.Load) -> dict[tuple[str, int], int]:
    return {(host.name, pid): len(times) for pid, times in load.by_pid.items()}


def stop(host: Host) -> None:
    code = host.server.stop(signal.SIGTERM)
    assert code == 0, host.log.read_text()


def test_three_hosts_under_load_store_every_request_once(
        lake_env: dict[str, str], tmp_path: Path) -> None:
    # An admin sets /work to level 2 on the dashboard (a row in the catalog); the committer
    # publishes it and every host picks it up with its uploads.
    admin = load_config(write_config(tmp_path / "admin", "admin", lake_env)).lake
    assert admin is not None
    with Lake(admin).transaction() as con:
        con.execute("INSERT INTO fmd_levels VALUES ('work', 2, now())")
    # web-3 uploads once at its first flush and then only when it stops: what it served
    # after its first second reaches the lake through the graceful stop alone.
    hosts = [start_host(tmp_path / name, name, lake_env, "-w", "2", "--threads", "2",
                        upload_interval_s=interval)
             for name, interval in (("web-1", 2), ("web-2", 2), ("web-3", 3600))]
    assert commit_once(admin, wait_s=60) is not None
    loads = {h.name: servers.Load() for h in hosts}
    try:
        for host in hosts:  # warm up, and let web-3 make its one upload before the load
            servers.send(host.server.url, 10, clients=1, load=loads[host.name])
        assert hosts[2].wait_until_first_upload(), hosts[2].log.read_text()
        threads = [threading.Thread(target=servers.send, args=(h.server.url, REQUESTS_PER_HOST),
                                    kwargs={"clients": 3, "load": loads[h.name]})
                   for h in hosts]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=200)
        # One committer while the hosts still run; the rest after they stopped.
        assert commit_once(hosts[0].settings, wait_s=60) is not None
        before_stop = stored_requests(hosts[0].settings)
    finally:
        for host in hosts:
            stop(host)
    for host in hosts:
        assert (loads[host.name].total, loads[host.name].failures) == (REQUESTS_PER_HOST + 10, 0)
        # The graceful stop uploaded what the workers flushed last.
        assert host.wait_until_uploaded(), host.log.read_text()
    settings: LakeSettings = hosts[0].settings
    assert commit_once(settings, wait_s=60) is not None

    served: dict[tuple[str, int], int] = {}
    for host in hosts:
        served.update(served_by(host, loads[host.name]))
    assert stored_requests(settings) == served
    assert duplicates(settings) == 0
    web3 = [key for key in served if key[0] == "web-3"]
    assert sum(before_stop.get(k, 0) for k in web3) < sum(served[k] for k in web3)
    with Lake(settings).read() as con:
        applied = con.execute("SELECT DISTINCT host FROM stored.routes WHERE endpoint = 'work' "
                              "AND level = 2 ORDER BY host").fetchall()
    assert applied == [("web-1",), ("web-2",), ("web-3",)]


def test_a_worker_and_an_upload_killed_mid_upload_lose_at_most_one_flush_interval(
        lake_env: dict[str, str], tmp_path: Path) -> None:
    threads = 2
    host = start_host(tmp_path / "web-k", "web-k", lake_env, "-w", "2", "--threads",
                      str(threads))
    load = servers.Load()
    killed: dict[str, float] = {}
    outbox = outbox_dir(spool_of(host.settings))

    def kill_a_worker_then_an_upload() -> None:
        time.sleep(2.5)
        with load.lock:
            victim = max(load.by_pid, key=lambda pid: len(load.by_pid[pid]))
        killed["at"] = time.monotonic()
        killed["pid"] = victim
        os.kill(victim, signal.SIGKILL)
        # Then an upload child while its manifest is out: between listing its segments and
        # deleting them (bounded wait; the uploads run every 2 s).
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "upload" not in killed:
            if outbox.is_dir() and any(outbox.glob("*.json")):
                for pid in upload_children(set(load.by_pid)):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                        killed["upload"] = pid
            time.sleep(0.005)

    killer = threading.Thread(target=kill_a_worker_then_an_upload)
    try:
        killer.start()
        servers.send(host.server.url, 1500, clients=3, seconds=60, pace=0.01, load=load)
        killer.join()
    finally:
        stop(host)
    assert "upload" in killed, "no upload child was caught mid-upload"
    assert host.wait_until_uploaded(), host.log.read_text()
    assert commit_once(host.settings, wait_s=60) is not None

    stored = {pid: n for (_, pid), n in stored_requests(host.settings).items()}
    victim = int(killed["pid"])
    served = len(load.by_pid[victim])
    lost = served - stored.get(victim, 0)
    window = [t for t in load.by_pid[victim] if killed["at"] - 1.5 <= t <= killed["at"]]
    assert -threads <= lost <= len(window), (served, stored.get(victim), len(window))
    for pid, times in load.by_pid.items():
        if pid != victim:
            assert stored[pid] == len(times)
    assert duplicates(host.settings) == 0


@pytest.mark.once_in_ci
def test_storage_down_for_30_s_keeps_serving_and_catches_up_with_one_log_line_each_way(
        lake_env: dict[str, str], s3_server: SeaweedFS, tmp_path: Path) -> None:
    host = start_host(tmp_path / "web-s", "web-s", lake_env, "-w", "1", "--threads", "2")
    load = servers.Load()
    try:
        servers.send(host.server.url, 20, clients=1, load=load)
        assert host.wait_until_uploaded(), host.log.read_text()
        # Two clients, 5 requests a second each: 36 s and more of traffic, over the store's
        # stop (WEED_GRACE_S), the 30 s outage and its restart (a few seconds).
        during = threading.Thread(target=servers.send, args=(host.server.url, 360),
                                  kwargs={"clients": 2, "pace": 0.2, "seconds": 120,
                                          "load": load})
        during.start()
        with s3_server.outage():
            time.sleep(30)
            segments_while_down = len(list(pending(spool_of(host.settings))))
        during.join(timeout=150)
        servers.send(host.server.url, 20, clients=1, load=load)
        assert host.wait_until_uploaded(timeout=90), host.log.read_text()
    finally:
        stop(host)
    assert (load.total, load.failures) == (400, 0)  # served all along
    assert segments_while_down > 0  # kept in the spool meanwhile
    log = host.log.read_text()
    assert log.count("cannot upload segments to") == 1, log
    assert log.count("works again (upload segments to)") == 1, log
    assert "fmd-secret" not in log
    assert commit_once(host.settings, wait_s=60) is not None
    assert stored_requests(host.settings) == served_by(host, load)
    assert duplicates(host.settings) == 0
