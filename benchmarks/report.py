"""Turn the figures of one ``make bench`` run into benchmarks/RESULTS.md (plain Markdown)."""

from __future__ import annotations

from typing import Any

from benchmarks import breakdown, capacity
from benchmarks.breakdown import BreakdownResult
from benchmarks.capacity import CapacityResult
from benchmarks.contenders import BARE, BARE_TWIN, MINIMAL, MINIMAL_WALL
from benchmarks.fleet_report import render_fleet
from benchmarks.latency import ENDPOINTS, LatencyResult
from benchmarks.paired import PairedResult
from benchmarks.throughput import ThroughputResult

#: What the minimal recorder is, for every table it appears in.
_MINIMAL_IS = (f"*{MINIMAL.name}*: not a tool, the floor under level 1; a WSGI wrapper that "
               "reads the monotonic and the thread CPU clock before and after each request and "
               "keeps one tuple, nothing else (no endpoint, status or user, nothing written). ")


def _fmt(value: float | None, pattern: str = "{:.2f}") -> str:
    return "–" if value is None else pattern.format(value)


def render(figures: dict[str, Any]) -> str:
    m = figures["machine"]
    lines = [
        "# Benchmark results",
        "",
        f"Written by `{figures['command'].strip()}` on {m['date']} at commit {m['commit']}"
        f"{' (quick run: too few rounds to quote)' if figures['quick'] else ''}, in "
        f"{figures['seconds'] / 60:.1f} minutes.",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; Python {m['python']} "
        f"on {m['platform']}.",
        "Packages: " + ", ".join(f"{k} {v}" for k, v in m["packages"].items()) + ".",
        "",
        "Every comparison is a ratio measured in one run: contenders run interleaved (A B C A B C "
        "…, the order rotating each round), each in its own process, on the same demo app "
        "(`fmd_profiler/demo/app.py`), and every round is divided by the same round's "
        "no-profiler figure. The summary is the median over rounds.",
        "",
    ]
    if figures.get("failed_sections"):
        lines += ["Sections that failed (their figures are missing below; the error is in the "
                  "run's output):", ""]
        lines += [f"- **{name}**: {why}" for name, why in figures["failed_sections"].items()]
        lines.append("")
    if figures.get("unavailable"):
        lines += ["Contenders that could not run:", ""]
        lines += [f"- **{name}**: {why}" for name, why in figures["unavailable"].items()]
        lines.append("")
    if "latency" in figures:
        lines += _latency(figures["latency"])
    if "paired" in figures:
        lines += _paired(figures["paired"])
    if "prometheus" in figures:
        lines += _prometheus(figures["prometheus"])
    if "pass_cost" in figures:
        lines += _pass_cost(figures["pass_cost"])
    if "throughput" in figures:
        lines += _throughput(figures["throughput"])
    if "capacity" in figures:
        servers = {next(iter(t.values())).threads: t
                   for t in (figures.get("throughput"), figures.get("throughput_sync")) if t}
        lines += _capacity(figures["capacity"], servers)
    if "breakdown" in figures:
        lines += _breakdown(figures["breakdown"])
    if "throughput_sync" in figures:
        lines += _throughput_sync(figures["throughput_sync"])
    if "accuracy" in figures:
        lines += _accuracy(figures["accuracy"])
    if "ingest" in figures:
        lines += _ingest(figures["ingest"], figures.get("profile_storage"))
    if "memory" in figures:
        lines += _memory(figures["memory"])
    if "report" in figures:
        lines += _report(figures["report"])
    if "harness" in figures:
        lines += _harness(figures["harness"])
    if "verdicts" in figures:
        lines += render_verdicts(figures["verdicts"])
    if "fleet" in figures:
        lines += render_fleet(figures["fleet"])
    return "\n".join(lines) + "\n"


