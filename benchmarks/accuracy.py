"""Attribution accuracy: the profiler's function shares against the known truth.

The demo app's ``/split`` spends its time 60/30/10 in ``split_sixty``, ``split_thirty`` and
``split_ten`` (``?ms=`` sets the total). Each contender's app runs under gunicorn on 127.0.0.1
(one worker, four threads: the sampler thread samples) at its sampling interval; level 2 also
under one sync worker (requests in the main thread: the timer signal samples). A client sends a
fixed number of
requests at 10 ms and at 2 ms, the server stops with SIGTERM, and the shares of the three
functions' total time (from :func:`fmd_profiler.queries.profile_queries.function_table`) are
compared
with 60/30/10. The error is the largest of the three differences, in percentage points.
"""

from __future__ import annotations

import concurrent.futures
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks import gunicorn
from benchmarks.contenders import OURS_L2, Contender, folder_for

TRUTH = {"split_sixty": 0.6, "split_thirty": 0.3, "split_ten": 0.1}
#: (ms per request, requests). Enough that a run's answer is the sampler's, not chance: with
#: 400 requests at 10 ms the same code read 3.5 to 9.6 points off from run to run.
CASES = ((10, 2000), (2, 12500))


def measure(contenders: list[Contender], root: Path, work: Path, *,
            scale: float = 1.0) -> dict[str, Any]:
    out: dict[str, Any] = {"cases": [], "failures": {}}
    servers = [(c, 4, c.name) for c in contenders]
    if OURS_L2 in contenders:
        servers.append((OURS_L2, 1, f"{OURS_L2.name}, sync worker (timer signal)"))
    for contender, threads, label in servers:
        for ms, requests in CASES:
            n = max(50, int(requests * scale))
            try:
                shares = _one(contender, root, work, ms, n, threads)
            except RuntimeError as exc:
                out["failures"][label] = str(exc)
                break
            error = max(abs(shares[f] - TRUTH[f]) for f in TRUTH) * 100
            out["cases"].append({"contender": label, "ms": ms, "requests": n,
                                 "shares": shares, "max_error_pp": error})
    return out


def _one(contender: Contender, root: Path, work: Path, ms: int, requests: int, threads: int
         ) -> dict[str, float]:
    from fmd_profiler.queries import profile_queries
    from fmd_profiler.store import Database, StoreLocation

    folder = folder_for(work, "accuracy", contender, f"-{ms}ms-{threads}t")
    with gunicorn.serve(contender, root, work, folder, workers=1, threads=threads) as base:
        url = f"{base}/split?ms={ms}"

        def get(_: int) -> None:
            with urllib.request.urlopen(url, timeout=30) as response:
                response.read()

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            list(pool.map(get, range(requests)))
    with Database(StoreLocation(folder / "fmd_profiler.duckdb")).read() as con:
        table = {row["function"]: row["total_ms"]
                 for row in profile_queries.function_table(con, "split")}
    totals = {f: table.get(f"fmd_profiler.demo.app:{f}", 0.0) for f in TRUTH}
    whole = sum(totals.values())
    if not whole:
        raise RuntimeError("no samples landed in the split functions")
    return {f: round(v / whole, 4) for f, v in totals.items()}
