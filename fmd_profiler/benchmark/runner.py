"""Running the project's test suite under the plugin: one pytest process per side.

Each side (a plain run, or the base and head of ``--against``) gets a folder of its own with a
store for its requests and a generated config that ``DASHBOARD_CONFIG`` points at, so every app
the tests build records there. One side runs freely; two sides run at once but take turns round
by round through a :mod:`~fmd_profiler.benchmark.baton`, alternating which goes first (ABBA), so
slow drifts of the machine hit both alike. After the planned rounds the harness may look at what
both sides measured (a ``check`` it passes in) and run up to ``Plan.extra_rounds`` more, the same
way. The tests' own output goes to the terminal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fmd_profiler.benchmark.baton import ParentBaton
from fmd_profiler.errors import ProfilerError
from fmd_profiler.recording.current_test import TEST_RUN_ENV
from fmd_profiler.store.segments import StoreLocation

PLUGIN = "fmd_profiler.benchmark.plugin"


class SuiteError(ProfilerError):
    """The test suite could not be run at all (nothing to store)."""


@dataclass(frozen=True)
class Side:
    """One pytest session to run: where, what, and how its imports are pointed."""

    label: str  # "run", "base" or "head"
    cwd: Path
    tests: tuple[str, ...]
    app_version: str
    pythonpath: tuple[Path, ...] = ()  # prepended, so a base checkout's code wins
    foreign_root: Path | None = None  # report modules imported from here (the head checkout)


@dataclass(frozen=True)
class Plan:
    rounds: int
    app: str | None = None
    exact: bool = False
    pytest_args: tuple[str, ...] = ()
    extra_rounds: int = 0  # at most this many more, when the check after the planned ones asks
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))


@dataclass(frozen=True)
class SideResult:
    side: Side
    results: dict[str, Any]  # what the plugin wrote
    store: Path  # the side's own DuckDB store (requests, routes)
    returncode: int


#: Looks at the sides after the planned rounds: why more rounds are needed, or None.
Check = Callable[[list[SideResult]], str | None]


@dataclass(frozen=True)
class Extra:
    """The extra rounds of a run: how many were allowed, how many ran, and why."""

    allowed: int = 0  # Plan.extra_rounds where a check could ask for them, else 0
    run: int = 0  # rounds run beyond the planned ones, per side
    why: str | None = None  # what the check said, when it asked for them


@dataclass(frozen=True)
class Outcome:
    results: list[SideResult]
    extra: Extra = field(default_factory=Extra)
    again: str | None = None  # why these are the sides run a second time, in new processes


def run_sides(sides: Sequence[Side], plan: Plan, workdir: Path,
              check: Check | None = None) -> Outcome:
    """Run every side to the end; interleaved round by round when there are two, and then
    ``check`` (when given) decides whether the extra rounds of ``plan`` are run."""
    prepared = [_prepare(side, plan, workdir / side.label, interleaved=len(sides) > 1)
                for side in sides]
    if len(prepared) == 1:
        command, env, out, store = prepared[0]
        code = subprocess.call(command, cwd=sides[0].cwd, env=env)
        return Outcome([_result(sides[0], out, store, code)])
    return _run_interleaved(sides, prepared, plan, check)


def _run_interleaved(sides: Sequence[Side], prepared: list[Any], plan: Plan,
                     check: Check | None) -> Outcome:
    batons = [ParentBaton() for _ in sides]
    extra, why = 0, None
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for side, (command, env, _, _), baton in zip(sides, prepared, batons, strict=True):
            processes.append(subprocess.Popen([*command, f"--fmd-baton={baton.child_spec}"],
                                              cwd=side.cwd, env=env, pass_fds=baton.child_fds))
            baton.after_spawn()
        _take_turns(batons, range(plan.rounds))
        if plan.extra_rounds and check is not None and not any(b.finished for b in batons):
            # The plugins wrote their results so far at the end of the last planned round.
            why = check([_result(side, out, store, 0)
                         for side, (_, _, out, store) in zip(sides, prepared, strict=True)])
            if why is not None:
                extra = _take_turns(batons, range(plan.rounds, plan.rounds + plan.extra_rounds))
        allowed = plan.extra_rounds if check is not None else 0
        for baton in batons:
            baton.close()  # end-of-file tells a process still waiting that no round follows
        codes = [p.wait() for p in processes]
    except BaseException:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        raise
    finally:
        for baton in batons:
            baton.close()
    return Outcome([_result(side, out, store, code)
                    for side, (_, _, out, store), code in zip(sides, prepared, codes, strict=True)],
                   Extra(allowed, extra, why))


def _take_turns(batons: Sequence[ParentBaton], rounds: range) -> int:
    """Run ``rounds`` on every side, alternating which goes first; the number completed."""
    done = 0
    for round_no in rounds:
        order = batons if round_no % 2 == 0 else batons[::-1]
        for baton in order:
            baton.run_round()
        if all(b.finished for b in batons):
            break
        done += 1
    return done


def _prepare(side: Side, plan: Plan, folder: Path, *,
             interleaved: bool) -> tuple[list[str], dict[str, str], Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    store = folder / "requests.duckdb"
    config = folder / "config.cfg"
    # Only what the run needs: timing for every endpoint into the side's own store. Level 1
    # keeps the sampler out of the measurement; an app may still ask for more in code.
    config.write_text("[dashboard]\n"
                      f"DATABASE = {store}\n"
                      "MONITOR_LEVEL = 1\n"
                      f"APP_VERSION = {side.app_version}\n"
                      "MAX_BUFFERED_ROWS = 1000000\n", encoding="utf-8")
    # The harness ingests the side's spool itself when it reads it after the last round; an
    # ingestion child started by the tests' apps mid-run would only compete with the tests for
    # the CPU and hold their process's exit (up to the writer's stop wait). A fresh marker tells
    # every writer of the store that an ingestion has just been claimed.
    marker = StoreLocation(store).ingest_marker_path
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    out = folder / "results.json"
    # Values joined with '=': pytest takes any separate argument naming an existing path for
    # a test path when it picks the rootdir and the initial conftests.
    command = [sys.executable, "-m", "pytest", "-p", PLUGIN, "-q",
               f"--fmd-rounds={plan.rounds}", f"--fmd-out={out}", f"--fmd-label={side.label}"]
    if interleaved and plan.extra_rounds:
        command.append(f"--fmd-extra-rounds={plan.extra_rounds}")
    if plan.app:
        command.append(f"--fmd-app={plan.app}")
    if plan.exact:
        command.append("--fmd-exact")
    if side.foreign_root is not None:
        command.append(f"--fmd-foreign-root={side.foreign_root}")
    command += [*plan.pytest_args, *side.tests]
    env = dict(plan.environ)
    env[TEST_RUN_ENV] = "1"
    env["DASHBOARD_CONFIG"] = str(config)
    if side.pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(
            [*(str(p) for p in side.pythonpath), *filter(None, [env.get("PYTHONPATH")])])
    return command, env, out, store


def _result(side: Side, out: Path, store: Path, code: int) -> SideResult:
    try:
        results = json.loads(out.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise SuiteError(_failure_message(side, code)) from None
    if not results.get("collected"):
        raise SuiteError(_failure_message(side, code))
    return SideResult(side, results, store, code)


def _failure_message(side: Side, code: int) -> str:
    where = f"the {side.label} checkout's tests" if side.label == "base" else "the tests"
    reasons = {2: "the run was interrupted or the tests could not be collected",
               3: "pytest hit an internal error", 4: "pytest was called with bad arguments",
               5: "no tests were collected"}
    reason = reasons.get(code, f"pytest exited with status {code} before running any test")
    return (f"{where} did not run: {reason} (see pytest's output above; the command was run in "
            f"{side.cwd})")
