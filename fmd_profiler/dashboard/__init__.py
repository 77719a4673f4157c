"""The live dashboard at ``/<CUSTOM_LINK>``: the report's pages for signed-in users.

:func:`init_dashboard` is called by ``Profiler.init_app``. There are no default credentials:
without ``PASSWORD`` (or a ``GUEST_PASSWORD``) the dashboard stays off and one log line says how
to turn it on. The views live in :mod:`fmd_profiler.dashboard.views`.
"""

from __future__ import annotations

import logging
from typing import Any

from fmd_profiler.config import Config
from fmd_profiler.dashboard.auth import Credentials
from fmd_profiler.recording.levels import DASHBOARD_BLUEPRINT
from fmd_profiler.store import StoreLocation

log = logging.getLogger("fmd_profiler")
_told_off: set[str] = set()


def init_dashboard(app: Any, config: Config, location: StoreLocation, client_ip: Any) -> bool:
    """Register the dashboard blueprint on ``app`` when credentials are configured."""
    if not Credentials(config).configured:
        if config.custom_link in _told_off:
            return False
        _told_off.add(config.custom_link)  # once per process, not once per app
        log.warning("fmd_profiler: the dashboard at /%s is off because no password is "
                    "configured; set PASSWORD (and USERNAME) in the [dashboard] config to turn it "
                    "on; a werkzeug hash from werkzeug.security.generate_password_hash is "
                    "accepted", config.custom_link)
        return False
    if DASHBOARD_BLUEPRINT in app.blueprints:
        return True
    from fmd_profiler.dashboard.views import make_blueprint

    app.register_blueprint(make_blueprint(config, location, client_ip))
    return True
