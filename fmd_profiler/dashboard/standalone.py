"""A Flask app that serves only the dashboard: for a fleet's dashboard pod, or any reader host.

It records nothing (no request hooks, no writer thread), so in fleet mode it needs no spool:
pages come from the lake, level changes go to the catalog. With ``SUBMIT_TOKEN`` it also
receives benchmark uploads. Serve it with
``gunicorn 'fmd_profiler.dashboard.standalone:create_app()'`` (``DASHBOARD_CONFIG`` names the
config file).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask

from fmd_profiler.config import load_config
from fmd_profiler.dashboard import init_dashboard
from fmd_profiler.errors import SetupError
from fmd_profiler.recording.client_ip import make_resolver
from fmd_profiler.store import StoreLocation


def create_app(config_file: str | os.PathLike[str] | None = None, **overrides: Any) -> Flask:
    """The dashboard (and, with SUBMIT_TOKEN, the upload receiver) as an app of its own."""
    config = load_config(config_file, **overrides)
    app = Flask("fmd_profiler_dashboard_app")
    if not init_dashboard(app, config, StoreLocation(Path(config.database)),
                          make_resolver(config.trusted_proxies)):
        raise SetupError("a dashboard-only app needs PASSWORD (or GUEST_PASSWORD) and "
                         "SECRET_KEY in the [dashboard] config")
    if config.submit_token:
        from fmd_profiler.benchmark.receiver import register_receiver

        register_receiver(app, config)
    return app
