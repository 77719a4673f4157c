"""Sampler passes with a fake clock and scripted frames: weighting, idle threads, async chains."""

from __future__ import annotations

import logging
import sys
import threading
import time
import types
from collections.abc import Iterator

import pytest

from fmd_profiler.profiling.sampler import REPHASE_EVERY, SWITCH_INTERVAL, Sampler, Slot
from fmd_profiler.profiling.stacks import StackTable
from tests.fakes import Code, FakeClock, frames

ENTRY = Code("profiled_wsgi_app", "/fmd_profiler/hooks.py", 90)
VIEW = Code("view", "/app/views.py", 10)
WORK = Code("work", "/app/views.py", 20)


class Recorded:
    def __init__(self) -> None:
        self.samples: list[tuple[str, tuple[str, ...], float, float]] = []
        self.table: StackTable | None = None

    def __call__(self, slot: Slot, stack: int, weight: float, wall: float) -> None:
        assert self.table is not None
        self.samples.append((slot.endpoint, tuple(self.table.functions(stack)),
                             round(weight, 9), wall))


def make(clock: FakeClock, threads: dict[int, object]) -> tuple[Sampler, Recorded]:
    table = StackTable([ENTRY])
    sink = Recorded()
    sink.table = table
    return Sampler(table, sink, interval_s=0.01, clock=clock, frames=lambda: dict(threads)), sink


def test_each_sample_weighs_the_real_time_since_the_previous_pass(clock: FakeClock) -> None:
    leaf = frames((ENTRY, "fmd_profiler.recording.hooks"), (VIEW, "app"), (WORK, "app"))
    sampler, sink = make(clock, {11: leaf})
    sampler.add(Slot("index", "1.0", 2, thread_id=11, wall0=clock.wall()))
    assert sampler.tick() == 0  # the first pass only starts the clock
    clock.advance(0.010)
    assert sampler.tick() == 1
    clock.advance(0.017)  # the GIL held the sampler back: the sample stands for 17 ms
    assert sampler.tick() == 1
    assert [s[2] for s in sink.samples] == [0.010, 0.017]
    assert sink.samples[0][1] == ("flask:<dispatch>", "app:view", "app:work")


def test_a_request_that_began_after_the_last_pass_gets_the_whole_pass_interval(
        clock: FakeClock) -> None:
    # Crediting only the time since the request began would favour the end of short requests.
    sampler, sink = make(clock, {11: frames((ENTRY, "fmd_profiler.recording.hooks"),
                                            (VIEW, "app"))})
    sampler.tick()
    clock.advance(0.008)
    sampler.add(Slot("short", "1.0", 2, thread_id=11, wall0=clock.wall()))
    clock.advance(0.002)
    sampler.tick()
    assert [s[2] for s in sink.samples] == [0.010]


def test_only_registered_threads_are_sampled_and_removed_ones_are_not(clock: FakeClock) -> None:
    leaf = frames((ENTRY, "fmd_profiler.recording.hooks"), (VIEW, "app"))
    sampler, sink = make(clock, {11: leaf, 12: leaf, 13: leaf})
    a = Slot("a", "1", 2, thread_id=11, wall0=0)
    b = Slot("b", "1", 2, thread_id=12, wall0=0)
    sampler.add(a)
    sampler.add(b)
    sampler.tick()
    clock.advance(0.01)
    sampler.tick()
    sampler.remove(a)
    clock.advance(0.01)
    sampler.tick()
    assert [s[0] for s in sink.samples] == ["a", "b", "b"]


def test_a_thread_that_has_gone_is_skipped(clock: FakeClock) -> None:
    sampler, sink = make(clock, {})
    sampler.add(Slot("a", "1", 2, thread_id=99, wall0=0))
    sampler.tick()
    clock.advance(0.01)
    assert sampler.tick() == 0
    assert sink.samples == []


