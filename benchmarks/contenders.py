"""Who is measured: no profiler, fmd_profiler at each level, Flask-MonitoringDashboard and
pyinstrument (and, as a floor, a minimal recorder that is none of them).

:func:`build_app` runs inside a contender's own process and returns the demo app wrapped the way
that contender's documentation says. Flask-MonitoringDashboard lives in its own virtual
environment (its pinned dependencies must not touch ours), see :mod:`benchmarks.envs`.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Contender:
    name: str
    kind: str  # "bare" | "ours" | "fmd" | "pyinstrument"
    level: int = 0
    exact: bool = False
    detail_rate: float = 0.0
    switch_interval_ms: float | None = None  # None: the default SAMPLER_SWITCH_INTERVAL_MS
    sampling_interval_ms: float | None = None  # None: the default SAMPLING_INTERVAL_MS
    signal: bool = True  # False: SAMPLER_SIGNAL off, the sampler thread samples every request
    cpu_clock: bool = True  # the minimal recorder only: False reads the monotonic clock alone
    prometheus: bool = False  # PROMETHEUS = true (counted on the writer thread)
    fleet: bool = False  # ours only: fleet mode, the lake named by $BENCH_FLEET_CONFIG
    budget_pct: float | None = None  # None: the default PROFILER_BUDGET_PCT
    app_switch_interval_ms: float | None = None  # ours: the app sets Python's interval itself

    @property
    def env(self) -> str:
        """Which interpreter runs it: "main" or "fmd" (Flask-MonitoringDashboard's venv)."""
        return "fmd" if self.kind == "fmd" else "main"


BARE = Contender("no profiler", "bare")
OURS_L1 = Contender("fmd_profiler L1", "ours", level=1)
OURS_L2 = Contender("fmd_profiler L2", "ours", level=2)
OURS_L1_PROMETHEUS = Contender("fmd_profiler L1 + Prometheus", "ours", level=1, prometheus=True)
# The benchmark's requests run in the main thread, where a timer signal samples them; threaded
# servers' requests are sampled by the sampler thread, as this contender's are.
OURS_L2_THREAD = Contender("fmd_profiler L2, sampler thread only", "ours", level=2, signal=False)
# The switch interval only matters to the sampler thread (the timer signal needs no GIL handover).
OURS_L2_SWI0 = Contender("fmd_profiler L2, switch interval untouched", "ours", level=2,
                         switch_interval_ms=0.0, signal=False)
# Under gunicorn at full load each sampling pass costs a worker's threads far more than the pass
# itself (they queue for the GIL behind it): the price and the accuracy of a longer interval.
OURS_L2_40MS = Contender("fmd_profiler L2, 40 ms interval", "ours", level=2,
                         sampling_interval_ms=40.0)
# The app sets a 2 ms switch interval at start, which the sampler keeps while two or more
# requests run: whether that buys accuracy under load, and at what price.
OURS_L2_APP_SWI2 = Contender("fmd_profiler L2, the app's switch interval 2 ms", "ours", level=2,
                             signal=False, app_switch_interval_ms=2.0)
OURS_L3 = Contender("fmd_profiler L3 (detail 1%)", "ours", level=3, detail_rate=0.01)
# Level 2 as it sampled before PROFILER_BUDGET_PCT: every SAMPLING_INTERVAL_MS whatever the load.
OURS_L2_NO_BUDGET = Contender("fmd_profiler L2, no CPU budget", "ours", level=2, budget_pct=0.0)
# Level 1 with the lake instead of the DuckDB file (benchmarks.fleet): the request path is the
# same, the host's uploader child replaces the ingestion child.
OURS_L1_FLEET = Contender("fmd_profiler L1, fleet mode", "ours", level=1, fleet=True)
OURS_EXACT = Contender("fmd_profiler exact (yappi)", "ours", level=2, exact=True)
FMD_L1 = Contender("Flask-MonitoringDashboard L1", "fmd", level=1)
FMD_L3 = Contender("Flask-MonitoringDashboard L3", "fmd", level=3)
PYINSTRUMENT = Contender("pyinstrument per request", "pyinstrument")
# Not a tool: the least any recorder of each request's duration and thread CPU time does in
# Python (two clocks read twice around the app, one tuple kept). The capacity section's floor.
MINIMAL = Contender("a minimal recorder: two clocks and a tuple", "minimal")
# The same without the thread CPU clock, a system call (the monotonic clock is read in user
# space): under a threaded server the pair of them shows what that clock costs a worker.
MINIMAL_WALL = Contender("a minimal recorder without the CPU clock", "minimal", cpu_clock=False)

ALL = (BARE, OURS_L1, OURS_L2, OURS_L2_THREAD, OURS_L2_SWI0, OURS_L2_40MS, OURS_L3, OURS_EXACT,
       FMD_L1, FMD_L3, PYINSTRUMENT)
#: The throughput section's control: a second server of the app without profiler.
BARE_TWIN = Contender("no profiler, a second server", "bare")
#: The fleet section's control: a second server of level 1 on the embedded store.
OURS_L1_TWIN = Contender("fmd_profiler L1, a second server", "ours", level=1)
BY_NAME = {c.name: c for c in (*ALL, BARE_TWIN, MINIMAL, MINIMAL_WALL, OURS_L1_PROMETHEUS,
                               OURS_L1_FLEET, OURS_L1_TWIN, OURS_L2_NO_BUDGET, OURS_L2_APP_SWI2)}


def build_app(contender: Contender, workdir: Path, *, clock: Any = None) -> Any:
    """The demo app as ``contender`` would run it (called in the contender's process).

    ``clock``: for fmd_profiler, a :class:`~fmd_profiler.recording.clock.Clock` in place of the
    system's.
    """
    from fmd_profiler.demo.app import create_app

    workdir.mkdir(parents=True, exist_ok=True)
    if contender.kind == "bare":
        return create_app(profile=False)
    if contender.kind == "ours":
        settings: dict[str, Any] = {"DATABASE": str(workdir / "fmd_profiler.duckdb"),
                                    "MONITOR_LEVEL": contender.level,
                                    "DETAIL_SAMPLE_RATE": contender.detail_rate}
        if contender.exact:
            settings["EXACT_MODE"] = True
        if contender.switch_interval_ms is not None:
            settings["SAMPLER_SWITCH_INTERVAL_MS"] = contender.switch_interval_ms
        if contender.sampling_interval_ms is not None:
            settings["SAMPLING_INTERVAL_MS"] = contender.sampling_interval_ms
        if not contender.signal:
            settings["SAMPLER_SIGNAL"] = False
        if contender.budget_pct is not None:
            settings["PROFILER_BUDGET_PCT"] = contender.budget_pct
        if contender.prometheus:
            settings["PROMETHEUS"] = True
            settings["METRICS_OPEN"] = True
        if clock is not None:
            settings["clock"] = clock
        if contender.app_switch_interval_ms is not None:
            sys.setswitchinterval(contender.app_switch_interval_ms / 1000.0)
        if contender.fleet:
            # The lake's keys and this host's HOST_NAME and SPOOL_DIR come from the file.
            del settings["DATABASE"]
            settings["config_file"] = os.environ["BENCH_FLEET_CONFIG"]
        return create_app(**settings)
    if contender.kind == "fmd":
        return _with_flask_monitoring_dashboard(create_app(profile=False), contender, workdir)
    if contender.kind == "pyinstrument":
        return _with_pyinstrument(create_app(profile=False))
    if contender.kind == "minimal":
        return _with_minimal_recorder(create_app(profile=False), contender.cpu_clock)
    raise ValueError(f"unknown contender kind {contender.kind}")


def _with_flask_monitoring_dashboard(app: Any, contender: Contender, workdir: Path) -> Any:
    import flask_monitoringdashboard as dashboard  # only installed in the fmd venv

    dashboard.config.database_name = f"sqlite:///{workdir / 'fmd.db'}"
    dashboard.config.monitor_level = contender.level
    dashboard.bind(app)
    return app


def _with_pyinstrument(app: Any) -> Any:
    """pyinstrument's documented Flask recipe, applied to every request (output discarded)."""
    from flask import g
    from pyinstrument import Profiler

    @app.before_request
    def start_profiler() -> None:
        g.profiler = Profiler()
        g.profiler.start()

    @app.after_request
    def stop_profiler(response: Any) -> Any:
        g.profiler.stop()
        return response

    return app


def _with_minimal_recorder(app: Any, cpu_clock: bool = True) -> Any:
    """Wall and thread CPU time around every request, one tuple kept per request (the last
    100,000): no Flask hook, no endpoint or status, nothing written anywhere.

    ``cpu_clock`` False: the CPU clock is ``float`` (a C call that returns 0.0), so the code
    runs the same steps without the system call.
    """
    rows: collections.deque[tuple[float, float]] = collections.deque(maxlen=100_000)
    perf, cpu = time.perf_counter, (time.thread_time if cpu_clock else float)
    wsgi_app = app.wsgi_app

    def recorded(environ: dict[str, Any], start_response: Any) -> Any:
        t0, c0 = perf(), cpu()
        body = wsgi_app(environ, start_response)
        rows.append((perf() - t0, cpu() - c0))
        return body

    app.wsgi_app = recorded
    return app


def env_python(env: str, work: Path) -> str:
    """The interpreter of ``env`` (the main one is the one running the benchmark)."""
    if env == "main":
        return sys.executable
    return str(work / f"venv-{env}" / "bin" / "python")


def child_env(root: Path) -> dict[str, str]:
    # One hash seed for every contender: with a random one per process, dict and set layouts
    # differ between the processes compared, and call-heavy code ran a few % apart for it.
    return {**os.environ, "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0"}


def folder_for(work: Path, kind: str, contender: Contender, suffix: str = "") -> Path:
    """``contender``'s working folder for the measurement ``kind`` (its name made a file name)."""
    return work / kind / (contender.name.replace(" ", "_").replace("/", "_") + suffix)


class ChildFailed(RuntimeError):
    """A measurement's child process failed; the message is the end of its stderr."""


def run_child(root: Path, module: str, *args: str, timeout: float = 900) -> Any:
    """``python -m module args`` in a fresh process of this interpreter; its last line of
    output, parsed as JSON (the measurements that need a process of their own report that way).
    """
    done = subprocess.run([sys.executable, "-m", module, *args], cwd=root, env=child_env(root),
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise ChildFailed(done.stderr.strip()[-300:] or "no output")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_unless_failed(failures: dict[str, str], root: Path, module: str, contender: Contender,
                      folder: Path, *args: str) -> Any | None:
    """:func:`run_child` with ``folder`` and the contender's name before ``args``, unless one of
    the contender's processes has already failed: then, or when this one fails, None (the
    failure's message goes into ``failures``, once per contender)."""
    if contender.name in failures:
        return None
    try:
        return run_child(root, module, str(folder), contender.name, *args)
    except ChildFailed as exc:
        failures[contender.name] = str(exc)
        return None
