"""The generated session secret: made once, 0600, the same for every process that races for it."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from fmd_profiler.dashboard.secret_file import shared_secret
from fmd_profiler.errors import StoreError


def _race(path: str, queue: multiprocessing.Queue[str]) -> None:
    queue.put(shared_secret(Path(path))[0])


def test_racing_processes_all_get_the_first_key(tmp_path: Path) -> None:
    path = tmp_path / "store" / "x.duckdb.secret"
    ctx = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[str] = ctx.Queue()
    workers = [ctx.Process(target=_race, args=(str(path), queue)) for _ in range(6)]
    for worker in workers:
        worker.start()
    keys = {queue.get(timeout=30) for _ in workers}
    for worker in workers:
        worker.join(timeout=30)
    assert keys == {path.read_text().strip()}
    assert path.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["x.duckdb.secret"]  # no leftovers


def test_the_key_is_kept_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "x.duckdb.secret"
    key, created = shared_secret(path)
    assert created and len(key) >= 32
    assert shared_secret(path) == (key, False)


def test_an_emptied_key_file_is_an_error_naming_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "x.duckdb.secret"
    path.write_text("")
    with pytest.raises(StoreError, match="delete the file"):
        shared_secret(path)
