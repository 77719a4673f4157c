"""The profiler under a real pre-fork server: each gunicorn worker samples its own requests."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from fmd_profiler.queries import profile_queries
from fmd_profiler.store import Database, StoreLocation
from tests import servers
from tests.helpers import query

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("preload", [False, True])
def test_every_gunicorn_worker_samples_its_requests(tmp_path: Path, preload: bool) -> None:
    db = tmp_path / "fmd.duckdb"
    # One request at a time per worker: that is when the sampler lowers the switch interval and
    # the order of the three functions is exact; with two in flight it is, by design, not.
    flags = ["-w", "2", "--threads", "1", *(["--preload"] if preload else [])]
    server = servers.gunicorn(db, tmp_path / "gunicorn.log", *flags, level=2)
    try:
        load = servers.send(server.url, 300, clients=4, path="/split")
    finally:
        code = server.stop(signal.SIGTERM)
    assert code == 0, (tmp_path / "gunicorn.log").read_text()
    assert load.total == 300 and len(load.by_pid) == 2
    sampled = {r["pid"] for r in query(db, "SELECT DISTINCT pid FROM profile_samples")}
    # both workers sampled; the master never did
    assert sampled == set(load.by_pid), (sampled, {p: len(t) for p, t in load.by_pid.items()})
    with Database(StoreLocation(db)).read() as con:
        table = {row["function"]: row for row in profile_queries.function_table(con, "split")}
    sixty, thirty, ten = (table[f"fmd_profiler.demo.app:split_{n}"]["total_ms"]
                          for n in ("sixty", "thirty", "ten"))
    # The profile is of the view's own functions, in the right order; the shares themselves are
    # checked by the accuracy tests (two busy workers on two cores blur them here).
    assert sixty > thirty > ten > 0, (sixty, thirty, ten)
