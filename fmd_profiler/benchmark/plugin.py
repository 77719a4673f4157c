"""The pytest plugin the harness loads into the test process (``-p fmd_profiler.benchmark.plugin``).

It runs the collected tests for ``--fmd-rounds`` rounds in one session (and up to
``--fmd-extra-rounds`` more while the harness's baton asks for them, after it has read the
results this plugin writes at the end of round ``--fmd-rounds``) - every fixture, session
scope included, is torn down at the end of each round, so each round starts as fresh as a new
session without paying for a new interpreter - sets
:data:`fmd_profiler.recording.current_test.current_test`
around each test's setup, call and teardown, records pytest's own phase durations and outcomes,
optionally counts function calls (exact mode), and at the end writes one JSON file for the
harness. It does nothing unless ``--fmd-rounds`` is given.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from fmd_profiler.benchmark.labels import test_label
from fmd_profiler.recording.current_test import current_test

log = logging.getLogger("fmd_profiler")

PHASES = ("setup", "call", "teardown")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fmd_profiler", "fmd_profiler benchmark (set by its harness)")
    group.addoption("--fmd-rounds", type=int, default=0, help="rounds over the whole suite")
    group.addoption("--fmd-extra-rounds", type=int, default=0,
                    help="rounds the harness may add after reading the first ones (baton only)")
    group.addoption("--fmd-out", help="where to write the results (JSON)")
    group.addoption("--fmd-label", default="run", help="run, base or head")
    group.addoption("--fmd-app", help="profile only this app (module:name)")
    group.addoption("--fmd-exact", action="store_true", help="count calls with yappi")
    group.addoption("--fmd-baton", help="turn-taking pipe descriptors R,W")
    group.addoption("--fmd-foreign-root", help="report modules imported from this folder")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser,
                                  args: list[str]) -> None:
    # Before any conftest imports the project: apps built at import time are covered too.
    options = early_config.known_args_namespace
    if getattr(options, "fmd_rounds", 0) and not getattr(options, "fmd_app", None):
        from fmd_profiler.benchmark.autoprofile import patch_flask

        patch_flask()


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("fmd_rounds"):
        config.pluginmanager.register(BenchmarkSession(config), "fmd_profiler_benchmark")


class BenchmarkSession:
    """The state of one benchmark session (private to this plugin)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.rounds = int(config.getoption("fmd_rounds"))
        self.extra = int(config.getoption("fmd_extra_rounds") or 0)
        self.label = config.getoption("fmd_label")
        self.out = Path(config.getoption("fmd_out") or "fmd-benchmark-results.json")
        self.round = 0
        self.records: dict[tuple[str, int], list[Any]] = {}
        self.functions: list[list[Any]] = []
        self.started_at = time.time()
        self.collected = 0
        self.exact = None
        if config.getoption("fmd_exact"):
            from fmd_profiler.benchmark.exact_calls import ExactProfiler

            self.exact = ExactProfiler(config.rootpath)
        baton = config.getoption("fmd_baton")
        if baton:
            from fmd_profiler.benchmark.baton import ChildBaton

            self.baton: Any = ChildBaton(baton)
        else:
            self.baton = None
            self.extra = 0  # nobody to ask for them

    # -- the loop -----------------------------------------------------------------------------

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        spec = self.config.getoption("fmd_app")
        if spec:
            from fmd_profiler.benchmark.autoprofile import enable_named_app

            try:
                enable_named_app(spec)
            except Exception as exc:
                raise pytest.UsageError(str(exc)) from None

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        # As pytest's own loop, repeated; nextitem=None at a round's end tears every fixture
        # down, so no state leaks from one round into the next through fixtures.
        if session.testsfailed and not session.config.option.continue_on_collection_errors:
            raise session.Interrupted(f"{session.testsfailed} error(s) during collection")
        if session.config.option.collectonly:
            return True
        items = session.items
        self.collected = len(items)
        for round_no in range(1, self.rounds + self.extra + 1):
            if self.baton is not None and not self.baton.wait_turn():
                break
            self.round = round_no
            self._announce(round_no)
            try:
                for i, item in enumerate(items):
                    nextitem = items[i + 1] if i + 1 < len(items) else None
                    item.config.hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
                    if session.shouldfail:
                        raise session.Failed(session.shouldfail)
                    if session.shouldstop:
                        raise session.Interrupted(session.shouldstop)
            finally:
                if self.baton is not None:
                    if round_no == self.rounds and self.extra:
                        self._write_interim()
                    self.baton.end_turn()
        return True

    def _announce(self, round_no: int) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            return
        warm = " (warm-up, not counted)" if round_no == 1 and self.rounds > 1 else ""
        side = f" {self.label}" if self.label != "run" else ""
        number = f"{round_no}/{self.rounds}" if round_no <= self.rounds else \
            f"{round_no} (extra {round_no - self.rounds} of {self.extra})"
        if reporter._tw.width_of_current_line:  # after -q's progress dots
            reporter.write("\n")
        reporter.write_line(f"fmd_profiler benchmark{side}: round {number}{warm}",
                            bold=True)

    # -- per test -----------------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, Any, Any]:
        token = current_test.set(test_label(self.round, item.nodeid))
        try:
            return (yield)
        finally:
            current_test.reset(token)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, Any, Any]:
        token = current_test.set(test_label(self.round, item.nodeid))
        if self.exact is not None:
            self.exact.start()
        try:
            return (yield)
        finally:
            if self.exact is not None:
                self.functions += [[item.nodeid, self.round, *row] for row in self.exact.stop()]
            current_test.reset(token)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item,
                                nextitem: pytest.Item | None) -> Generator[None, Any, Any]:
        token = current_test.set(test_label(self.round, item.nodeid))
        try:
            return (yield)
        finally:
            current_test.reset(token)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if not self.round:
            return
        record = self.records.setdefault((report.nodeid, self.round), [None, None, None, None])
        record[PHASES.index(report.when)] = report.duration * 1000.0
        record[3] = _outcome(record[3], report)

    # -- the end ------------------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        from fmd_profiler.benchmark.autoprofile import unpatch_flask
        from fmd_profiler.recording.runtime import stop_all

        stop_all()  # every buffered request row into the run's store, before the harness reads
        unpatch_flask()
        self._write_results(int(exitstatus))

    def _write_interim(self) -> None:
        """What the harness reads to decide on extra rounds: the rounds so far, with every
        request row of the profiled apps written to the side's store."""
        from fmd_profiler.recording.runtime import flush_all

        flush_all()
        self._write_results(None)

    def _write_results(self, exitstatus: int | None) -> None:
        foreign_root = self.config.getoption("fmd_foreign_root")
        results = {
            "label": self.label,
            "rounds": self.rounds,
            "rounds_run": self.round,
            "collected": self.collected,
            "exitstatus": exitstatus,  # None: written between rounds, the session goes on
            "started_at": self.started_at,
            "finished_at": time.time(),
            "tests": [[node_id, round_no, *record]
                      for (node_id, round_no), record in self.records.items()],
            "functions": self.functions,
            "foreign_modules": _modules_under(Path(foreign_root)) if foreign_root else [],
        }
        self.out.parent.mkdir(parents=True, exist_ok=True)
        temp = self.out.with_name(f".{self.out.name}.tmp")
        temp.write_text(json.dumps(results), encoding="utf-8")
        os.replace(temp, self.out)


def _outcome(previous: str | None, report: pytest.TestReport) -> str:
    """One outcome per test and round: an error in setup/teardown outranks the call's."""
    if report.when == "call":
        if previous == "error":
            return previous
        return "skipped" if report.skipped else ("failed" if report.failed else "passed")
    if report.failed:
        return "error"
    if report.when == "setup" and report.skipped:
        return "skipped"
    return previous or "passed"


def _modules_under(root: Path) -> list[str]:
    """Modules loaded from ``root``: in a base run, code that leaked in from the head checkout."""
    prefix = str(root.resolve()) + os.sep
    found = []
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if path and os.path.abspath(path).startswith(prefix) and "site-packages" not in path:
            found.append(name)
    return sorted(found)
