"""The app the fleet tests run under gunicorn, one server per simulated host; its config file
(with the host's HOST_NAME and SPOOL_DIR) comes from FMD_FLEET_CONFIG."""

from __future__ import annotations

import os

from flask import Flask

from fmd_profiler import enable_profiler

app = Flask("fleet")


@app.route("/work")
def work() -> dict[str, int]:
    return {"pid": os.getpid()}


enable_profiler(app, config_file=os.environ["FMD_FLEET_CONFIG"], MONITOR_LEVEL=1,
                APP_VERSION="fleet")
