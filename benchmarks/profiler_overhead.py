"""What the deep profiler costs: added latency at levels 2 and 3, and stored bytes.

Latency: the demo app runs in one server process per contender (no profiler; level 2; level 3
with DETAIL_SAMPLE_RATE=0.01), all on 127.0.0.1 with keep-alive; a client sends interleaved
rounds (A B C, then B C A, ...) of sequential requests to a template-heavy page (/page) and a
call-heavy one (/compute), and each round's median and mean are divided by the same round's
figures without the profiler. Ratios, not absolute times, because the machine is shared.

Storage: the demo traffic mix at level 3 through a real threaded server, then each profile table
written as zstd Parquet (the spool's format; DuckDB's own file allocates 256 kB blocks, which
would measure the allocation of seven small tables, not their data); bytes per request scaled to
1M requests, and bytes per minute of traffic (stack rows grow with distinct stacks per minute,
outliers and detailed profiles are capped per hour).

``python benchmarks/profiler_overhead.py [--quick]`` prints the figures; :func:`measure` returns
them as a dict for the benchmark harness.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONTENDERS: dict[str, dict[str, Any] | None] = {
    "none": None,
    "level2": {"MONITOR_LEVEL": 2},
    # the same, leaving Python's 5 ms switch interval alone (less accurate on short endpoints)
    "level2_swi0": {"MONITOR_LEVEL": 2, "SAMPLER_SWITCH_INTERVAL_MS": 0},
    "level3": {"MONITOR_LEVEL": 3, "DETAIL_SAMPLE_RATE": 0.01},
}
ENDPOINTS = ("/page", "/compute")


def serve(contender: str) -> None:
    """Child process: serve the demo app for one contender until stdin closes."""
    from werkzeug.serving import WSGIRequestHandler, make_server

    from fmd_profiler.demo.app import create_app

    class Handler(WSGIRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: the client measures requests, not TCP

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            pass

    settings = CONTENDERS[contender]
    folder = tempfile.mkdtemp(prefix=f"fmd-bench-{contender}-")
    app = (create_app(profile=False) if settings is None else
           create_app(DATABASE=os.path.join(folder, "bench.duckdb"), **settings))
    server = make_server("127.0.0.1", 0, app, threaded=False, request_handler=Handler)
    print(server.server_port, flush=True)
    import threading

    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()  # the parent closes stdin to stop us
    server.shutdown()


def _start(contender: str) -> tuple[subprocess.Popen[str], int]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, __file__, "--serve", contender], cwd=ROOT, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def _round(port: int, path: str, requests: int) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times = []
    try:
        for _ in range(requests):
            start = time.perf_counter()
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            times.append(time.perf_counter() - start)
            if response.status != 200:
                raise RuntimeError(f"{path} answered {response.status}")
    finally:
        connection.close()
    return times


def measure_latency(*, rounds: int = 12, requests: int = 200, warmup: int = 200
                    ) -> dict[str, Any]:
    """Median over rounds of (contender / no profiler) for each endpoint's median and mean."""
    servers = {name: _start(name) for name in CONTENDERS}
    try:
        names = list(CONTENDERS)
        for path in ENDPOINTS:
            for _, port in servers.values():
                _round(port, path, warmup)
        result: dict[str, Any] = {}
        for path in ENDPOINTS:
            per_round: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
            for r in range(rounds):
                order = names[r % len(names):] + names[:r % len(names)]
                for name in order:
                    times = _round(servers[name][1], path, requests)
                    per_round[name].append((statistics.median(times), statistics.fmean(times)))
            base = per_round["none"]
            result[path] = {name: {
                "median_us": round(statistics.median(m for m, _ in per_round[name]) * 1e6, 1),
                "mean_us": round(statistics.median(a for _, a in per_round[name]) * 1e6, 1),
                "median_ratio": round(statistics.median(
                    m / b[0] for (m, _), b in zip(per_round[name], base, strict=True)), 4),
                "mean_ratio": round(statistics.median(
                    a / b[1] for (_, a), b in zip(per_round[name], base, strict=True)), 4),
            } for name in names}
        return result
    finally:
        for proc, _ in servers.values():
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout=30)


def measure_storage(*, requests: int = 20_000, seconds: float = 120.0) -> dict[str, Any]:
    """Stored profile bytes for the demo mix at level 3, scaled to 1M requests."""
    from fmd_profiler.demo.app import create_app
    from fmd_profiler.demo.traffic import drive
    from fmd_profiler.demo.traffic import serve as serve_app
    from fmd_profiler.schema import PROFILE_TABLES
    from fmd_profiler.store import Database, StoreLocation

    folder = Path(tempfile.mkdtemp(prefix="fmd-bench-storage-"))
    database = folder / "store.duckdb"
    app = create_app(DATABASE=str(database), MONITOR_LEVEL=3)
    started = time.monotonic()
    with serve_app(app) as url:
        sent = drive(url, requests=requests, clients=4, seconds=seconds)
    minutes = (time.monotonic() - started) / 60.0
    app.extensions["fmd_profiler"].runtime.stop()
    rows, parquet_bytes = {}, 0
    with Database(StoreLocation(database)).read() as con:
        for table in PROFILE_TABLES:
            rows[table.name] = con.execute(f"SELECT count(*) FROM {table.name}").fetchone()[0]
            target = folder / f"{table.name}.parquet"
            con.execute(f"COPY {table.name} TO '{target}' (FORMAT parquet, COMPRESSION zstd)")
            parquet_bytes += target.stat().st_size
    return {"requests": sent.sent, "minutes": round(minutes, 2), "rows": rows,
            "profile_bytes": parquet_bytes,
            "bytes_per_1m_requests": round(parquet_bytes / max(sent.sent, 1) * 1_000_000),
            "bytes_per_minute": round(parquet_bytes / max(minutes, 1e-9))}


def measure(*, quick: bool = False) -> dict[str, Any]:
    """Every figure of this benchmark, as a dict (for the harness)."""
    latency = (measure_latency(rounds=4, requests=100, warmup=50) if quick
               else measure_latency())
    storage = measure_storage(requests=4000 if quick else 20_000)
    return {"latency": latency, "storage": storage}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (about a minute)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--serve", choices=list(CONTENDERS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return 0
    figures = measure(quick=args.quick)
    for path, by_name in figures["latency"].items():
        for name, f in by_name.items():
            print(f"{path:9s} {name:11s} median {f['median_us']:8.1f} us "
                  f"(x{f['median_ratio']:.3f})  mean {f['mean_us']:8.1f} us "
                  f"(x{f['mean_ratio']:.3f})")
    s = figures["storage"]
    print(f"storage: {s['profile_bytes']} bytes of profile data for {s['requests']} requests "
          f"in {s['minutes']} min -> {s['bytes_per_1m_requests'] / 1e6:.1f} MB per 1M requests, "
          f"{s['bytes_per_minute'] / 1e3:.1f} kB per minute of traffic; rows {s['rows']}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))  # this checkout's fmd_profiler, whatever is installed
    sys.exit(main())
