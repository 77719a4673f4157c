"""The fleet section of benchmarks/RESULTS.md, from :func:`benchmarks.fleet.measure`'s figures."""

from __future__ import annotations

from typing import Any

from benchmarks.contenders import OURS_L1, OURS_L1_FLEET, OURS_L1_TWIN
from benchmarks.fleet import PAIRS, HostCpuResult

#: The issue's targets for the overview page read from the lake.
COLD_TARGET_S = 3.0
WARM_TARGET_S = 0.050


def render_fleet(figures: dict[str, Any]) -> list[str]:
    load = figures.get("load") or []
    lines = [
        "## Fleet mode",
        "",
        "PostgreSQL (the catalog) and SeaweedFS (the S3 store) run on 127.0.0.1 on the same "
        "machine as what is measured, so their CPU competes with it. The machine's load average "
        "(1 min) at the start and after each part: "
        + (", ".join(f"{value:.1f}" for value in load) or "not recorded") + " (on 2 cores); "
        "the parts took " + (", ".join(f"{name} {seconds / 60:.1f} min" for name, seconds
                                      in figures.get("seconds", {}).items()) or "–") + ". "
        "A load average above the 2 cores means other work shared the machine and every "
        "absolute figure below is inflated by it: read the ratios, which compare runs taken "
        "side by side.",
        "",
    ]
    for name, why in figures.get("failures", {}).items():
        lines += [f"- **{name}** failed: {why}", ""]
    if "host_cpu" in figures:
        lines += _host_cpu(figures["host_cpu"])
    if "commit" in figures:
        lines += _commit(figures["commit"])
    if "upload" in figures:
        lines += _upload(figures["upload"])
    if "overview" in figures:
        lines += _overview(figures["overview"])
    return lines


def _upload(r: dict[str, Any]) -> list[str]:
    return [
        "### An upload's fixed cost",
        "",
        "The CPU time (user + system, from the kernel's account of reaped children) of one "
        "`python -m fmd_profiler.fleet upload` child, what a host's writer starts every "
        f"`UPLOAD_INTERVAL_S`: with one segment of {r['rows']} requests to upload to the S3 "
        "store, and right after it with nothing to upload (start-up, the httpfs extension, "
        f"fetching the published levels). Median of {r['runs']} runs.",
        "",
        "| upload | CPU |",
        "| --- | --- |",
        f"| one segment of {r['rows']} requests | {r['segment_cpu_s']:.2f} s |",
        f"| nothing to upload | {r['empty_cpu_s']:.2f} s |",
        "",
    ]


def _host_cpu(result: HostCpuResult) -> list[str]:
    lines = [
        "### A host's CPU per request at level 1: fleet mode against the embedded store",
        "",
        f"Two gunicorn servers of the demo app (`-w {result.workers} --threads "
        f"{result.threads}`, wrk `-c{result.connections}`), {result.rounds} ABBA block(s) per "
        f"workload of four {result.seconds:.0f}-second runs, as in the throughput section. Per "
        "block and server: the CPU of every thread of its workers plus that of the children "
        "they started and reaped (the embedded store's ingestion child, fleet mode's uploader; "
        "counted in clock ticks) over the requests it answered. Cells: the median over blocks "
        "(the middle half of the blocks' ratios). *control*: two servers on the embedded store "
        "measured the same way; how far its ratio is from 1.000x is the measurement's noise. "
        "Uploads run every 30 s (UPLOAD_INTERVAL_S) and ingestion every 120 s, so a block holds "
        "one of them or none: the spread of the ratios is wide, and the whole-run figures below "
        "the table spread that cost over every request.",
        "",
    ]
    if result.skipped:
        return [*lines, f"Skipped: {result.skipped}", ""]
    names = {"control": (OURS_L1.name, OURS_L1_TWIN.name),
             "fleet": (OURS_L1.name, OURS_L1_FLEET.name)}
    lines += ["| pair | workload | A: µs CPU / request | B: µs CPU / request | B / A |",
              "| --- | --- | --- | --- | --- |"]
    for pair, a, b in PAIRS:
        if pair in result.failures:
            lines.append(f"| {pair} ({a.name} / {b.name}) | failed: {result.failures[pair]} "
                         "| | | |")
            continue
        for workload in result.blocks.get(pair, {}):
            ratio = result.ratio(pair, workload)
            spread = result.quartiles(pair, workload)
            cell = "–" if ratio is None else f"{ratio:.3f}×"
            if spread is not None:
                cell += f" ({spread[0]:.3f}–{spread[1]:.3f})"
            a_us, b_us = (result.median_us(pair, workload, i) for i in (0, 1))
            lines.append(f"| {pair}: {a.name} / {b.name} | `{workload}` | "
                         f"{_us(a_us)} | {_us(b_us)} | {cell} |")
    lines += ["", "The whole run of each pair (warm-up excluded): CPU of the worker threads "
              "and of reaped children, per request served."]
    lines += ["", "| pair | server | requests | worker threads µs / request | "
              "children µs / request |", "| --- | --- | --- | --- | --- |"]
    for pair, servers in result.totals.items():
        for server in names.get(pair, tuple(servers)):
            if server not in servers:
                continue
            children_s, threads_s, requests = servers[server]
            if requests:
                lines.append(f"| {pair} | {server} | {requests:,.0f} | "
                             f"{threads_s / requests * 1e6:.0f} | "
                             f"{children_s / requests * 1e6:.0f} |")
    if "uploaded" in result.failures:
        lines += ["", f"What the fleet server uploaded could not be read: "
                  f"{result.failures['uploaded']}"]
    if result.uploaded:
        lines += ["", "What the fleet server uploaded over the whole run (warm-up included; "
                  "committed afterwards): " + "; ".join(
                      f"`{table}` {files} file(s), {rows:,} rows, {size / 1e6:.2f} MB"
                      + (f" ({size / rows:.1f} MB per million rows)" if rows else "")  # B/row
                      for table, (files, rows, size) in result.uploaded.items()) + "."]
    return [*lines, ""]


