"""Sampler passes with a fake clock and scripted frames: weighting, idle threads, async chains."""

from __future__ import annotations

import sys
import time
import types

import pytest
from profiler_fakes import Code, FakeClock, frames

from fmd_profiler.profiling.sampler import SWITCH_INTERVAL, Sampler, Slot
from fmd_profiler.profiling.stacks import StackTable

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
    leaf = frames((ENTRY, "fmd_profiler.hooks"), (VIEW, "app"), (WORK, "app"))
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
    sampler, sink = make(clock, {11: frames((ENTRY, "fmd_profiler.hooks"), (VIEW, "app"))})
    sampler.tick()
    clock.advance(0.008)
    sampler.add(Slot("short", "1.0", 2, thread_id=11, wall0=clock.wall()))
    clock.advance(0.002)
    sampler.tick()
    assert [s[2] for s in sink.samples] == [0.010]


def test_only_registered_threads_are_sampled_and_removed_ones_are_not(clock: FakeClock) -> None:
    leaf = frames((ENTRY, "fmd_profiler.hooks"), (VIEW, "app"))
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


def test_the_interval_is_lowered_only_while_at_most_one_request_runs(clock: FakeClock) -> None:
    before = sys.getswitchinterval()
    sampler = Sampler(StackTable(), lambda *a: None, interval_s=0.01, clock=clock,
                      switch_interval_s=0.0002)
    first, second = (Slot("view", "1", 2, thread_id, 0.0) for thread_id in (1, 2))
    try:
        sampler.add(first)
        sampler.adjust_switch_interval()
        assert sys.getswitchinterval() == pytest.approx(0.0002)  # alone: sample it precisely
        sampler.add(second)
        sampler.adjust_switch_interval()
        assert sys.getswitchinterval() == before  # two busy threads must not ping-pong
        sampler.remove(first)
        sampler.adjust_switch_interval()
        assert sys.getswitchinterval() == pytest.approx(0.0002)
    finally:
        sampler.remove(second)
        sampler._set_lowered(False)
    assert sys.getswitchinterval() == before


def test_a_running_sampler_is_not_idle_so_requests_do_not_wake_it(clock: FakeClock) -> None:
    sampler, _ = make(clock, {11: frames((ENTRY, "fmd_profiler.hooks"), (VIEW, "app"))})
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