def test_a_waiting_async_view_is_sampled_along_its_await_chain(clock: FakeClock) -> None:
    @types.coroutine
    def suspend():  # type: ignore[no-untyped-def]
        yield

    async def fetch() -> None:
        await suspend()

    async def view() -> None:
        await fetch()

    coroutine = view()
    coroutine.send(None)  # now suspended inside fetch -> suspend
    sampler, sink = make(clock, {})
    slot = Slot("async_view", "1", 2, thread_id=1, wall0=0)
    slot.coroutine = coroutine
    sampler.add(slot)
    sampler.tick()
    clock.advance(0.01)
    sampler.tick()
    names = sink.samples[0][1]
    assert names[0] == "flask:<dispatch>"
    assert names[1].endswith("test_a_waiting_async_view_is_sampled_along_its_await_chain"
                             ".<locals>.view")
    assert names[2].endswith(".<locals>.fetch")
    assert names[-1] == "asyncio:<await>"
    coroutine.close()


def test_switch_interval_is_lowered_while_sampling_and_restored_after() -> None:
    before = sys.getswitchinterval()
    SWITCH_INTERVAL.lower(0.0002)
    SWITCH_INTERVAL.lower(0.0002)  # a second sampler
    assert sys.getswitchinterval() == pytest.approx(0.0002)
    SWITCH_INTERVAL.restore()
    assert sys.getswitchinterval() == pytest.approx(0.0002)  # still needed by the other one
    SWITCH_INTERVAL.restore()
    assert sys.getswitchinterval() == before


def test_a_switch_interval_set_by_the_app_meanwhile_is_left_alone() -> None:
    before = sys.getswitchinterval()
    try:
        SWITCH_INTERVAL.lower(0.0002)
        sys.setswitchinterval(0.001)  # the app changed it
        SWITCH_INTERVAL.restore()
        assert sys.getswitchinterval() == 0.001
    finally:
        sys.setswitchinterval(before)


# None: Python's own interval; 0.002: one the app set itself, which is the app's to keep.
@pytest.mark.parametrize("app_interval", [None, 0.002], ids=["pythons", "the-apps"])
def test_the_interval_is_lowered_only_while_at_most_one_request_runs(
        clock: FakeClock, app_interval: float | None) -> None:
    before = sys.getswitchinterval()
    if app_interval is not None:
        sys.setswitchinterval(app_interval)
    chosen = sys.getswitchinterval()
    sampler = Sampler(StackTable(), lambda *a: None, interval_s=0.01, clock=clock,
                      switch_interval_s=0.0002)
    first, second = (Slot("view", "1", 2, thread_id, 0.0) for thread_id in (1, 2))
    try:
        sampler.add(first)
        sampler.adjust_switch_interval()
        assert sys.getswitchinterval() == pytest.approx(0.0002)  # alone: sample it precisely
        sampler.add(second)
        sampler.adjust_switch_interval()
        assert sys.getswitchinterval() == chosen  # two busy threads must not ping-pong
        sampler.remove(first)
        sampler.adjust_switch_interval()
        assert sys.getswitchinterval() == pytest.approx(0.0002)
        sampler.remove(second)
        sampler._set_lowered(False)
        assert sys.getswitchinterval() == chosen
    finally:
        sampler._set_lowered(False)
        sys.setswitchinterval(before)


def test_a_running_sampler_is_not_idle_so_requests_do_not_wake_it(clock: FakeClock) -> None:
    sampler, _ = make(clock, {11: frames((ENTRY, "fmd_profiler.recording.hooks"), (VIEW, "app"))})
    assert sampler.idle  # not started: the first request wakes it
    sampler.add(Slot("index", "1.0", 2, thread_id=11, wall0=clock.wall()))
    sampler.start()
    try:
        for _ in range(500):  # bounded: a few passes of 10 ms
            if sampler.ticks >= 2:
                break
            time.sleep(0.01)
        assert sampler.ticks >= 2
        assert not sampler.idle
        sampler._wake.clear()
        sampler.add(Slot("index", "1.0", 2, thread_id=11, wall0=clock.wall()))
        assert not sampler._wake.is_set()
    finally:
        sampler.stop()


# -- the main thread: a timer signal instead of the thread -----------------------------------

MAIN = threading.main_thread().ident


