"""A contender's process: builds its app once, then times requests when the orchestrator asks.

Protocol: one JSON object per line on stdin (``{"op": "round", "path": "/page", "n": 500}``,
with ``"ingest": true`` after the warm-up, or ``{"op": "quit"}``), one JSON reply per line on
stdout: the ``n`` request times. Requests are WSGI calls in this process (no network), so the
figures are the app's own cost plus the profiler's.

After each block fmd_profiler's buffered rows are written before the reply (untimed): otherwise
its writer thread would write them while the next contender is being timed, and the figures of
that contender (often the bare app) would carry this one's storage cost. The writer's own cost
is measured where it belongs: per row in the storage section, and under load in the throughput
section, where it competes for the same cores.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.contenders import BY_NAME, build_app


def _call(app: Any, environ: dict[str, Any]) -> int:
    env = dict(environ)
    env["wsgi.input"] = io.BytesIO()
    status: list[str] = []

    def start_response(code: str, headers: Any, exc_info: Any = None) -> Any:
        status.append(code)
        return lambda data: None

    body = app(env, start_response)
    try:
        for _ in body:
            pass
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return int(status[0][:3])


def settle(app: Any, *, ingest: bool = False) -> None:
    """Write fmd_profiler's buffered rows now, so its writer stays quiet until the next block.

    After the warm-up also ingest them into DuckDB: a process's writer first ingests at its first
    flush, then every 30 s (opening DuckDB, ~25 ms of CPU), and the first one would otherwise
    land in a timed block of this contender or another.
    """
    state = getattr(app, "extensions", {}).get("fmd_profiler")
    if state is not None:
        state.runtime.flush(ingest=ingest)


def environ_for(path: str) -> dict[str, Any]:
    """A GET request's WSGI environ for ``path``, from a local client."""
    from werkzeug.test import EnvironBuilder

    return EnvironBuilder(path=path, environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_environ()


def main() -> None:
    # The protocol owns the original stdout; anything a contender prints (Flask-MonitoringDashboard
    # prints "Scheduler started") goes to stderr instead.
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    contender = BY_NAME[sys.argv[1]]
    app = build_app(contender, Path(sys.argv[2]))
    environs: dict[str, dict[str, Any]] = {}
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    for line in sys.stdin:
        command = json.loads(line)
        if command["op"] == "quit":
            break
        path = command["path"]
        if path not in environs:
            environs[path] = environ_for(path)
        environ = environs[path]
        times = []
        perf = time.perf_counter
        for _ in range(int(command["n"])):
            t0 = perf()
            code = _call(app, environ)
            times.append(perf() - t0)
            if code >= 500:
                raise SystemExit(f"{path} answered {code}")
        settle(app, ingest=bool(command.get("ingest")))
        out.write(json.dumps({"times_us": [t * 1e6 for t in times]}) + "\n")
        out.flush()
    # Let the contender shut down the way it would in production (flush threads, atexit).


if __name__ == "__main__":
    main()
