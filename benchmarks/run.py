"""``make bench``: run every measurement and rewrite benchmarks/RESULTS.md.

``python -m benchmarks.run`` (about 60 minutes on 2 cores) or ``--quick`` (about 8 minutes,
fewer rounds and requests; good for a smoke check, too noisy to quote). ``--only NAME`` runs some
sections; with ``--into FILE`` only those sections of FILE are replaced (a late, separate run of
one section keeps the rest of RESULTS.md and says where its figures come from). Nothing here
passes or fails: it measures and writes down, with the machine, the date
and the command.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.util
import json
import os
import platform
import shlex
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks import (
    accuracy,
    breakdown,
    capacity,
    fleet,
    harness_overhead,
    ingest,
    latency,
    memory,
    paired,
    paired_versions,
    pass_cost,
    profile_storage,
    prometheus_cost,
    report_generation,
    throughput,
    verdicts,
)
from benchmarks import contenders as C
from benchmarks.envs import ensure_fmd_env
from benchmarks.report import render
from fmd_profiler.errors import one_line

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / ".work"
SECTIONS = ("latency", "throughput", "accuracy", "storage", "memory", "report", "harness",
            "verdicts", "fleet")


@dataclass(frozen=True)
class Plan:
    """How much of each measurement a run does."""

    quick: bool
    # Many short latency rounds: the host's load changes from second to second, and a round's
    # contenders only see the same load when a round is short.
    latency_rounds: int
    latency_requests: int
    latency_warmup: int
    # The paired measurement (benchmarks.paired): fresh processes, rounds in each, pairs a round.
    paired_processes: int
    paired_rounds: int
    paired_requests: int
    throughput_rounds: int
    throughput_seconds: float
    throughput_warmup_s: float
    # The capacity measurement (benchmarks.capacity): fresh processes, ABBA blocks in each.
    capacity_processes: int
    capacity_blocks: int
    # Where level 1's cost goes (benchmarks.breakdown): fresh processes, rounds in each.
    breakdown_processes: int
    breakdown_rounds: int
    ingest_rows: int
    memory_requests: int
    accuracy_scale: float
    profile_requests: int
    report_sizes: tuple[int, ...]
    harness_rounds: int
    fleet: fleet.FleetPlan


FULL = Plan(quick=False, latency_rounds=12, latency_requests=170, latency_warmup=300,
            paired_processes=4, paired_rounds=5, paired_requests=200,
            throughput_rounds=8, throughput_seconds=1, throughput_warmup_s=2,
            capacity_processes=2, capacity_blocks=20,
            breakdown_processes=2, breakdown_rounds=80,
            ingest_rows=1_000_000, memory_requests=1_000_000, accuracy_scale=1.0,
            profile_requests=20_000, report_sizes=(100_000, 1_000_000), harness_rounds=5,
            fleet=fleet.FULL)
QUICK = Plan(quick=True, latency_rounds=4, latency_requests=120, latency_warmup=100,
             paired_processes=1, paired_rounds=2, paired_requests=100,
             throughput_rounds=2, throughput_seconds=1, throughput_warmup_s=1,
             capacity_processes=1, capacity_blocks=4,
             breakdown_processes=1, breakdown_rounds=15,
             ingest_rows=200_000, memory_requests=20_000, accuracy_scale=0.2,
             profile_requests=1500, report_sizes=(20_000,), harness_rounds=3,
             fleet=fleet.QUICK)


def machine_info() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        mem_kb = 0
    versions = {}
    for name in ("flask", "werkzeug", "duckdb", "numpy", "plotnine", "yappi", "gunicorn",
                 "pyinstrument"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        commit, dirty = "unknown", ""
    return {
        "cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(), "platform": platform.platform(),
        "packages": versions, "commit": commit + ("+dirty" if dirty else ""),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def available_contenders(failures: dict[str, str]) -> list[C.Contender]:
    chosen = []
    fmd_problem = ensure_fmd_env(WORK)
    for contender in C.ALL:
        if contender.kind == "fmd" and fmd_problem:
            failures[contender.name] = fmd_problem
            continue
        if contender.kind == "pyinstrument" and importlib.util.find_spec("pyinstrument") is None:
            failures[contender.name] = "pyinstrument is not installed (pip install '.[bench]')"
            continue
        chosen.append(contender)
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run")
    parser.add_argument("--quick", action="store_true", help="about 8 minutes, fewer rounds")
    parser.add_argument("--only", action="append", choices=SECTIONS,
                        help="run only this section (repeatable)")
    parser.add_argument("--contender", action="append", metavar="NAME",
                        choices=[c.name for c in C.ALL if c != C.BARE],
                        help="measure only this contender against the app without profiler "
                             "(repeatable); for a focused, longer comparison with --rounds")
    parser.add_argument("--rounds", type=int, metavar="N",
                        help="latency and throughput rounds (default: 12 and 8, quick 4 and 2)")
    parser.add_argument("--fleet-requests", type=int, metavar="N",
                        help="requests in the fleet section's synthetic lake (default 10M, "
                             "quick 500k)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "RESULTS.md"))
    parser.add_argument("--into", metavar="FILE",
                        help="write only the sections run into FILE, each replacing its part "
                             "of FILE (a part starts at its '## ' title); the rest is kept")
    parser.add_argument("--json", help="also write the raw figures as JSON")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.rounds is not None:
        if args.rounds < 1:
            parser.error(f"--rounds must be at least 1, not {args.rounds}")
        plan = dataclasses.replace(plan, latency_rounds=args.rounds,
                                   throughput_rounds=args.rounds,
                                   fleet=dataclasses.replace(plan.fleet, rounds=args.rounds))
    if args.fleet_requests is not None:
        if args.fleet_requests < 1000:
            parser.error(f"--fleet-requests must be at least 1000, not {args.fleet_requests}")
        plan = dataclasses.replace(plan, fleet=dataclasses.replace(
            plan.fleet, lake_requests=args.fleet_requests))
    sections = args.only or list(SECTIONS)
    WORK.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    failures: dict[str, str] = {}
    chosen = available_contenders(failures)
    if args.contender:
        chosen = [c for c in chosen if c == C.BARE or c.name in args.contender]
    figures: dict[str, Any] = {"machine": machine_info(), "quick": plan.quick,
                               # Quoted, so the line in RESULTS.md can be pasted as it is.
                               "command": shlex.join(["python", "-m", "benchmarks.run",
                                                      *(argv if argv is not None
                                                        else sys.argv[1:])]),
                               "unavailable": failures}
    if "latency" in sections:
        with _section(figures, "latency"):
            _log("latency: %d contenders, %d rounds x %d requests per endpoint", len(chosen),
                 plan.latency_rounds, plan.latency_requests)
            figures["latency"] = latency.measure(chosen, ROOT, WORK, rounds=plan.latency_rounds,
                                                 requests=plan.latency_requests,
                                                 warmup=plan.latency_warmup)
            if any(c in paired.PAIRED for c in chosen):
                _log("latency: paired with a bare twin in one process, %d processes x %d rounds",
                     plan.paired_processes, plan.paired_rounds)
                figures["paired"] = paired.measure(
                    chosen, ROOT, WORK, processes=plan.paired_processes, rounds=plan.paired_rounds,
                    requests=plan.paired_requests)
            if C.OURS_L1 in chosen:
                _log("latency: level 1 with PROMETHEUS = true, paired with level 1, %d processes "
                     "x %d rounds", plan.paired_processes, plan.paired_rounds)
                figures["prometheus"] = {
                    "processes": plan.paired_processes, "rounds": plan.paired_rounds,
                    "requests": plan.paired_requests,
                    "pairs": prometheus_cost.measure(plan.paired_processes, plan.paired_rounds,
                                                     plan.paired_requests)}
            if C.OURS_L2 in chosen:
                _log("latency: what a sampling pass costs the request it lands in")
                figures["pass_cost"] = pass_cost.measure(
                    ROOT, WORK, processes=1 if plan.quick else 3,
                    requests=600 if plan.quick else 2000)
    if "throughput" in sections:
        with _section(figures, "throughput"):
            _log("throughput: gunicorn + wrk, %d round(s) of %.0f s", plan.throughput_rounds,
                 plan.throughput_seconds)
            timed = [c for c in chosen if c in (C.BARE, C.OURS_L1, C.OURS_L2)] if plan.quick \
                else chosen  # --quick: the two levels most deployments run
            # Beside level 1, the least any per-request recorder costs under the same server,
            # with and without the thread CPU clock: the floor level 1 is judged against.
            floors = [C.MINIMAL, C.MINIMAL_WALL] if C.OURS_L1 in chosen and not plan.quick \
                else []
            timed = [*timed, *floors]
            figures["throughput"] = throughput.measure(
                timed, ROOT, WORK, rounds=plan.throughput_rounds, seconds=plan.throughput_seconds,
                warmup_s=plan.throughput_warmup_s)
            # Sync workers serve from the main thread, where level 2 samples with the timer signal;
            # they are also gunicorn's default, so a focused run of level 1 alone measures them too.
            sync = [c for c in (C.OURS_L2, C.OURS_L2_THREAD, C.OURS_L1) if c in chosen]
            sync += floors if sync else []
            if sync:
                _log("throughput: the same under sync workers (%d contenders)", len(sync))
                figures["throughput_sync"] = throughput.measure(
                    [C.BARE, *sync], ROOT, WORK, rounds=plan.throughput_rounds,
                    seconds=plan.throughput_seconds, warmup_s=plan.throughput_warmup_s, threads=1,
                    control=False)  # the threaded section's control row tells the noise
            if C.OURS_L1 in chosen:
                _log("throughput: capacity with %s request thread(s), no network, %d process(es) x "
                     "%d blocks", " and ".join(map(str, capacity.THREADS)), plan.capacity_processes,
                     plan.capacity_blocks)
                figures["capacity"] = capacity.measure(
                    ROOT, WORK, processes=plan.capacity_processes, blocks=plan.capacity_blocks)
                _log("throughput: where level 1's cost goes, %d process(es) x %d rounds",
                     plan.breakdown_processes, plan.breakdown_rounds)
                figures["breakdown"] = breakdown.measure(ROOT, WORK,
                                                         processes=plan.breakdown_processes,
                                                         rounds=plan.breakdown_rounds)
    if "accuracy" in sections:
        with _section(figures, "accuracy"):
            sampled = [c for c in chosen
                       if c in (C.OURS_L2, C.OURS_L2_THREAD, C.OURS_L2_SWI0, C.OURS_L2_40MS)]
            if C.OURS_L2 in chosen:  # the app's own shorter interval, beside the default
                sampled.append(C.OURS_L2_APP_SWI2)
            _log("accuracy: the 60/30/10 endpoint at 10 ms and 2 ms, %d contender(s)", len(sampled))
            figures["accuracy"] = accuracy.measure(sampled, ROOT, WORK, scale=plan.accuracy_scale)
    if "storage" in sections:
        with _section(figures, "storage"):
            _log("storage: %d request rows; profile data of %d requests", plan.ingest_rows,
                 plan.profile_requests)
            figures["ingest"] = ingest.measure(WORK, rows=plan.ingest_rows)
            figures["profile_storage"] = profile_storage.measure_storage(
                requests=plan.profile_requests)
    if "memory" in sections:
        with _section(figures, "memory"):
            _log("memory: %d requests per contender", plan.memory_requests)
            figures["memory"] = memory.measure(ROOT, WORK, requests=plan.memory_requests)
    if "report" in sections:
        with _section(figures, "report"):
            figures["report"] = []
            for size in plan.report_sizes:
                _log("report: %d requests over 50 endpoints", size)
                figures["report"].append(report_generation.measure(size, work=WORK))
    if "harness" in sections:
        with _section(figures, "harness"):
            _log("harness: %d rounds vs %d plain pytest runs", plan.harness_rounds,
                 plan.harness_rounds)
            figures["harness"] = harness_overhead.measure(rounds=plan.harness_rounds, repeats=3)
    if "verdicts" in sections:
        with _section(figures, "verdicts"):
            seeds = 200 if plan.quick else 1000
            _log("verdicts: simulated --against runs, %d seeds a cell", seeds)
            figures["verdicts"] = verdicts.run(seeds)
    if "fleet" in sections:
        with _section(figures, "fleet"):
            _log("fleet: host CPU (%d rounds), committer (%d files), overview (%d requests)",
                 plan.fleet.rounds, plan.fleet.commit_files, plan.fleet.lake_requests)
            figures["fleet"] = fleet.measure(WORK, plan.fleet)
    figures["seconds"] = time.monotonic() - started
    if args.into:
        target = Path(args.into)
        target.write_text(merge_sections(target.read_text(encoding="utf-8"), render(figures),
                                         figures), encoding="utf-8")
        _log("wrote the sections run into %s in %.0f s", target, figures["seconds"])
        return 0
    out = Path(args.out)
    text = render(figures)
    # The per-version section is written by benchmarks.paired_versions (it needs every
    # interpreter's venv): a run of this module keeps it.
    kept = paired_versions.section_of(out.read_text(encoding="utf-8")) if out.exists() else None
    if kept is not None:
        text = paired_versions.replace_section(text, kept)
    out.write_text(text, encoding="utf-8")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, default=_plain, indent=1))
    _log("wrote %s in %.0f s", args.out, figures["seconds"])
    return 0


def merge_sections(old: str, new: str, figures: dict[str, Any]) -> str:
    """``old`` with each ``## `` part of ``new`` in place of its namesake (or appended), each
    saying which run it comes from (the header of ``old`` names another run)."""
    m = figures["machine"]
    note = (f"*This section: `{figures['command'].strip()}` on {m['date']} at commit "
            f"{m['commit']}{' (quick run: too few rounds to quote)' if figures['quick'] else ''};"
            " the rest of this file comes from the run named at the top.*")
    old_parts = _parts(old)
    for title, body in _parts(new)[1:]:
        body = [body[0], "", note, *body[1:]]
        for i, (existing, _) in enumerate(old_parts):
            if existing == title:
                old_parts[i] = (title, body)
                break
        else:
            old_parts.append((title, body))
    return "\n".join(line for _, body in old_parts for line in body).rstrip("\n") + "\n"


def _parts(text: str) -> list[tuple[str, list[str]]]:
    """(title, lines) from each ``## `` title to the next; the first part is the header."""
    parts: list[tuple[str, list[str]]] = [("", [])]
    for line in text.splitlines():
        if line.startswith("## "):
            parts.append((line, []))
        parts[-1][1].append(line)
    return parts


def _plain(value: object) -> object:
    return getattr(value, "__dict__", str(value))


@contextlib.contextmanager
def _section(figures: dict[str, Any], name: str) -> Iterator[None]:
    """Run one section; a failure is recorded in RESULTS and the run goes on, so an hour of
    other sections' figures is not lost to one section's error."""
    try:
        yield
    except Exception as exc:
        traceback.print_exc()
        why = one_line(exc)
        figures.setdefault("failed_sections", {})[name] = why
        _log("%s: failed (%s); going on with the next section", name, why)


def _log(message: str, *args: object) -> None:
    print(f"[bench] {message % args}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
