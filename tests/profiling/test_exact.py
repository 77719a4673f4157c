"""ExactProfiler's pulls: differences between pulls add up to the true counts, and a pull with
nothing new to say does not walk yappi's table."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fmd_profiler.profiling.exact import ExactProfiler, ExactRow


def work(n: int) -> int:
    return n if n < 2 else work(n - 1) + work(n - 2)


def request(profiler: ExactProfiler) -> None:
    profiler.enter(("ep", "1.0", None))
    try:
        work(10)  # 177 calls
    finally:
        profiler.leave()


def calls_of_work(rows: list[ExactRow]) -> int:
    return sum(r.calls for r in rows if r.frame.function.endswith(":work"))


@pytest.fixture
def profiler() -> Iterator[ExactProfiler]:
    profiler = ExactProfiler()
    assert profiler.start(now=0.0)
    yield profiler
    profiler.stop()


def test_pulls_add_up_to_the_true_counts(profiler: ExactProfiler) -> None:
    request(profiler)
    request(profiler)
    first = profiler.pull(now=1.0)
    request(profiler)
    second = profiler.pull(now=2.0)
    assert calls_of_work(first) == 2 * 177
    assert calls_of_work(second) == 177


def test_a_pull_with_no_request_since_the_last_one_reads_nothing(
        profiler: ExactProfiler, monkeypatch: pytest.MonkeyPatch) -> None:
    request(profiler)
    assert calls_of_work(profiler.pull(now=1.0)) == 177
    walked = []
    monkeypatch.setattr(profiler, "_collect", lambda: walked.append(1) or [])
    assert profiler.pull(now=2.0) == []
    assert walked == []
    monkeypatch.undo()
    request(profiler)
    assert calls_of_work(profiler.pull(now=3.0)) == 177


def test_a_request_in_flight_at_a_forced_pull_is_pulled_again(profiler: ExactProfiler) -> None:
    profiler.enter(("ep", "1.0", None))
    work(10)
    early = profiler.pull(now=1.0, force=True)  # stale: pulled with the request in flight
    work(10)
    profiler.leave()
    late = profiler.pull(now=2.0)
    assert calls_of_work(early) + calls_of_work(late) == 2 * 177