class FakeTimer:
    """Stands in for the POSIX timer: records armings; the test calls the handler itself."""

    def __init__(self, handler: object) -> None:
        self.handler = handler
        self.armed: list[float] = []
        self.owned = True
        self.closed = False
        self.period = 0.0

    def arm(self, first_s: float, period_s: float = 0.0) -> None:
        self.armed.append(first_s)
        self.period = period_s

    def owns_signal(self) -> bool:
        return self.owned

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def signalled(clock: FakeClock) -> Iterator[tuple[Sampler, Recorded]]:
    """A started sampler whose main-thread requests go to a FakeTimer; its thread sleeps."""
    table = StackTable([ENTRY])
    sink = Recorded()
    sink.table = table
    sampler = Sampler(table, sink, interval_s=0.01, clock=clock, frames=dict,
                      signal_timer=True, timer_factory=FakeTimer, linger_s=1.0)
    sampler.start()
    try:
        yield sampler, sink
    finally:
        sampler.stop()


LEAF = frames((ENTRY, "fmd_profiler.recording.hooks"), (VIEW, "app"), (WORK, "app"))


def test_a_main_thread_request_is_sampled_by_the_timer_and_the_thread_sleeps(
        signalled: tuple[Sampler, Recorded], clock: FakeClock) -> None:
    sampler, sink = signalled
    sampler.add(Slot("index", "1.0", 2, thread_id=MAIN, wall0=clock.wall()))
    timer = sampler._timer
    assert isinstance(timer, FakeTimer)
    assert len(timer.armed) == 1 and 0.005 <= timer.armed[0] <= 0.015  # a random phase
    assert timer.period == 0.01  # then periodic: arming costs more than a pass
    assert sampler.active == {} and sampler.idle
    clock.advance(0.012)
    assert sampler.signal_pass(LEAF)
    assert len(timer.armed) == 1
    assert sink.samples == []  # queued by the handler, handed on by the writer thread
    assert sampler.drain() == 1
    assert sink.samples == [("index", ("flask:<dispatch>", "app:view", "app:work"), 0.012,
                             clock.wall())]
    assert sampler.idle  # the thread never woke


def test_signal_samples_weigh_the_time_since_the_previous_pass(
        signalled: tuple[Sampler, Recorded], clock: FakeClock) -> None:
    sampler, sink = signalled
    first = Slot("a", "1", 2, thread_id=MAIN, wall0=0)
    sampler.add(first)
    clock.advance(0.010)
    sampler.signal_pass(LEAF)
    sampler.remove(first)
    clock.advance(0.010)
    assert not sampler.signal_pass(LEAF)  # nothing to sample, but the pass counts
    clock.advance(0.008)
    sampler.add(Slot("b", "1", 2, thread_id=MAIN, wall0=0))  # began late: still 10 ms
    clock.advance(0.002)
    sampler.signal_pass(LEAF)
    sampler.drain()
    assert [(s[0], s[2]) for s in sink.samples] == [("a", 0.010), ("b", 0.010)]


def test_the_timer_lapses_without_requests_and_the_next_request_arms_it(
        signalled: tuple[Sampler, Recorded], clock: FakeClock) -> None:
    sampler, sink = signalled
    slot = Slot("a", "1", 2, thread_id=MAIN, wall0=0)
    sampler.add(slot)
    sampler.remove(slot)
    timer = sampler._timer
    for _ in range(12):  # 1.2 s of passes without a request
        clock.advance(0.1)
        sampler.signal_pass(LEAF)
    assert timer.armed[-1] == 0.0  # stopped: no more signals while idle
    armings = len(timer.armed)
    clock.advance(5.0)
    sampler.add(Slot("b", "1", 2, thread_id=MAIN, wall0=0))
    assert len(timer.armed) == armings + 1 and timer.armed[-1] > 0
    clock.advance(0.01)
    sampler.signal_pass(LEAF)
    sampler.drain()
    assert [(s[0], s[2]) for s in sink.samples] == [("b", 0.01)]  # not the 5 s asleep


def test_the_timer_phase_is_drawn_again_every_few_passes(
        signalled: tuple[Sampler, Recorded], clock: FakeClock) -> None:
    sampler, _ = signalled
    sampler.add(Slot("a", "1", 2, thread_id=MAIN, wall0=0))
    timer = sampler._timer
    for _ in range(3 * REPHASE_EVERY):
        clock.advance(0.01)
        sampler.signal_pass(LEAF)
    assert len(timer.armed) == 1 + 3
    assert len(set(timer.armed)) == 4 and all(0.005 <= a <= 0.015 for a in timer.armed)


