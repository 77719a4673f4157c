"""The Flask extension: ``enable_profiler(app)``, ``Profiler().init_app(app)`` and ``bind(app)``.

``init_app`` reads the configuration once, installs the request hooks and the ``flask profiler``
commands and registers the app in ``app.extensions["fmd_profiler"]``. It opens nothing: the store
and the writer thread start on each process's first request. It never wraps
``app.view_functions``, so routes added later are monitored too.
"""

from __future__ import annotations

import logging
import os
import weakref
from dataclasses import dataclass
from typing import Any

from flask import Flask

from fmd_profiler import config as config_module
from fmd_profiler.config import Config, load_config
from fmd_profiler.dashboard import init_dashboard
from fmd_profiler.errors import SetupError
from fmd_profiler.profiling.observer import attach_profiler
from fmd_profiler.recording.client_ip import make_resolver
from fmd_profiler.recording.clock import SYSTEM_CLOCK, Clock
from fmd_profiler.recording.current_test import test_header_enabled
from fmd_profiler.recording.hooks import RequestHooks, list_routes
from fmd_profiler.recording.levels import may_profile
from fmd_profiler.recording.runtime import Runtime, install_sigterm_handler, runtime_for
from fmd_profiler.version import detect_version

log = logging.getLogger("fmd_profiler")

EXTENSION_KEY = "fmd_profiler"


@dataclass(frozen=True)
class AppState:
    """What ``app.extensions["fmd_profiler"]`` holds for one app."""

    profiler: Profiler
    config: Config
    runtime: Runtime
    hooks: RequestHooks
    version: str


class Profiler:
    """Profiles a Flask app; one instance may serve several apps (app factories).

    Configuration, in order of precedence: keyword ``overrides`` (upper-case config keys), the
    file named by ``DASHBOARD_CONFIG``, else ``config_file``, else ``./config.cfg``, else the
    defaults. Pass a ready :class:`~fmd_profiler.config.Config` as ``config`` to skip loading.

    ``get_group_by``: a callable evaluated in each request (e.g. ``lambda: current_user.id``)
    whose value is stored as the request's group; falls back to
    ``fmd_profiler.config.get_group_by``.
    """

    def __init__(self, app: Flask | None = None, *, config_file: str | os.PathLike[str] | None =
                 None, config: Config | None = None, clock: Clock = SYSTEM_CLOCK,
                 include_dashboard: bool = True, **overrides: Any) -> None:
        self.config_file = config_file
        self.include_dashboard = include_dashboard
        self.overrides = overrides
        self._config = config
        self.clock = clock
        self.get_group_by: Any = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        if EXTENSION_KEY in app.extensions:
            raise SetupError(f"fmd_profiler is already enabled on the Flask app {app.name!r}. "
                             "Use the instance in app.extensions['fmd_profiler'].profiler "
                             "instead of enabling it twice.")
        config = self._config or load_config(self.config_file, **self.overrides)
        runtime = runtime_for(config, self.clock)
        version = detect_version(config.app_version, config.git)
        hooks = RequestHooks(runtime, self, version, make_resolver(config.trusted_proxies),
                             accept_test_header=test_header_enabled())
        app.wsgi_app = hooks.wrap(app.wsgi_app)  # type: ignore[method-assign,assignment]
        hooks.install(app)
        if may_profile(config):
            # Levels 2-3 and exact mode; the dashboard can then move endpoints between levels
            # at run time (below level 2 the observer returns at once). A process started with
            # every endpoint at level 1 or 0 never pays for the profiler's hooks.
            attach_profiler(app, hooks, runtime)
        app_ref = weakref.ref(app)
        runtime.add_routes(lambda: _routes_of(app_ref, runtime), version)
        state = AppState(self, config, runtime, hooks, version)
        app.extensions[EXTENSION_KEY] = state
        if self.include_dashboard:
            init_dashboard(app, config, runtime.location, hooks.client_ip)
        _register_cli(app)
        if config.prometheus:  # /<CUSTOM_LINK>/metrics, opt-in
            from fmd_profiler.metrics.route import register_metrics

            register_metrics(app, config, runtime.location.spool_dir)
        if config.submit_token:  # the benchmark harness's upload receiver, opt-in by its token
            from fmd_profiler.benchmark.receiver import register_receiver

            register_receiver(app, config)
        elif config.submit_results_url:
            log.warning("fmd_profiler: SUBMIT_RESULTS_URL is set but SUBMIT_TOKEN is not: this "
                        "app does not accept test results and the benchmark harness does not "
                        "upload; set SUBMIT_TOKEN to a long random string in both configs")
        install_sigterm_handler()

    def state(self, app: Flask) -> AppState:
        try:
            return app.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]
        except KeyError:
            raise SetupError(f"fmd_profiler is not enabled on the Flask app {app.name!r}; call "
                             "profiler.init_app(app) first") from None


def _routes_of(app_ref: weakref.ref[Flask], runtime: Runtime) -> list[Any] | None:
    app = app_ref()
    return None if app is None else list_routes(app, runtime)


def _register_cli(app: Flask) -> None:
    from fmd_profiler.flask_cli import profiler_group

    if "profiler" not in app.cli.commands:
        app.cli.add_command(profiler_group)


def enable_profiler(app: Flask, config_file: str | os.PathLike[str] | None = None,
                    **overrides: Any) -> Profiler:
    """Profile ``app``: ``enable_profiler(app, config_file="config.cfg", MONITOR_LEVEL=3)``."""
    return Profiler(app, config_file=config_file, **overrides)


def bind(app: Flask, schedule: bool = True, include_dashboard: bool = True) -> Profiler:
    """Flask-MonitoringDashboard compatible: ``config.from_file(path)`` (or
    ``config.init_from(file=...)``) then ``bind(app=app)``.

    ``include_dashboard=False`` records without adding the dashboard's routes. ``schedule`` is
    accepted for FMD's sake and changes nothing: fmd_profiler has no scheduler to start (each
    process starts its writer thread on its first request).
    """
    config = config_module.take_seed_config() or load_config(None)
    return Profiler(app, config=config, include_dashboard=include_dashboard)


def add_graph(title: str, func: Any, trigger: str = "interval", **schedule: Any) -> None:
    """Flask-MonitoringDashboard's custom graphs do not exist here: one warning, no effect."""
    log.warning("fmd_profiler: add_graph(%r) is ignored: there are no custom graphs (and no "
                "scheduler) here; publish such figures to your metrics system", title)


def add_database_pruning_schedule(weeks_to_keep: int, delete_custom_graph_data: bool = False,
                                  **schedule: Any) -> None:
    """Flask-MonitoringDashboard's pruning job: here ``RETENTION_DAYS`` does it (one warning)."""
    log.warning("fmd_profiler: add_database_pruning_schedule(%s weeks) is ignored: set "
                "RETENTION_DAYS = %d in the config instead (data is pruned at each ingestion)",
                weeks_to_keep, int(weeks_to_keep) * 7)
