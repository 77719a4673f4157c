"""The demo app as one host of ``make fleet-demo`` serves it under gunicorn.

Every setting comes from the config file named by ``DASHBOARD_CONFIG`` (the lake, this host's
``HOST_NAME`` and ``SPOOL_DIR``); ``FMD_DEMO_RELEASE`` picks the app's release, so one host can
run a slower canary beside the others.
"""

from __future__ import annotations

import os

from fmd_profiler.demo.app import create_app

app = create_app(release=os.environ.get("FMD_DEMO_RELEASE", "1.2"))
# /flaky?fail=1 raises on purpose; Flask would log each traceback.
app.logger.disabled = True
