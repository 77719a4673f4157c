"""Who holds the profile hook: setprofile users, yappi, and (Python 3.12+) sys.monitoring tools
such as cProfile, coverage's sysmon core and debuggers, which our hooks must not disturb."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fmd_profiler.profiling.coexist import profile_hook_owner
from fmd_profiler.profiling.exact import ExactProfiler

needs_monitoring = pytest.mark.skipif(
    sys.version_info < (3, 12), reason="sys.monitoring (PEP 669) is new in Python 3.12")


def my_hook(frame: object, event: str, arg: object) -> None:
    pass


def test_a_free_hook_has_no_owner() -> None:
    assert profile_hook_owner() is None


def test_a_setprofile_user_is_named() -> None:
    sys.setprofile(my_hook)
    try:
        assert profile_hook_owner() == f"{__name__}.my_hook"
        assert profile_hook_owner(own=my_hook) is None
    finally:
        sys.setprofile(None)


@pytest.fixture
def monitoring_tool() -> Iterator[int]:
    """A tool registered with sys.monitoring as coverage.py's sysmon core registers itself."""
    tool_id = sys.monitoring.COVERAGE_ID  # type: ignore[attr-defined]
    sys.monitoring.use_tool_id(tool_id, "coverage.py")  # type: ignore[attr-defined]
    try:
        yield tool_id
    finally:
        sys.monitoring.free_tool_id(tool_id)  # type: ignore[attr-defined]


@needs_monitoring
def test_a_sys_monitoring_tool_is_named(monitoring_tool: int) -> None:
    assert profile_hook_owner() == f"coverage.py (sys.monitoring tool {monitoring_tool})"


@needs_monitoring
def test_cprofile_is_seen_through_sys_monitoring() -> None:
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        assert sys.getprofile() is None  # 3.12+: cProfile no longer uses setprofile
        owner = profile_hook_owner()
    finally:
        profiler.disable()
    assert owner is not None and "sys.monitoring tool" in owner
    assert profile_hook_owner() is None  # released again


@needs_monitoring
def test_exact_mode_stays_off_beside_a_sys_monitoring_tool(
        monitoring_tool: int, caplog: pytest.LogCaptureFixture) -> None:
    profiler = ExactProfiler()
    with caplog.at_level(logging.WARNING, "fmd_profiler"):
        assert not profiler.start(now=0.0)
    assert not profiler.running
    assert "another profiler (coverage.py (sys.monitoring tool 1)) is active" in caplog.text


@needs_monitoring
def test_the_harness_exact_mode_stays_off_beside_a_sys_monitoring_tool(
        monitoring_tool: int, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from fmd_profiler.benchmark.exact_calls import ExactProfiler as HarnessExact

    with caplog.at_level(logging.WARNING, "fmd_profiler"):
        harness = HarnessExact(tmp_path)
    assert not harness.available
    assert "coverage.py (sys.monitoring tool 1)" in caplog.text
