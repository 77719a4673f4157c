"""The sampler's CPU budget with injected clocks: what it decides, and the sampler following it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fmd_profiler.config import ConfigError, load_config
from fmd_profiler.profiling.budget import HEADROOM, IDLE_WINDOWS, MAX_SHRINK, CpuBudget
from fmd_profiler.profiling.sampler import Sampler, Slot
from fmd_profiler.profiling.stacks import StackTable
from tests.fakes import Code, FakeClock, frames

BASE = 0.010


class Clocks:
    """A monotonic clock and a process CPU clock that move only when the test says."""

    def __init__(self) -> None:
        self.now = 0.0
        self.cpu = 0.0

    def perf(self) -> float:
        return self.now

    def process_cpu(self) -> float:
        return self.cpu


def budget(clocks: Clocks, pct: float = 1.0, **kwargs: float) -> CpuBudget:
    return CpuBudget(BASE, pct, perf=clocks.perf, process_cpu=clocks.process_cpu, **kwargs)


def window(b: CpuBudget, clocks: Clocks, *, spent: float, used: float,
           elapsed: float = 1.0) -> float:
    """One window: the passes cost ``spent``, the process used ``used`` CPU seconds."""
    b.add_thread_cost(spent)
    clocks.now += elapsed
    clocks.cpu += used
    return b.update()


def test_under_the_budget_the_interval_stays_the_configured_one() -> None:
    clocks = Clocks()
    b = budget(clocks)
    assert b.update() == BASE  # the first call opens the first window
    for _ in range(5):
        assert window(b, clocks, spent=0.004, used=0.9) == BASE  # 0.44 %
    assert b.last_share == pytest.approx(0.004 / 0.9)
    assert b.stretched_windows == 0


def test_over_the_budget_the_interval_stretches_in_proportion() -> None:
    clocks = Clocks()
    b = budget(clocks)
    b.update()
    # 2 % of the process's CPU at 10 ms: passes cost in proportion to their rate, so 2 / 1 of
    # the interval brings them to the budget, and the headroom a little under it.
    assert window(b, clocks, spent=0.018, used=0.9) == pytest.approx(BASE * 2 / HEADROOM)
    assert b.last_share == pytest.approx(0.02)
    # At the new interval the passes cost 0.8 %: it holds.
    interval = b.interval_s
    assert window(b, clocks, spent=0.9 * 0.01 * HEADROOM, used=0.9) == pytest.approx(interval)


def test_a_window_only_decides_once_it_is_over() -> None:
    clocks = Clocks()
    b = budget(clocks, window_s=1.0)
    b.update()
    b.add_thread_cost(0.05)
    clocks.now, clocks.cpu = 0.5, 0.5  # half a window: 10 % so far, but nothing decided yet
    assert b.update() == BASE and b.windows == 0
    clocks.now, clocks.cpu = 1.0, 1.0
    assert b.update() == pytest.approx(BASE * 5 / HEADROOM)
    assert b.windows == 1


def test_when_the_load_goes_the_interval_comes_back_by_halves() -> None:
    clocks = Clocks()
    b = budget(clocks)
    b.update()
    stretched = window(b, clocks, spent=0.08, used=1.0)  # 8 %
    assert stretched == pytest.approx(0.1)
    # Light load: the passes now cost 0.1 % - at most halved per window, down to the base.
    seen = [window(b, clocks, spent=0.0001, used=0.1) for _ in range(6)]
    assert seen[0] == pytest.approx(stretched / MAX_SHRINK)
    assert seen[1] == pytest.approx(stretched / MAX_SHRINK ** 2)
    assert seen[-1] == BASE and min(seen) == BASE


def test_a_process_with_cpu_to_spare_is_never_stretched() -> None:
    """A third of a CPU: the passes are 8 % of it, but they take capacity from no request."""
    clocks = Clocks()
    b = budget(clocks)
    b.update()
    assert window(b, clocks, spent=0.027, used=0.33) == BASE
    assert b.last_share == pytest.approx(0.027 / 0.33) and b.stretched_windows == 0
    assert window(b, clocks, spent=0.08, used=1.0) == pytest.approx(0.1)  # busy: stretched
    # Still allowed to come back towards the base while the process has CPU to spare.
    assert window(b, clocks, spent=0.0001, used=0.33) == pytest.approx(0.1 / MAX_SHRINK)


def test_a_lightly_loaded_process_is_sampled_at_the_configured_interval() -> None:
    """A few requests a second: the passes are a large share of very little CPU."""
    clocks = Clocks()
    b = budget(clocks)
    b.update()
    assert window(b, clocks, spent=0.002, used=0.02) == BASE  # 10 % of 2 % of a CPU
    assert b.last_share == pytest.approx(0.1)


def test_a_pause_between_bursts_keeps_the_interval_and_a_long_lull_resets_it() -> None:
    clocks = Clocks()
    b = budget(clocks)
    b.update()
    stretched = window(b, clocks, spent=0.04, used=1.0)  # 4 %
    assert stretched == pytest.approx(BASE * 4 / HEADROOM)
    # Three seconds without load: idle windows say nothing about the cost under load.
    assert [window(b, clocks, spent=0.0001, used=0.01) for _ in range(3)] == [stretched] * 3
    # The next burst starts where the last one ended, not at the floor.
    assert window(b, clocks, spent=0.01 * HEADROOM, used=1.0) == pytest.approx(stretched)
    # Light load for good: after IDLE_WINDOWS idle windows, back towards the configured rate.
    seen = [window(b, clocks, spent=0.0001, used=0.01) for _ in range(IDLE_WINDOWS + 3)]
    assert seen[IDLE_WINDOWS - 2] == pytest.approx(stretched)
    assert seen[IDLE_WINDOWS - 1] == pytest.approx(stretched / MAX_SHRINK)
    assert seen[-1] == BASE


def test_the_interval_never_passes_its_ceiling() -> None:
    clocks = Clocks()
    b = budget(clocks, max_interval_s=0.5)
    b.update()
    assert window(b, clocks, spent=0.5, used=1.0) == 0.5


def test_no_budget_never_changes_the_interval() -> None:
    clocks = Clocks()
    b = budget(clocks, pct=0.0)
    assert not b.enabled
    b.update()
    assert window(b, clocks, spent=0.5, used=1.0) == BASE
    assert b.cost == 0.5  # still measured (the metrics report it)


def test_a_window_spent_asleep_is_not_counted() -> None:
    clocks = Clocks()
    b = budget(clocks)
    b.update()
    clocks.now += 30.0  # the sampler slept: no passes, and the process did other things
    clocks.cpu += 0.01
    b.restart()
    assert b.update() == BASE and b.windows == 0  # the window opens afresh
    assert window(b, clocks, spent=0.03, used=1.0) == pytest.approx(BASE * 3 / HEADROOM)


@pytest.mark.parametrize("value", ["-1", "101", "one", "1%", "nan"])
def test_a_bad_budget_is_refused_with_the_expected_form(value: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, environ={}, PROFILER_BUDGET_PCT=value)
    message = str(info.value)
    assert "PROFILER_BUDGET_PCT" in message and "percentage" in message


def test_the_budget_defaults_to_one_percent_and_reads_from_the_config() -> None:
    assert load_config(None, environ={}).profiler_budget_pct == 1.0
    assert load_config(None, environ={}, PROFILER_BUDGET_PCT="2.5").profiler_budget_pct == 2.5


# -- the sampler's timer signal following the budget ------------------------------------------

ENTRY = Code("profiled_wsgi_app", "/fmd_profiler/hooks.py", 90)
VIEW = Code("view", "/app/views.py", 10)
LEAF = frames((ENTRY, "fmd_profiler.recording.hooks"), (VIEW, "app"))
MAIN = __import__("threading").main_thread().ident


class CostlyClock(FakeClock):
    """Each reading of the monotonic clock takes ``read_cost`` seconds: the handler's passes
    cost what the test says."""

    read_cost = 0.0

    def perf(self) -> float:
        self.elapsed += self.read_cost
        return self.elapsed


class FakeTimer:
    def __init__(self, handler: object) -> None:
        self.periods: list[float] = []

    def arm(self, first_s: float, period_s: float = 0.0) -> None:
        self.periods.append(period_s)

    def owns_signal(self) -> bool:
        return True

    def close(self) -> None:
        pass


@pytest.fixture
def costly() -> Iterator[tuple[Sampler, CostlyClock]]:
    clock = CostlyClock()
    table = StackTable([ENTRY])
    # The process is busy: one CPU second a second.
    b = CpuBudget(BASE, 1.0, perf=clock.perf, process_cpu=lambda: clock.elapsed)
    sampler = Sampler(table, lambda *a: None, interval_s=BASE, clock=clock, frames=dict,
                      signal_timer=True, timer_factory=FakeTimer, budget=b)
    sampler.start()
    try:
        yield sampler, clock
    finally:
        sampler.stop()


def test_the_signal_handler_stretches_its_timer_to_the_budget_and_weighs_real_time(
        costly: tuple[Sampler, CostlyClock]) -> None:
    sampler, clock = costly
    sampler.add(Slot("index", "1.0", 2, thread_id=MAIN, wall0=clock.wall()))
    timer = sampler._timer
    assert isinstance(timer, FakeTimer) and timer.periods[-1] == BASE
    clock.read_cost = 0.0001  # a pass reads the clock 3 times: 0.3 ms a pass, 3 % at 10 ms
    start = clock.elapsed
    while clock.elapsed - start < 3.0:
        clock.elapsed += sampler.interval_s
        sampler._on_signal(LEAF)
    b = sampler.budget
    assert b is not None and b.stretched_windows >= 1
    assert b.last_share <= 0.01  # stretched until the passes fit the budget
    assert timer.periods[-1] == sampler.interval_s > 2 * BASE  # re-armed with the new period
    weights = []
    sampler._sink = lambda slot, stack, weight, wall: weights.append(weight)
    sampler.drain()
    # Fewer samples, each standing for the real time since the previous pass: together they
    # still cover the time the request was in flight.
    assert len(weights) < 3.0 / BASE
    assert sum(weights) == pytest.approx(clock.elapsed - start, abs=2 * sampler.interval_s)
    assert sampler.cost_s == pytest.approx(0.0002 * len(weights), rel=0.1)
