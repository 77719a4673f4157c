"""A worker's sampler cost, read once a second into a file (see :mod:`benchmarks.served`)."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

PERIOD_S = 1.0


def follow(app: Any, folder: Path) -> None:
    """Start a daemon thread per worker (lazily, on the first request: gunicorn forks after
    the app is built) appending ``{"t", "cost", "cpu", "interval"}`` lines to
    ``folder/sampler-<pid>.jsonl``."""
    started: set[int] = set()
    wsgi_app = app.wsgi_app

    def first_request_starts_it(environ: Any, start_response: Any) -> Any:
        pid = os.getpid()
        if pid not in started:
            started.add(pid)
            threading.Thread(target=_record, args=(app, folder / f"sampler-{pid}.jsonl"),
                             daemon=True).start()
        return wsgi_app(environ, start_response)

    app.wsgi_app = first_request_starts_it


def _record(app: Any, path: Path) -> None:
    from fmd_profiler.profiling.observer import engine_of

    runtime = app.extensions["fmd_profiler"].runtime
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", buffering=1) as out:
        while True:
            engine = engine_of(runtime)
            if engine is not None:
                sampler = engine.sampler
                budget = sampler.budget
                out.write(json.dumps({"t": time.monotonic(), "cost": sampler.cost_s,
                                      "cpu": time.process_time(),
                                      "interval": sampler.interval_s,
                                      "budget": budget is not None}) + "\n")
            time.sleep(PERIOD_S)
