"""The timer signal on real apps: requests served by the main thread (Flask's test client here,
gunicorn's sync workers in production), a real SIGPROF timer, a real DuckDB store."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from fmd_profiler import enable_profiler
from fmd_profiler.demo.app import create_app
from fmd_profiler.profiling.observer import engine_of
from fmd_profiler.profiling.sampler import Sampler
from fmd_profiler.profiling.timer_signal import MainThreadTimer
from fmd_profiler.queries import profile_queries
from tests.helpers import read_store

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="per-thread timer signals need Linux")


def sampler_of(app: Flask) -> Sampler:
    engine = engine_of(app.extensions["fmd_profiler"].runtime)
    assert engine is not None
    return engine.sampler


def stop(app: Flask) -> None:
    app.extensions["fmd_profiler"].runtime.stop()


def functions(database: Path, endpoint: str) -> dict[str, dict[str, Any]]:
    with read_store(database) as con:
        return {r["function"]: r for r in profile_queries.function_table(con, endpoint)}


def test_main_thread_requests_are_sampled_by_the_timer_while_the_thread_sleeps(
        tmp_path: Path) -> None:
    database = tmp_path / "p.duckdb"
    app = create_app(DATABASE=str(database), MONITOR_LEVEL=2)
    client = app.test_client()
    for _ in range(300):
        assert client.get("/compute").json == {"fib": 6765}
    sampler = sampler_of(app)
    timer = sampler._timer
    assert isinstance(timer, MainThreadTimer) and timer.owns_signal()
    assert sampler.samples > 5
    assert sampler.idle and sampler.active == {}  # the sampler thread never had to wake
    stop(app)
    assert signal.getsignal(signal.SIGPROF) == signal.SIG_DFL  # given back
    assert "fmd_profiler.demo.app:fib" in functions(database, "compute")


def test_blocking_calls_in_the_main_thread_go_on_through_the_signal(tmp_path: Path) -> None:
    """A read that blocks restarts after the signal (SA_RESTART), sleep is resumed by Python
    (PEP 475): the view gets its data, and its waiting time is credited to it."""
    database = tmp_path / "p.duckdb"
    app = Flask("blocking")

    @app.route("/io")
    def io() -> bytes:
        ours, theirs = socket.socketpair()
        with ours, theirs:
            later = threading.Timer(0.03, theirs.sendall, args=(b"x",))
            later.start()
            got = ours.recv(1)  # blocks ~30 ms
            later.join()
        time.sleep(0.02)
        read_end, write_end = os.pipe()
        later = threading.Timer(0.02, os.write, args=(write_end, b"y"))
        later.start()
        got += os.read(read_end, 1)  # blocks ~20 ms
        later.join()
        os.close(read_end)
        os.close(write_end)
        return got

    enable_profiler(app, DATABASE=str(database), MONITOR_LEVEL=2, SAMPLING_INTERVAL_MS=1)
    client = app.test_client()
    for _ in range(8):
        assert client.get("/io").data == b"xy"
    sampler = sampler_of(app)
    assert sampler._timer is not None and sampler.samples >= 8
    stop(app)
    table = functions(database, "io")
    view = table[f"{__name__}:test_blocking_calls_in_the_main_thread_go_on_through_the_"
                 "signal.<locals>.io"]
    assert view["total_ms"] > 0.5 * sum(r["self_ms"] for r in table.values())


def test_a_sigprof_handler_of_someone_else_is_left_alone(tmp_path: Path,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    received: list[int] = []

    def theirs(signum: int, frame: object) -> None:
        received.append(signum)

    previous = signal.signal(signal.SIGPROF, theirs)
    try:
        database = tmp_path / "p.duckdb"
        app = create_app(DATABASE=str(database), MONITOR_LEVEL=2)
        client = app.test_client()
        with caplog.at_level(logging.INFO, logger="fmd_profiler"):
            for _ in range(200):
                client.get("/compute")
        sampler = sampler_of(app)
        assert sampler._timer is None  # the sampler thread samples the main thread instead
        assert "SIGPROF is already handled" in caplog.text
        for _ in range(200):  # bounded: the thread's passes come every ~10 ms
            if sampler.samples:
                break
            client.get("/compute")
        assert sampler.samples > 0
        stop(app)
        assert signal.getsignal(signal.SIGPROF) is theirs and received == []
    finally:
        signal.signal(signal.SIGPROF, previous)


def test_async_views_in_a_main_thread_request_are_followed_into_their_loop(
        tmp_path: Path) -> None:
    pytest.importorskip("asgiref")
    database = tmp_path / "p.duckdb"
    app = Flask("async_app")

    def spin_async(seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass

    @app.route("/a")
    async def view() -> str:
        spin_async(0.005)
        return "ok"

    enable_profiler(app, DATABASE=str(database), MONITOR_LEVEL=2)
    client = app.test_client()
    for _ in range(100):
        assert client.get("/a").data == b"ok"
    stop(app)
    table = functions(database, "view")
    spin = f"{__name__}:test_async_views_in_a_main_thread_request_are_followed_into_" \
           "their_loop.<locals>.spin_async"
    assert spin in table
    # most of the time is the loop thread's spinning, not the main thread waiting for it
    assert table[spin]["total_ms"] > 0.5 * sum(r["self_ms"] for r in table.values())


def test_a_timer_left_behind_is_stopped_and_the_signal_given_back_in_the_end() -> None:
    """An app that was never stopped (or a fork's parent) leaves its handler installed: the next
    timer replaces it, and closing that one restores what was there before either."""
    first = MainThreadTimer(lambda frame: None)
    first.arm(10.0)
    second = MainThreadTimer(lambda frame: None)
    assert not first._open and second.owns_signal()
    second.close()
    assert signal.getsignal(signal.SIGPROF) == signal.SIG_DFL

    closed_elsewhere = MainThreadTimer(lambda frame: None)
    closer = threading.Thread(target=closed_elsewhere.close)
    closer.start()
    closer.join()
    assert closed_elsewhere.owns_signal()  # off the main thread the handler stays
    third = MainThreadTimer(lambda frame: None)
    third.close()
    assert signal.getsignal(signal.SIGPROF) == signal.SIG_DFL



def test_the_first_request_does_not_look_for_librt_where_libc_has_the_timer(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The timer is installed on a request thread; ctypes.util.find_library runs ldconfig in a
    # subprocess. glibc >= 2.34 (this suite's machines) has timer_create itself.
    import ctypes.util

    from fmd_profiler.profiling import timer_signal

    def no_search(name: str) -> str:
        raise AssertionError(f"find_library({name!r}) was called")

    monkeypatch.setattr(ctypes.util, "find_library", no_search)
    timer_signal._libc.cache_clear()
    try:
        assert timer_signal._libc() is not None
    finally:
        timer_signal._libc.cache_clear()