def test_the_handler_never_waits_for_a_lock_its_own_thread_holds(
        signalled: tuple[Sampler, Recorded], clock: FakeClock) -> None:
    sampler, _ = signalled
    sampler.add(Slot("a", "1", 2, thread_id=MAIN, wall0=0))
    clock.advance(0.01)
    with sampler.stacks._lock:  # e.g. a detailed profile's hook was learning a new function
        assert not sampler.signal_pass(LEAF)
    assert sampler.dropped == 1
    sampler._in_signal = True  # a second signal while the handler runs: ignored
    sampler._on_signal(LEAF)  # type: ignore[arg-type]
    sampler._in_signal = False
    assert sampler.pending == type(sampler.pending)()


def test_other_threads_and_async_views_are_left_to_the_thread(
        signalled: tuple[Sampler, Recorded], clock: FakeClock) -> None:
    sampler, sink = signalled
    worker = Slot("threaded", "1", 2, thread_id=12345, wall0=0)
    sampler.add(worker)
    assert sampler.active == {id(worker): worker} and sampler._wake.is_set()
    main = Slot("async_view", "1", 2, thread_id=MAIN, wall0=0)
    sampler.add(main)
    clock.advance(0.01)
    sampler.signal_pass(LEAF)
    sampler.move(main, 777)  # the coroutine runs in its loop thread: the thread samples it
    assert sampler.main_slot is None and sampler.active[id(main)] is main
    clock.advance(0.01)
    assert not sampler.signal_pass(LEAF)
    clock.advance(0.004)
    sampler.move(main, MAIN)  # back: the signal's clock restarts (a held-back signal must not
    assert sampler.main_slot is main and id(main) not in sampler.active  # count that time)
    clock.advance(0.002)
    sampler.signal_pass(LEAF)
    sampler.drain()
    assert [(s[0], s[2]) for s in sink.samples] == [("async_view", 0.01), ("async_view", 0.002)]


def test_without_a_timer_the_main_thread_is_sampled_by_the_thread(
        clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    def refused(handler: object) -> None:
        raise OSError("timer_create failed (errno 22)")

    sampler = Sampler(StackTable([ENTRY]), lambda *a: None, interval_s=0.01, clock=clock,
                      signal_timer=True, timer_factory=refused)
    sampler.start()
    try:
        with caplog.at_level(logging.INFO, logger="fmd_profiler"):
            slot = Slot("a", "1", 2, thread_id=MAIN, wall0=0)
            sampler.add(slot)
        assert sampler.active == {id(slot): slot}
        assert "sampled by the sampler thread (timer_create failed" in caplog.text
    finally:
        sampler.stop()


def test_a_signal_taken_over_by_someone_else_hands_the_request_to_the_thread(
        signalled: tuple[Sampler, Recorded], clock: FakeClock,
        caplog: pytest.LogCaptureFixture) -> None:
    sampler, _ = signalled
    first = Slot("a", "1", 2, thread_id=MAIN, wall0=0)
    sampler.add(first)
    sampler.remove(first)
    timer = sampler._timer
    for _ in range(12):
        clock.advance(0.1)
        sampler.signal_pass(LEAF)  # lapses
    timer.owned = False  # another profiler installed its SIGPROF handler meanwhile
    second = Slot("b", "1", 2, thread_id=MAIN, wall0=0)
    with caplog.at_level(logging.WARNING, logger="fmd_profiler"):
        sampler.add(second)
    assert timer.closed and sampler._timer is None
    assert sampler.active == {id(second): second}
    assert "taken over by another handler" in caplog.text


def test_stopping_the_sampler_closes_its_timer(clock: FakeClock) -> None:
    sampler = Sampler(StackTable([ENTRY]), lambda *a: None, interval_s=0.01, clock=clock,
                      signal_timer=True, timer_factory=FakeTimer)
    sampler.start()
    sampler.add(Slot("a", "1", 2, thread_id=MAIN, wall0=0))
    timer = sampler._timer
    sampler.stop()
    assert timer.closed and sampler._timer is None
    sampler._on_signal(LEAF)  # type: ignore[arg-type]  # a signal still pending: ignored
    assert not sampler.pending