def _commit(r: dict[str, Any]) -> list[str]:
    return [
        "### The committer",
        "",
        f"{r['files']} synthetic requests files of {r['rows'] // r['files']:,} rows each from "
        f"{r['hosts']} hosts, laid out under `incoming/` as uploaders leave them, then one "
        "`python -m fmd_profiler.fleet commit` (a fresh process: start-up, attach, listing the "
        "files, registering them with their ledger rows and their request counts in one "
        "transaction), then a second one "
        "with nothing new (the fixed cost of a run). *net*: the first run less the second.",
        "",
        "| files | rows | one commit | nothing new | files/s | rows/s | net files/s | "
        "net rows/s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        f"| {r['files']} | {r['rows']:,} | {r['commit_s']:.2f} s | {r['empty_commit_s']:.2f} s | "
        f"{r['files_per_s']:.1f} | {r['rows_per_s']:,.0f} | {r['net_files_per_s']:.1f} | "
        f"{r['net_rows_per_s']:,.0f} |",
        "",
    ]


def _overview(r: dict[str, Any]) -> list[str]:
    lines = [
        "### The overview page from the lake",
        "",
        f"{r['requests']:,} synthetic requests ({r['endpoints']} endpoints, 3 never requested; "
        f"{r['days']} days; 3 versions) of {r['hosts']} hosts, one Parquet file per host written "
        "by DuckDB to the S3 store as a host writes its uploads (rows in time order, zstd) and "
        "registered with `ducklake_add_data_files` and their "
        "request counts in one transaction, as the committer does (not timed below: writing "
        f"took {r['write_files_s']:.0f} s, registering "
        f"{r['register_s']:.1f} s); the same rows in an embedded DuckDB file as the yardstick. "
        "A fresh process serves `GET /dashboard/` through a real Flask app: *cold* is its first "
        "view (imports, for the lake DuckDB's extensions and the attach, the queries, the "
        "charts), *warm* the median of the views after it (the largest in brackets). *cold "
        "CPU*: the CPU time of that process (all its threads) during the first view - less "
        "inflated by a busy machine than the wall time, but without the work PostgreSQL and "
        "SeaweedFS did for it. Four "
        "processes in the order lake, embedded, embedded, lake, then two more on the lake once "
        "`fleet maintain` has merged its files; cells: the median of each "
        f"store's two. Targets for the lake: cold ≤ {COLD_TARGET_S:.0f} s, warm ≤ "
        f"{WARM_TARGET_S * 1000:.0f} ms.",
        "",
        "| store | cold | cold CPU | warm | cold within target | warm within target |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    names = {"lake": "lake", "maintained": "lake after `fleet maintain`",
             "embedded": "embedded"}
    for store in (s for s in names if f"{s}_cold_s" in r):
        cold, warm = r[f"{store}_cold_s"], r[f"{store}_warm_s"]
        within = (f"{'yes' if cold <= COLD_TARGET_S else 'no'} | "
                  f"{'yes' if warm <= WARM_TARGET_S else 'no'}") if store != "embedded" else "| "
        cpu = r.get(f"{store}_cold_cpu_s")
        lines.append(f"| {names[store]} | {cold:.2f} s | "
                     f"{'–' if cpu is None else f'{cpu:.2f} s'} | {warm * 1000:.1f} ms "
                     f"({r[f'{store}_warm_max_s'] * 1000:.1f} ms) | {within} |")
    lines += ["", f"Lake / embedded: cold {r['lake_cold_s'] / r['embedded_cold_s']:.2f}×, warm "
              f"{r['lake_warm_s'] / r['embedded_warm_s']:.2f}×.", ""]
    return lines


def _us(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"
