"""Fleet mode's costs: a host's CPU per request, the committer's throughput, the overview page.

All three run against real services on 127.0.0.1 (PostgreSQL as the catalog, SeaweedFS as the
S3 store; :mod:`fmd_profiler.demo.services`), which share the machine with what is measured.

- **Host CPU per request at level 1, fleet mode against the embedded store.** Two gunicorn
  servers of the demo app, one writing its spool into the DuckDB file, one uploading it to the
  lake, are driven by wrk in ABBA blocks (as :mod:`benchmarks.throughput` does); per block, each
  server's worker CPU per request (every thread's scheduler run time, plus the CPU of children
  the workers reaped: the ingestion child, or the uploader). The figure is the median over blocks
  of the fleet/embedded ratio. The same is done first with two embedded servers (the control):
  how far it reads from 1.000x is the measurement's own noise.
- **Committer throughput.** Synthetic requests files laid out under ``incoming/`` as uploaders
  leave them (:mod:`benchmarks.fleet_data`), then ``python -m fmd_profiler.fleet commit`` times
  the registration, once with the files and once with nothing new (its fixed cost: start-up,
  attach, listing).
- **An upload's fixed cost.** The CPU of one ``python -m fmd_profiler.fleet upload`` child
  (what a host's writer thread starts every UPLOAD_INTERVAL_S): with one small segment to upload
  and with nothing to upload.
- **The overview page from the lake** at fleet scale: synthetic requests of many hosts written
  as one Parquet file per host and registered with ``ducklake_add_data_files``; a fresh process
  serves ``GET /dashboard/`` through a real Flask app in fleet mode: the first view (cold:
  imports, extensions, attach, queries, charts; wall time and the process's CPU time, which a
  busy machine inflates less) and the median of later views (warm). The same
  rows in an embedded DuckDB file are the yardstick: both run in fresh processes in ABBA order,
  so on a busy machine the ratio says more than either figure.

``python -m benchmarks.fleet [--quick]`` prints the figures; :func:`measure` returns them for
``make bench`` (benchmarks/run.py), which writes them to RESULTS.md. Nothing asserts a budget.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import fleet_data, gunicorn
from benchmarks.contenders import OURS_L1, OURS_L1_FLEET, OURS_L1_TWIN, Contender, child_env
from benchmarks.latency import middle_half
from benchmarks.throughput import SETTLE_S, WORKLOADS, run_wrk

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / ".work"
ADMIN_PASSWORD = "benchmark"
#: The overview's data: days of history and endpoints (3 more are never requested).
DAYS = 14
ENDPOINTS = 50


@dataclass(frozen=True)
class FleetPlan:
    rounds: int  # ABBA blocks per workload and pair
    seconds: float  # one wrk run
    commit_files: int
    commit_rows_per_file: int
    commit_hosts: int
    lake_requests: int
    lake_hosts: int
    overview_rounds: int
    upload_runs: int


FULL = FleetPlan(rounds=12, seconds=1, commit_files=200, commit_rows_per_file=5000,
                 commit_hosts=20, lake_requests=10_000_000, lake_hosts=100, overview_rounds=10,
                 upload_runs=7)
QUICK = FleetPlan(rounds=2, seconds=1, commit_files=40, commit_rows_per_file=2000,
                  commit_hosts=4, lake_requests=500_000, lake_hosts=10, overview_rounds=5,
                  upload_runs=3)
#: Requests in the segment one measured upload carries (a quiet host's 30 s).
UPLOAD_ROWS = 500


# -- services ------------------------------------------------------------------------------------

@dataclass
class LakeFactory:
    """Fresh lakes (a database and a bucket each) on one PostgreSQL and one SeaweedFS."""

    make: Callable[[str], dict[str, str]]


@contextlib.contextmanager
def lake_services(folder: Path) -> Iterator[LakeFactory]:
    from fmd_profiler.demo.services import postgres, seaweedfs

    shutil.rmtree(folder, ignore_errors=True)
    (folder / "postgres").mkdir(parents=True)
    with postgres(folder / "postgres") as pg, seaweedfs(folder / "seaweedfs") as s3:
        def make(name: str) -> dict[str, str]:
            bucket = f"fmd-bench-{name}"
            s3.create_bucket(bucket)
            return {"DATABASE": f"ducklake:postgres:{pg.create_database(name)}",
                    "DATA_PATH": f"s3://{bucket}/lake/",
                    "AWS_ACCESS_KEY_ID": "fmd-bench", "AWS_SECRET_ACCESS_KEY": "fmd-bench-secret",
                    "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": s3.endpoint_url}
        yield LakeFactory(make)


def write_config(path: Path, keys: dict[str, str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[dashboard]\n" + "".join(f"{k} = {v}\n" for k, v in keys.items()))
    return path


def fresh_lake(lakes: LakeFactory, folder: Path, host: str,
               extra: dict[str, str] | None = None) -> tuple[Path, Any]:
    """An emptied ``folder`` with a config of a new lake for ``host`` (a spool in the folder),
    its schema created: (the config, its lake settings)."""
    from fmd_profiler.store.lake import ensure_lake_schema

    shutil.rmtree(folder, ignore_errors=True)
    config = write_config(folder / f"{host}.cfg", lakes.make(folder.name) | (extra or {}) | {
        "HOST_NAME": host, "SPOOL_DIR": str(folder / "spool")})
    settings = lake_settings(config)
    ensure_lake_schema(settings)
    return config, settings


def lake_settings(config: Path) -> Any:
    from fmd_profiler.config import load_config

    settings = load_config(str(config)).lake
    if settings is None:
        raise RuntimeError(f"{config} does not configure fleet mode")
    return settings


# -- host CPU per request -----------------------------------------------------------------------

@dataclass
class HostCpuResult:
    rounds: int
    seconds: float
    workers: int
    threads: int
    connections: int
    #: pair name -> workload -> per block (a figure, b figure), worker CPU µs per request
    blocks: dict[str, dict[str, list[tuple[float, float]]]] = field(default_factory=dict)
    #: pair name -> server -> [CPU s of reaped children, CPU s of worker threads, requests]
    totals: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    skipped: str | None = None
    #: what the fleet server uploaded, as committed: table -> [files, rows, bytes]
    uploaded: dict[str, list[int]] = field(default_factory=dict)

    def ratios(self, pair: str, workload: str) -> list[float]:
        return [b / a for a, b in self.blocks.get(pair, {}).get(workload, [])]

    def ratio(self, pair: str, workload: str) -> float | None:
        ratios = self.ratios(pair, workload)
        return statistics.median(ratios) if ratios else None

    def quartiles(self, pair: str, workload: str) -> tuple[float, float] | None:
        return middle_half(self.ratios(pair, workload))

    def median_us(self, pair: str, workload: str, which: int) -> float | None:
        values = [block[which] for block in self.blocks.get(pair, {}).get(workload, [])]
        return statistics.median(values) if values else None


#: (pair name, server A, server B): the control first, then what is measured.
PAIRS = (("control", OURS_L1, OURS_L1_TWIN), ("fleet", OURS_L1, OURS_L1_FLEET))


def measure_host_cpu(lakes: LakeFactory, work: Path, *, rounds: int, seconds: float,
                     workers: int = 2, threads: int = 4,
                     connections: int = 64) -> HostCpuResult:
    result = HostCpuResult(rounds, seconds, workers, threads, connections)
    if shutil.which("wrk") is None:
        result.skipped = "wrk is not installed (Debian: apt-get install wrk; make bench does it)"
        return result
    for pair, a, b in PAIRS:
        try:
            _measure_pair(result, pair, a, b, lakes, work)
        except (RuntimeError, ValueError, OSError, subprocess.TimeoutExpired) as exc:
            result.failures[pair] = str(exc)[-400:]
    return result


def _measure_pair(result: HostCpuResult, pair: str, a: Contender, b: Contender,
                  lakes: LakeFactory, work: Path) -> None:
    folder = work / "fleet" / "host-cpu" / pair
    fleet_config: Path | None = None
    with contextlib.ExitStack() as servers:
        urls: dict[str, str] = {}
        for contender in (a, b):
            server_folder = folder / contender.name.replace(" ", "_").replace(",", "")
            env: dict[str, str] = {}
            if contender.fleet:
                keys = lakes.make("hostcpu") | {
                    "HOST_NAME": "bench-host", "SPOOL_DIR": str(folder / "fleet-spool")}
                shutil.rmtree(folder / "fleet-spool", ignore_errors=True)
                fleet_config = write_config(folder / "fleet.cfg", keys)
                env["BENCH_FLEET_CONFIG"] = str(fleet_config)
            url = servers.enter_context(gunicorn.serve(
                contender, ROOT, work, server_folder, workers=result.workers,
                threads=result.threads, env=env))
            for path, script in WORKLOADS.values():  # lazy starts, first upload/ingestion
                run_wrk(url + path, 2, result.connections, script)
            urls[contender.name] = url
        start = {name: _host_cpu(url) for name, url in urls.items()}
        served = dict.fromkeys(urls, 0.0)
        for r in range(result.rounds):
            order = [a, b, b, a] if r % 2 == 0 else [b, a, a, b]
            for workload, (path, script) in WORKLOADS.items():
                block = _block(order, urls, path, script, result.seconds, result.connections)
                for name, (_, requests) in block.items():
                    served[name] += requests
                result.blocks.setdefault(pair, {}).setdefault(workload, []).append(
                    (block[a.name][0], block[b.name][0]))
        for name, url in urls.items():
            threads_s, children_s = (now - then for now, then in
                                     zip(_host_cpu(url), start[name], strict=True))
            result.totals.setdefault(pair, {})[name] = [children_s, threads_s, served[name]]
    if fleet_config is not None:  # the servers stopped and uploaded: what did they upload?
        try:
            _timed_fleet("commit", fleet_config)
            result.uploaded = _ledger(lake_settings(fleet_config))
        except Exception as exc:  # the CPU figures above stand without it
            result.failures["uploaded"] = f"{type(exc).__name__}: {str(exc)[-300:]}"


def _ledger(settings: Any) -> dict[str, list[int]]:
    """Per table: [files, rows, bytes] the committer registered."""
    from fmd_profiler.store.lake import connect

    con = connect(settings, read_only=True)
    try:
        return {str(t): [int(f), int(r), int(b)] for t, f, r, b in con.execute(
            "SELECT table_name, count(*), sum(rows), sum(bytes) FROM lake.fmd_ledger "
            "GROUP BY ALL ORDER BY ALL").fetchall()}
    finally:
        con.close()


def _block(order: list[Contender], urls: dict[str, str], path: str, script: Path | None,
           seconds: float, connections: int) -> dict[str, tuple[float, float]]:
    """Per server: (worker CPU µs per request, requests served) over one ABBA block."""
    before = {name: _host_cpu(url) for name, url in urls.items()}
    rps: dict[str, list[float]] = {name: [] for name in urls}
    for contender in order:
        rps[contender.name].append(run_wrk(urls[contender.name] + path, seconds, connections,
                                           script)[0])
    time.sleep(SETTLE_S)  # the writer flushes what the block buffered, into its figure
    block = {}
    for name, url in urls.items():
        requests = sum(rps[name]) * seconds
        if not requests:
            raise ValueError(f"the server at {url} answered no request")
        cpu_s = sum(_host_cpu(url)) - sum(before[name])
        block[name] = (cpu_s / requests * 1e6, requests)
    return block


def _host_cpu(url: str) -> tuple[float, float]:
    """(CPU s of the workers' threads, CPU s of the children they reaped) of a server."""
    return gunicorn.workers_cpu_s(url), _reaped_children_s(gunicorn._MASTERS[url])


def _reaped_children_s(master: int) -> float:
    """CPU seconds of the processes the master's workers started and reaped (cutime + cstime,
    in clock ticks): the ingestion child of the embedded store, the uploader of fleet mode."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for task in Path(f"/proc/{master}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            # After the ")" that ends the command name: field 3 is the state; cutime and
            # cstime are fields 16 and 17.
            total += (int(fields[13]) + int(fields[14])) / ticks
    return total


# -- committer throughput -----------------------------------------------------------------------

def measure_commit(lakes: LakeFactory, work: Path, *, files: int, rows_per_file: int,
                   hosts: int) -> dict[str, Any]:
    from fmd_profiler.store.lake import connect

    folder = work / "fleet" / "commit"
    config, settings = fresh_lake(lakes, folder, "committer")
    con = connect(settings, read_only=False)
    try:
        started = time.perf_counter()
        end = time.time()
        for i in range(files):
            host = f"host-{i % hosts:03d}"
            fleet_data.write_parquet(
                con, fleet_data.request_rows_sql(rows=rows_per_file, host=host,
                                                 pid=1000 + i % hosts, endpoints=ENDPOINTS,
                                                 days=1, end_epoch=end),
                fleet_data.incoming_key(settings.data_path, host, f"{host}-{1000 + i}-1-0"))
        write_s = time.perf_counter() - started
    finally:
        con.close()
    commit_s = _timed_fleet("commit", config)
    empty_s = _timed_fleet("commit", config)  # nothing new: the fixed cost of one run
    stored = _count_requests(settings)
    if stored != files * rows_per_file:
        raise RuntimeError(f"the lake holds {stored} requests after the commit, "
                           f"not the {files * rows_per_file} uploaded")
    net_s = max(commit_s - empty_s, 1e-9)
    return {"files": files, "rows": files * rows_per_file, "hosts": hosts,
            "write_files_s": write_s, "commit_s": commit_s, "empty_commit_s": empty_s,
            "files_per_s": files / commit_s, "rows_per_s": files * rows_per_file / commit_s,
            "net_files_per_s": files / net_s, "net_rows_per_s": files * rows_per_file / net_s}


# -- an upload's fixed cost ---------------------------------------------------------------------

def measure_upload(lakes: LakeFactory, work: Path, *, runs: int,
                   rows: int = UPLOAD_ROWS) -> dict[str, Any]:
    """The CPU of one ``fleet upload`` child (user + system, from the kernel's account of
    reaped children): with one small segment of ``rows`` requests to upload, and with nothing
    to upload (start-up, extensions, fetching the published levels)."""
    from fmd_profiler.schema import REQUESTS
    from fmd_profiler.store.segments import SegmentWriter, StoreLocation

    folder = work / "fleet" / "upload"
    config, settings = fresh_lake(lakes, folder, "host-upload")
    location = StoreLocation(folder / "spool" / "local")
    cpu: dict[str, list[float]] = {"segment": [], "empty": []}
    for run in range(runs):
        writer = SegmentWriter(location, host="host-upload", pid=1000 + run)
        now = time.time()
        writer.write(REQUESTS, [("api.view_00", "/api/view_00", "GET", 200, 1.0 + i % 7, 0.5,
                                 now + i * 0.001, "1.0", "u", "10.0.0.1", None, None)
                                for i in range(rows)])
        writer.close()
        for kind in ("segment", "empty"):
            before = os.times()
            _timed_fleet("upload", config)
            after = os.times()
            cpu[kind].append(after.children_user - before.children_user
                             + after.children_system - before.children_system)
    uploaded = fleet_data_files(settings)
    if uploaded != runs:
        raise RuntimeError(f"{uploaded} requests file(s) uploaded, not {runs}")
    return {"runs": runs, "rows": rows,
            "segment_cpu_s": statistics.median(cpu["segment"]),
            "empty_cpu_s": statistics.median(cpu["empty"]), "cpu": cpu}


def fleet_data_files(settings: Any) -> int:
    from fmd_profiler.store.lake_files import DataPath

    with DataPath(settings) as data:
        return len(data.list_files("incoming/requests/"))


def _timed_fleet(command: str, config: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "fmd_profiler.fleet", command, "--config",
                           str(config)], cwd=ROOT, env=child_env(ROOT), capture_output=True,
                          text=True, timeout=1800, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"fleet {command} failed ({done.returncode}): "
                           f"{(done.stderr or done.stdout).strip()[-400:]}")
    return elapsed


def _count_requests(settings: Any) -> int:
    from fmd_profiler.store.lake import Lake

    with Lake(settings).read() as con:
        return int(con.execute("SELECT count(*) FROM requests").fetchone()[0])


# -- the overview page from the lake -----------------------------------------------------------

def measure_overview(lakes: LakeFactory, work: Path, *, requests: int, hosts: int,
                     rounds: int) -> dict[str, Any]:
    """The overview from the lake, and from the embedded store holding the same rows."""
    from fmd_profiler.fleet.maintain import maintain_once
    from fmd_profiler.store import Database, StoreLocation
    from fmd_profiler.store.lake import connect

    folder = work / "fleet" / "overview"
    dashboard = {"PASSWORD": ADMIN_PASSWORD, "SECRET_KEY": "benchmark-secret",
                 "MONITOR_LEVEL": "0"}
    lake_config, settings = fresh_lake(lakes, folder, "dashboard", dashboard)
    embedded = folder / "embedded.duckdb"
    embedded_config = write_config(folder / "embedded.cfg",
                                   {"DATABASE": str(embedded)} | dashboard)
    bucket_root = settings.data_path.split("/lake/")[0]
    local = folder / "synthetic"
    local.mkdir(parents=True)
    end = time.time()
    routes_sql = fleet_data.route_rows_sql(endpoints=ENDPOINTS, unused=3, end_epoch=end)
    con = connect(settings, read_only=False)
    try:
        started = time.perf_counter()
        paths = []
        for h in range(hosts):
            rows = requests // hosts + (1 if h < requests % hosts else 0)
            file = local / f"host-{h:03d}.parquet"
            fleet_data.write_parquet(con, fleet_data.request_rows_sql(
                rows=rows, host=f"host-{h:03d}", pid=1000 + h, endpoints=ENDPOINTS, days=DAYS,
                end_epoch=end), str(file))
            path = f"{bucket_root}/synthetic/requests/{file.name}"
            fleet_data.write_parquet(con, f"SELECT * FROM read_parquet('{file}')", path)
            paths.append(path)
        write_s = time.perf_counter() - started
        started = time.perf_counter()
        fleet_data.register(con, "requests", paths)
        register_s = time.perf_counter() - started
        con.execute(f"INSERT INTO lake.routes {routes_sql}")
    finally:
        con.close()
    with Database(StoreLocation(embedded)).transaction() as con:
        con.execute(f"INSERT INTO requests SELECT * FROM read_parquet('{local}/*.parquet')")
        con.execute(f"INSERT INTO routes {routes_sql}")
    shutil.rmtree(local)
    # Fresh processes in ABBA order, so that the machine's load touches both stores alike.
    runs: dict[str, list[dict[str, float]]] = {"lake": [], "embedded": []}
    for store in ("lake", "embedded", "embedded", "lake"):
        runs[store].append(_overview_process(lake_config if store == "lake"
                                             else embedded_config, rounds))
    # The same lake once `fleet maintain` has merged its files, as a maintained lake is.
    maintain_once(settings, retention_days=0, grace_s=0)
    runs["maintained"] = [_overview_process(lake_config, rounds) for _ in range(2)]
    figures: dict[str, Any] = {"requests": requests, "hosts": hosts, "files": len(paths),
                               "days": DAYS, "endpoints": ENDPOINTS, "write_files_s": write_s,
                               "register_s": register_s, "runs": runs}
    for store, times in runs.items():
        for key in ("cold_s", "cold_cpu_s", "warm_s", "warm_max_s"):
            figures[f"{store}_{key}"] = statistics.median(t[key] for t in times)
    return figures


def _overview_process(config: Path, rounds: int) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-m", "benchmarks.fleet", "overview", str(config),
                           "--rounds", str(rounds)], cwd=ROOT, env=child_env(ROOT),
                          capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the overview process failed ({done.returncode}): "
                           f"{done.stderr.strip()[-400:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def overview_times(config: Path, rounds: int) -> dict[str, float]:
    """In a fresh process: the first view of GET /dashboard/ (cold) and later ones (warm)."""
    from flask import Flask

    from fmd_profiler import Profiler

    app = Flask("fleet_benchmark")  # no routes of its own: it records nothing
    Profiler(app, config_file=str(config))
    client = app.test_client()
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/dashboard/login").text)
    if found is None:
        raise RuntimeError("the dashboard's login page has no form (is PASSWORD set?)")
    client.post("/dashboard/login", data={"username": "admin", "password": ADMIN_PASSWORD,
                                          "csrf_token": found.group(1)})

    def view() -> float:
        nonlocal cpu
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get("/dashboard/")
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - started_cpu
        if response.status_code != 200:
            raise RuntimeError(f"the overview answered {response.status_code}")
        # The lake's data must be on the page, not an empty local store's.
        if fleet_data.endpoint_name(0) not in response.text:
            raise RuntimeError("the overview does not show the lake's endpoints: the dashboard "
                               "did not read the lake")
        return elapsed

    cpu = 0.0
    try:
        cold = view()
        cold_cpu = cpu
        warm = [view() for _ in range(rounds)]
    finally:
        app.extensions["fmd_profiler"].runtime.stop()
    return {"cold_s": cold, "cold_cpu_s": cold_cpu, "warm_s": statistics.median(warm),
            "warm_max_s": max(warm)}


# -- all of it ----------------------------------------------------------------------------------

PARTS = ("host_cpu", "commit", "upload", "overview")


def measure(work: Path, plan: FleetPlan, only: tuple[str, ...] = PARTS) -> dict[str, Any]:
    """Every fleet figure (or the ``only`` parts); a part that fails is recorded and the others
    still run."""
    figures: dict[str, Any] = {"plan": asdict(plan), "failures": {}, "load": [_loadavg()]}
    with lake_services(work / "fleet" / "services") as lakes:
        for name, run in (
                ("host_cpu", lambda: measure_host_cpu(lakes, work, rounds=plan.rounds,
                                                      seconds=plan.seconds)),
                ("commit", lambda: measure_commit(lakes, work, files=plan.commit_files,
                                                  rows_per_file=plan.commit_rows_per_file,
                                                  hosts=plan.commit_hosts)),
                ("upload", lambda: measure_upload(lakes, work, runs=plan.upload_runs)),
                ("overview", lambda: measure_overview(lakes, work,
                                                      requests=plan.lake_requests,
                                                      hosts=plan.lake_hosts,
                                                      rounds=plan.overview_rounds))):
            if name not in only:
                continue
            _log(f"fleet: {name}")
            started = time.monotonic()
            try:
                figures[name] = run()
            except Exception as exc:  # one part's failure must not lose the others' figures
                figures["failures"][name] = f"{type(exc).__name__}: {str(exc)[-400:]}"
                _log(f"fleet: {name} failed: {figures['failures'][name]}")
            figures.setdefault("seconds", {})[name] = time.monotonic() - started
            figures["load"].append(_loadavg())
    return figures


def _loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fleet",
                                     description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    child = sub.add_parser("overview", help="(internal) time the overview in this process")
    child.add_argument("config")
    child.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--only", choices=PARTS, action="append",
                        help="measure only this part (repeatable; default: all)")
    args = parser.parse_args(argv)
    if args.command == "overview":
        print(json.dumps(overview_times(Path(args.config), args.rounds)))
        return 0
    figures = measure(WORK, QUICK if args.quick else FULL, tuple(args.only or PARTS))
    text = json.dumps(figures, default=lambda o: getattr(o, "__dict__", str(o)), indent=1)
    if args.json:
        Path(args.json).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