def _latency(result: LatencyResult) -> list[str]:
    lines = [
        "## Added latency per request",
        "",
        f"WSGI calls inside each contender's process (no network), {result.rounds} rounds × "
        f"{result.requests_per_round} requests per endpoint, taken in {result.sub_blocks} "
        "sub-blocks per contender in turn; per-round medians; "
        + ("a fresh process for every contender each round"
           if result.rounds_per_process == 1 else
           f"each contender's process is replaced every {result.rounds_per_process} rounds")
        + "; fmd_profiler's buffered rows are written between blocks, untimed (its writer's cost "
        "is in the storage and throughput sections). Cells: ratio to no profiler (added µs; the "
        "middle half of the rounds' ratios).",
        "",
        *_latency_table(result, "median"),
        "",
        "### The same with each round's mean",
        "",
        "Each round's mean request time, its slowest 1 % left out, in place of its median. A "
        "median cannot see how large a cost is that lands in fewer than half of the requests: "
        "the sampler's passes land in 8–18 % of these (see below), and level 3's detailed "
        "profiles in 1 %; the mean counts them. It also moves more with the host: differences "
        "between contenders under about 1 % are not resolved by either table.",
        "",
        *_latency_table(result, "mean"),
    ]
    return [*lines, ""]


def _latency_table(result: LatencyResult, stat: str) -> list[str]:
    lines = [
        "| contender | " + " | ".join(f"`{p}` ({d})" for p, d in ENDPOINTS.items()) + " |",
        "| --- | " + " | ".join("---" for _ in ENDPOINTS) + " |",
    ]
    base = " | ".join(_fmt(result.baseline_us(p, stat), "{:.0f} µs") for p in ENDPOINTS)
    lines.append(f"| {BARE.name} (absolute) | {base} |")
    for name in result.medians:
        if name == BARE.name:
            continue
        cells = [_cell(result, name, p, stat) for p in ENDPOINTS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for name, why in result.failures.items():
        lines.append(f"| {name} | " + " | ".join(why if i == 0 else "" for i in
                                                 range(len(ENDPOINTS))) + " |")
    return lines


def _cell(result: LatencyResult | PairedResult, name: str, path: str, stat: str) -> str:
    """Ratio to no profiler (added µs; the middle half of the rounds' ratios)."""
    quartiles = result.ratio_quartiles(name, path, stat)
    spread = "" if quartiles is None else f"; {quartiles[0]:.3f}–{quartiles[1]:.3f}"
    return (f"{_fmt(result.ratio(name, path, stat), '{:.3f}×')} "
            f"({_fmt(result.added_us(name, path, stat), '{:+.1f} µs')}{spread})")


def _prometheus(run: dict[str, Any]) -> list[str]:
    from benchmarks.prometheus_cost import table

    return [
        "### Level 1 with Prometheus metrics, paired with level 1",
        "",
        "`PROMETHEUS = true` counts requests on the writer thread, so a request should cost what "
        "it costs at level 1. Measured like the pairs above, with level 1 as the twin "
        f"(`benchmarks/prometheus_cost.py`): {run['processes']} fresh process(es) × "
        f"{run['rounds']} rounds × {run['requests']} pairs per endpoint, ABBA order; ratio = "
        "with metrics / without, the median over rounds (the middle half of the rounds' "
        "ratios).",
        "",
        table(run["pairs"]),
        "",
    ]


def _paired(result: PairedResult) -> list[str]:
    lines = [
        "### Paired with a bare twin in one process",
        "",
        "The tables above cannot resolve differences of about 1 %: the host's speed drifts "
        "between blocks and fresh processes differ from each other by 1–3 %. Here one process "
        "builds the demo app twice, without profiler and as the contender, and serves their "
        "requests one by one in ABBA order, so drift and the process's memory layout touch both "
        "alike; the twin's requests run with SIGPROF blocked, so level 2's timer lands only in "
        f"the profiled app's requests. {result.processes} fresh process(es) per contender × "
        f"{result.rounds} rounds × {result.requests} pairs per endpoint; per round the ratio of "
        "the medians (or of the means, slowest 1 % left out); cells: the median over all "
        "rounds (added µs; the middle half of the rounds' ratios). Only contenders whose work "
        "stays inside their own requests can be paired (not the sampler thread, which keeps "
        "ticking a second after the last request, nor exact mode's yappi, which profiles every "
        "thread; see `benchmarks/paired.py`).",
        "",
    ]
    for stat, title in (("median", "medians"), ("mean", "means (slowest 1 % left out)")):
        lines += [
            f"Ratio of {title}:",
            "",
            "| contender | " + " | ".join(f"`{p}`" for p in ENDPOINTS) + " |",
            "| --- | " + " | ".join("---" for _ in ENDPOINTS) + " |",
            f"| {BARE.name} twin (absolute) | "
            + " | ".join(_fmt(result.baseline_us(p, stat), "{:.0f} µs") for p in ENDPOINTS)
            + " |",
        ]
        for name in result.pairs:
            cells = [_cell(result, name, path, stat) for path in ENDPOINTS]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        for name, why in result.failures.items():
            lines.append(f"| {name} | failed: {why} | | |")
        lines.append("")
    sampled = {name: n for name, n in result.samples.items() if n}
    if sampled:
        lines.append("Samples the profiled apps took (proof that level 2 was sampling): "
                     + ", ".join(f"{name} {n:,}" for name, n in sampled.items()) + ".")
        lines.append("")
    return lines


def _pass_cost(result: dict[str, Any]) -> list[str]:
    lines = [
        "### What a sampling pass costs the request it lands in",
        "",
        f"fmd_profiler L2 in-process (requests in the main thread), {result['requests']} "
        f"requests per endpoint in each of {result['processes']} fresh processes; requests "
        "during which a sample was taken against the others (medians; the median over "
        "processes). By the timer signal (the default there) and by the sampler thread "
        "(`SAMPLER_SIGNAL = False`, and every request of a threaded server).",
        "",
        "| sampled by | endpoint | without a pass | with a pass | a pass costs | "
        "requests with a pass | on average per request |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, endpoints in result["contenders"].items():
        for path, row in endpoints.items():
            if "failure" in row:
                lines.append(f"| {name} | `{path}` | failed: {row['failure']} | | | | |")
                continue
            lines.append(
                f"| {name} | `{path}` | {row['without_pass_us']:.0f} µs | "
                f"{row['with_pass_us']:.0f} µs | {row['pass_cost_us']:+.0f} µs | "
                f"{row['share'] * 100:.0f} % | {row['pass_cost_us'] * row['share']:+.1f} µs |")
    return [*lines, ""]


def _throughput_sync(results: dict[str, ThroughputResult]) -> list[str]:
    return _throughput(
        results, "## Throughput under gunicorn's sync workers",
        "The same measure with `--threads 1`, gunicorn's default sync worker: each request runs "
        "in its worker's main thread, where level 2 samples with the timer signal (the "
        "\"sampler thread only\" contender turns it off). ")


def _throughput(results: dict[str, ThroughputResult], title: str = "## Throughput under gunicorn",
                preface: str = "") -> list[str]:
    lines = [title, ""]
    first = next(iter(results.values()))
    if first.skipped:
        return [*lines, f"Not measured: {first.skipped}.", ""]
    control = (f"*{BARE_TWIN.name}* is the control: two identical servers measured the same "
               "way, so how far it reads from 1.000× is the measurement's own noise. "
               if BARE_TWIN.name in first.rps else "")
    floors = (_MINIMAL_IS + f"*{MINIMAL_WALL.name}*: the same with the monotonic clock "
              "alone. The thread CPU clock is a system call, the monotonic one is not: the two "
              "rows apart are what reading a request's CPU time costs under this server. "
              if MINIMAL_WALL.name in first.rps else "")
    lines += [
        preface +
        f"gunicorn `-w {first.workers} --threads {first.threads} --reuse-port` on 127.0.0.1, "
        f"`wrk -t1 -c{first.connections}`, {first.rounds} round(s). Each contender runs beside "
        "a fresh server of the app without profiler, both warmed up first; per round and "
        f"workload one block of four {first.seconds:.0f}-second runs in ABBA order (bare, "
        "contender, contender, bare; the next round BAAB), so runs seconds apart share the "
        "machine's weather and a steady drift cancels. Ratio: the contender's requests/s over "
        "the bare server's in the same block, the median over rounds, followed from 4 rounds "
        "on by the middle half of the rounds' ratios. " + control + floors + "*mix*: the "
        "demo's realistic rotation (`benchmarks/mix.lua`: 3 JSON lists, 2 item lookups, a "
        "template page and a call-heavy endpoint per 7 requests); `/api/items` alone is the "
        "worst case for any "
        "per-request cost (about 0.1 ms of application time). *Worker CPU per request*: the "
        "scheduler's run time (`/proc/<pid>/task/<tid>/schedstat`, nanoseconds) of every "
        "thread of the server's worker processes (the writer's flush and ingestion included) "
        "over a block (its runs and a 1.2 s pause after them, for the writer's last flush), "
        "divided by the requests the server answered in it; the median over rounds. Time the "
        "machine gives to other tenants is not in it, but it moves with the weather too (a "
        "shared cache runs slower).",
        "",
        "| contender | " + " | ".join(
            f"{w}: requests/s (ratio) | {w}: p99 | {w}: worker CPU per request (added)"
            for w in results) + " |",
        "| --- | " + " | ".join("--- | --- | ---" for _ in results) + " |",
    ]
    for name in first.rps:
        cells = []
        for result in results.values():
            quartiles = result.ratio_quartiles(name)
            spread = f"; {quartiles[0]:.3f}–{quartiles[1]:.3f}" if quartiles else ""
            cells.append(f"{_fmt(result.median_rps(name), '{:.0f}')} "
                         f"({_fmt(result.ratio(name), '{:.3f}×')}{spread})")
            cells.append(_fmt(result.median_p99(name), "{:.1f} ms"))
            cells.append(f"{_fmt(result.median_cpu_us(name), '{:.0f} µs')} "
                         f"({_fmt(result.added_cpu_us(name), '{:+.0f} µs')})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for name, why in first.failures.items():
        lines.append(f"| {name} | failed: {why} |" + " |" * (3 * len(results) - 1))
    return [*lines, ""]


def _capacity(results: list[CapacityResult],
              servers: dict[int, dict[str, ThroughputResult]]) -> list[str]:
    first = results[0]
    lines = [
        "### A worker's capacity, without the network",
        "",
        "The gunicorn figures above carry a few % of noise. Here one process builds the demo "
        "app twice, without profiler and as the contender, and request threads call them: "
        "four, as a threaded worker's pool would (the GIL contended as it is there), or one, "
        "as a sync worker; they are switched from one app to the other in ABBA phases of half "
        "a second, and each phase's process CPU time per request is read, the writer's flush "
        "of the phase's rows included. Ratio: the bare phases' CPU per request over the "
        "contender's in the same block (the share of a worker's capacity left), the median "
        "over blocks (the middle half of the blocks' ratios); "
        f"{first.processes} fresh process(es) × {first.blocks} blocks per workload and thread "
        f"count. *{BARE_TWIN.name}*: a second bare app in the contender's place, the control. "
        + _MINIMAL_IS +
        "Only level 1 is measured: level 2's sampler thread keeps ticking into the bare app's "
        "phases (see `benchmarks/capacity.py`).",
        "",
        "| contender | request threads | " + " | ".join(
            f"{w}: capacity left | {w}: CPU per request, bare (added)" for w in capacity.WORKLOADS)
        + " |",
        "| --- | --- | " + " | ".join("--- | ---" for _ in capacity.WORKLOADS) + " |",
    ]
    for result in results:
        for name in result.pairs:
            cells = []
            for workload in capacity.WORKLOADS:
                quartiles = result.ratio_quartiles(name, workload)
                spread = f"; {quartiles[0]:.3f}–{quartiles[1]:.3f}" if quartiles else ""
                cells.append(f"{_fmt(result.ratio(name, workload), '{:.3f}×')}{spread}")
                cells.append(f"{_fmt(result.bare_us(name, workload), '{:.0f} µs')} "
                             f"({_fmt(result.added_us(name, workload), '{:+.1f} µs')})")
            lines.append(f"| {name} | {result.threads} | " + " | ".join(cells) + " |")
        for name, why in result.failures.items():
            lines.append(f"| {name} | {result.threads} | failed: {why} |"
                         + " |" * (2 * len(capacity.WORKLOADS) - 1))
    return [*lines, "", *_capacity_under_gunicorn(results, servers)]


def _capacity_under_gunicorn(results: list[CapacityResult],
                             servers: dict[int, dict[str, ThroughputResult]]) -> list[str]:
    """The capacity a gunicorn worker keeps, from its bare CPU per request (the gunicorn
    tables) and what each contender adds to it (the table above): bare / (bare + added)."""
    rows = []
    for result in results:
        tables = servers.get(result.threads)
        if not tables:
            continue
        for name in result.pairs:
            if name == BARE_TWIN.name:
                continue
            cells = []
            for workload in capacity.WORKLOADS:
                table = tables.get(workload)
                bare = table.median_cpu_us(BARE.name) if table and not table.skipped else None
                added = result.added_us(name, workload)
                cells.append("–" if bare is None or added is None else
                             f"{bare / (bare + added):.3f}× ({bare:.0f} {added:+.1f} µs)")
            rows.append(f"| {name} | {result.threads} | " + " | ".join(cells) + " |")
    if not rows:
        return []
    return [
        "Under gunicorn a worker also spends CPU on HTTP and its sockets, which the process "
        "above does not: the *worker CPU per request* of the bare server in the gunicorn table "
        "with the same threads per worker. The figures below add the CPU measured above to "
        "it: bare / (bare + added), the share of a gunicorn worker's capacity a contender "
        "leaves when the CPU is what limits it. It assumes the hooks cost a gunicorn worker "
        "what they cost here; the gunicorn tables' own ratios measure the same thing directly, "
        "with wrk's noise.",
        "",
        "| contender | request threads | " + " | ".join(
            f"{w}: capacity left under gunicorn (bare CPU, added)" for w in capacity.WORKLOADS)
        + " |",
        "| --- | --- | " + " | ".join("---" for _ in capacity.WORKLOADS) + " |",
        *rows,
        "",
    ]


def _breakdown(result: BreakdownResult) -> list[str]:
    lines = [
        "### Where level 1's cost goes",
        "",
        f"One process, one request thread, `{breakdown.PATH}` (0.1 ms): the demo app without "
        "profiler, with the minimal recorder, at level 1, and at level 1 with one part switched "
        "off: no `get_group_by`; a thread-CPU clock that is the monotonic one (no system call); "
        "no Flask hook (the `process_response` wrapper removed, so rows stay in the unmatched "
        f"bucket). The apps take turns in chunks of {breakdown.CHUNK} requests (~30 ms), in a "
        "new order each round; a chunk's process CPU per request minus the same round's bare "
        "chunk (the writer's flush runs after each chunk, untimed: the storage section gives "
        "its cost per row); the median over "
        f"{result.processes} fresh process(es) × {result.rounds} rounds (the middle half of the "
        "rounds). A part's cost is level 1's figure minus the figure without it (see "
        "`benchmarks/breakdown.py`).",
        "",
        "| app | CPU added per request |",
        "| --- | --- |",
        f"| no profiler (its own CPU per request) | {_fmt(result.bare_us(), '{:.0f} µs')} |",
    ]
    for variant in breakdown.VARIANTS:
        quartiles = result.added_quartiles(variant)
        spread = f" ({quartiles[0]:+.1f} to {quartiles[1]:+.1f})" if quartiles else ""
        lines.append(f"| {variant} | {_fmt(result.added_us(variant), '{:+.1f} µs')}{spread} |")
    lines += ["", "| part of level 1 | CPU per request |", "| --- | --- |"]
    for label, without in (("the two thread-CPU clock reads", breakdown.NO_CPU_CLOCK),
                           ("the Flask hook (endpoint, user, client)", breakdown.NO_HOOK),
                           ("of which the demo's `get_group_by`", breakdown.NO_GROUP_BY)):
        lines.append(f"| {label} | {_fmt(result.part_us(without), '{:.1f} µs')} |")
    lines += [f"- failed: {why}" for why in result.failures]
    return [*lines, ""]


def _accuracy(result: dict[str, Any]) -> list[str]:
    lines = [
        "## Attribution accuracy",
        "",
        "The demo's `/split` spends its time 60/30/10 in three functions. Each contender served "
        "it under gunicorn (1 worker, 4 threads: the sampler thread samples; \"sync worker\": "
        "1 worker, requests in its main thread, sampled by the timer signal; the default 10 ms "
        "sampling interval unless its name gives another) to 4 client threads; shares are of "
        "the three functions' total time as the report computes it.",
        "",
        "| contender | request | requests | shares (60 / 30 / 10) | largest error |",
        "| --- | --- | --- | --- | --- |",
    ]
    for case in result["cases"]:
        s = case["shares"]
        lines.append(f"| {case['contender']} | {case['ms']} ms | {case['requests']:,} | "
                     f"{s['split_sixty'] * 100:.1f} / {s['split_thirty'] * 100:.1f} / "
                     f"{s['split_ten'] * 100:.1f} | {case['max_error_pp']:.1f} pp |")
    for name, why in result.get("failures", {}).items():
        lines.append(f"| {name} | failed: {why} | | | |")
    return [*lines, ""]


def _report(results: list[dict[str, Any]]) -> list[str]:
    lines = [
        "## Report generation and dashboard",
        "",
        "Synthetic stores (50 endpoints, 14 days, 3 versions) written through the real segment "
        "writer; `python -m fmd_profiler.report` end to end (queries, every chart drawn in the "
        "process pool, the site written atomically); the dashboard's overview page through a "
        "real Flask app: first view, then warm (page cache), then after new data arrived.",
        "",
        "| requests | report wall | report CPU | pages | charts | overview cold | warm | "
        "after new data |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        o = r["overview"]
        lines.append(f"| {r['requests']:,} | {r['report_s']:.1f} s | {r['report_cpu_s']:.1f} s | "
                     f"{r['pages']} | {r['charts']} | {o.get('cold_s', 0):.2f} s | "
                     f"{o.get('warm_s', 0) * 1000:.1f} ms | {o.get('rebuild_s', 0):.2f} s |")
    return [*lines, ""]


def _harness(result: dict[str, Any]) -> list[str]:
    return [
        "## Benchmark harness overhead",
        "",
        f"`python -m fmd_profiler.benchmark -n {result['rounds']}` against {result['rounds']} "
        f"plain `pytest` runs of the same suite ({result['suite']}), medians of "
        f"{result['repeats']} interleaved pairs.",
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| one plain pytest run | {result['plain_run_s']:.2f} s |",
        f"| the harness, {result['rounds']} rounds | {result['harness_run_s']:.2f} s |",
        f"| harness / ({result['rounds']} × plain run) | "
        f"{result['ratio_to_n_plain_runs']:.2f}× |",
        f"| per round, inside pytest, harness / plain | {result['per_round_ratio']:.2f}× |",
        f"| fixed cost per harness run | {result['fixed_cost_s']:.2f} s |",
        "",
    ]


def render_verdicts(result: dict[str, Any]) -> list[str]:
    """The harness's verdicts on simulated runs (benchmarks/verdicts.py)."""
    extra = result.get("extra_rounds", 0)
    designs = result.get("designs", ["shipped", "previous"])
    lines = [
        "## Benchmark harness verdicts under hiccups",
        "",
        f"`python -m benchmarks.verdicts --seeds {result['seeds']}` "
        f"({result['seconds'] / 60:.1f} minutes): simulated `--against` runs, "
        f"{result['seeds']} seeds a cell, each with {result['comparisons']} comparisons (3 "
        "endpoints, 4 tests); the head slows one endpoint and the test that calls it. One or two "
        "of the first rounds of base or head are stalled x4 (every test and endpoint in them). "
        "-n N gives N-1 measured rounds a side. Detected: both the endpoint and its test "
        "flagged; false alarm: anything flagged in an unchanged commit (A/A). Harness defaults: "
        f"alpha {result['alpha']:g} per run, threshold x{result['threshold']:.2f}, "
        f"--max-extra-rounds {extra}. Each cell: the shipped decision (outlier rounds set aside, "
        f"t-test on log durations; up to {extra} extra rounds a side when the first look finds "
        "a comparison flagged or inconclusive, then one verdict on all rounds) / the same on the "
        "-n rounds alone (--max-extra-rounds 0) / the rank test before issue 27 (Mann-Whitney "
        "on raw rounds). Last column: share of the shipped decision's runs that ran the extra "
        "rounds (x1.5 / A/A).",
        "",
    ]
    for noise in dict.fromkeys(c["noise"] for c in result["cells"]):
        lines += [f"Per-round noise: {noise}.", "",
                  "| -n | hiccup rounds | x1.5 detected | x3 detected | A/A false alarms "
                  "| extra rounds run |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for c in (c for c in result["cells"] if c["noise"] == noise):
            hiccups = "none" if not c["hiccups"] else f"{c['hiccups']} in {c['side']}"
            row = [str(c["n"]), hiccups]
            for slowdown in (1.5, 3.0, 1.0):
                row.append(" / ".join(f"{100 * c[design, slowdown]:.1f} %"
                                      for design in designs))
            row.append(" / ".join(f"{100 * c['extended', slowdown]:.0f} %"
                                  for slowdown in (1.5, 1.0)))
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    return lines


def _ingest(result: dict[str, Any], profile: dict[str, Any] | None = None) -> list[str]:
    lines = [
        "## Storage",
        "",
        f"{result['rows']:,} synthetic request rows (50 endpoints) in {result['segments']} "
        "segments.",
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| rows/s written to spool segments (what a worker's writer thread does) | "
        f"{result['segment_rows_per_s']:,.0f} |",
        f"| CPU per row of a worker's flush (2,700 rows once every 0.2 s, caches cold) | "
        f"{result['flush_us_per_row']:.2f} µs |",
        f"| rows/s ingested into DuckDB | {result['ingest_rows_per_s']:,.0f} |",
        f"| spool segment bytes per 1M requests (before ingestion) | "
        f"{result['spool_bytes_per_1m'] / 1e6:.1f} MB |",
        f"| DuckDB bytes per 1M requests | {result['db_bytes_per_1m'] / 1e6:.1f} MB |",
        f"| JSON summary SQL over them (all endpoints, quantiles) | "
        f"{result['summary_s'] * 1000:.0f} ms |",
    ]
    if profile:
        lines += [
            f"| profile data (levels 2-3) per 1M requests, demo mix at level 3 "
            f"({profile['requests']:,} requests, {profile['minutes']:.1f} min) | "
            f"{profile['bytes_per_1m_requests'] / 1e6:.1f} MB |",
            f"| profile data per minute of traffic | {profile['bytes_per_minute'] / 1e3:.0f} kB |",
        ]
    return [*lines, ""]


def _memory(result: dict[str, Any]) -> list[str]:
    n = result["requests"]
    lines = [
        "## Memory of one process",
        "",
        f"RSS of a process serving {n:,} requests (WSGI calls on cheap endpoints, so the "
        "profiler's share is as large as it gets), sampled every tenth of the run (the app "
        f"without profiler, the reference level, serves {max(n // 5, 10_000):,}).",
        "",
        "| contender | RSS after 10 % | after 50 % | at the end | growth over the last 90 % |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, samples in result["rss_mb"].items():
        lines.append(f"| {name} | {samples[0]:.1f} MB | {samples[4]:.1f} MB | "
                     f"{samples[-1]:.1f} MB | {samples[-1] - samples[0]:+.1f} MB |")
    for name, why in result.get("failures", {}).items():
        lines.append(f"| {name} | failed: {why} | | | |")
    if result.get("db_bytes_per_1m"):
        lines += ["", "Stored bytes per 1M requests, as written by the real writer: " + ", ".join(
            f"{name}: {size / 1e6:.1f} MB" for name, size in result["db_bytes_per_1m"].items())
            + "."]
    return [*lines, ""]
