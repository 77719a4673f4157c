"""Level 1's and level 2's paired latency on each Python version, so a regression on one shows.

The paired measurement (:mod:`benchmarks.paired`: the profiled demo app and a bare twin in one
process, requests in ABBA order) runs in a child process of each interpreter given, taken in
turn (3.11, 3.12, 3.13, 3.11, ...) so that a slow spell of the shared host touches every version
alike. Each version's figures are ratios to its own bare twin; comparing absolute times across
versions says little here. The result replaces the section "Paired latency per Python version"
of RESULTS.md, leaving the rest of the file as it is.

``python -m benchmarks.paired_versions [--python PATH ...]`` (default: the interpreters of the
venvs that ``make test PYTHON=...`` made, .venv, .venv-3.12, .venv-3.13, where they exist).
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.contenders import OURS_L1, OURS_L2, ChildFailed, Contender, child_env, folder_for
from benchmarks.latency import ENDPOINTS
from benchmarks.paired import PairedResult

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / ".work"
HEADING = "## Paired latency per Python version"
CONTENDERS = (OURS_L1, OURS_L2)
DEFAULT_VENVS = (".venv", ".venv-3.12", ".venv-3.13")


@dataclass
class VersionResult:
    python: str  # x.y.z
    executable: str
    result: PairedResult


def python_version(executable: str) -> str:
    done = subprocess.run([executable, "-c", "import platform; print(platform.python_version())"],
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.strip()


def default_interpreters() -> list[str]:
    found = [ROOT / venv / "bin" / "python" for venv in DEFAULT_VENVS]
    return [str(path) for path in found if path.exists()]


def measure(interpreters: list[str], *, processes: int, rounds: int,
            requests: int) -> list[VersionResult]:
    """Paired figures per interpreter; process i of every (interpreter, contender) runs before
    process i + 1 of any."""
    results = [VersionResult(python_version(exe), exe, PairedResult(processes, rounds, requests))
               for exe in interpreters]
    for i in range(processes):
        for version in results:
            for contender in CONTENDERS:
                _log("paired %s, Python %s, process %d of %d", contender.name, version.python,
                     i + 1, processes)
                _run_one(version, contender, i)
    return results


def _run_one(version: VersionResult, contender: Contender, i: int) -> None:
    result = version.result
    if contender.name in result.failures:
        return
    folder = folder_for(WORK / f"paired-py{version.python}", "paired", contender, f"-{i}")
    done = subprocess.run([version.executable, "-m", "benchmarks.paired", str(folder),
                           contender.name, str(result.rounds), str(result.requests)],
                          cwd=ROOT, env=child_env(ROOT), capture_output=True, text=True,
                          timeout=900)
    if done.returncode != 0:
        result.failures[contender.name] = str(ChildFailed(done.stderr.strip()[-300:]
                                                          or "no output"))
        return
    run = json.loads(done.stdout.strip().splitlines()[-1])
    mine = result.pairs.setdefault(contender.name, {})
    for path, stats in run["pairs"].items():
        for stat, pairs in stats.items():
            mine.setdefault(path, {}).setdefault(stat, []).extend((p, b) for p, b in pairs)
    result.samples[contender.name] = result.samples.get(contender.name, 0) + run["samples"]


def render(results: list[VersionResult], *, command: str, when: str, minutes: float,
           load: str) -> str:
    """The section, from its heading to its last line."""
    first = results[0].result
    lines = [
        HEADING,
        "",
        f"Written by `{command}` on {when} at commit {_commit()}, in {minutes:.1f} minutes; "
        f"load average "
        f"(1/5/15 min) at the end: {load}.",
        "",
        "The paired measurement of \"Paired with a bare twin in one process\" (one process serves "
        "the demo app profiled and a bare twin in ABBA order) on each Python version, the "
        f"versions' processes taken in turn: {first.processes} process(es) per version and "
        f"contender × {first.rounds} rounds × {first.requests} pairs per endpoint. Cells: the "
        "median over rounds of the ratio of medians to the same process's bare twin (added µs; "
        "the middle half of the rounds' ratios). The host is shared with other jobs and its "
        "speed drifts; ratios from interleaved pairs cancel most of that, absolute times do not "
        "(the twin row is only there to show the scale).",
        "",
        "| Python | contender | " + " | ".join(f"`{p}`" for p in ENDPOINTS) + " |",
        "| --- | --- | " + " | ".join("---" for _ in ENDPOINTS) + " |",
    ]
    for version in results:
        result = version.result
        twin = [result.baseline_us(p, "median") for p in ENDPOINTS]
        lines.append(f"| {version.python} | no profiler twin (absolute) | "
                     + " | ".join("–" if t is None else f"{t:.0f} µs" for t in twin) + " |")
        for contender in CONTENDERS:
            name = contender.name
            if name in result.failures:
                lines.append(f"| {version.python} | {name} | failed: "
                             f"{result.failures[name]} | | |")
                continue
            cells = [_cell(result, name, path) for path in ENDPOINTS]
            lines.append(f"| {version.python} | {name} | " + " | ".join(cells) + " |")
    samples = [f"Python {v.python} {v.result.samples.get(OURS_L2.name, 0):,}" for v in results]
    lines += ["", "Samples level 2 took (proof that it was sampling): " + ", ".join(samples) + ".",
              ""]
    return "\n".join(lines)


def _cell(result: PairedResult, name: str, path: str) -> str:
    ratio = result.ratio(name, path, "median")
    if ratio is None:
        return "–"
    added = result.added_us(name, path, "median")
    quartiles = result.ratio_quartiles(name, path, "median")
    spread = f"; {quartiles[0]:.3f}–{quartiles[1]:.3f}" if quartiles else ""
    return f"{ratio:.3f}× ({added:+.1f} µs{spread})"


def _commit() -> str:
    try:
        sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return (sha or "unknown") + ("+dirty" if dirty else "")


def section_of(text: str) -> str | None:
    """This module's section of a RESULTS.md text, None when it has none."""
    start = text.find(HEADING)
    if start < 0:
        return None
    end = text.find("\n## ", start + len(HEADING))
    return text[start:] if end < 0 else text[start:end + 1]


def replace_section(text: str, section: str) -> str:
    """``text`` with its section under :data:`HEADING` replaced by ``section`` (or added at the
    end); the section runs to the next level-2 heading."""
    start = text.find(HEADING)
    if start < 0:
        return text.rstrip("\n") + "\n\n" + section
    end = text.find("\n## ", start + len(HEADING))
    rest = "" if end < 0 else text[end + 1:]
    return text[:start] + section + ("\n" + rest if rest else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.paired_versions")
    parser.add_argument("--python", action="append", metavar="PATH",
                        help="an interpreter with this project installed (repeatable; default: "
                             + ", ".join(f"{v}/bin/python" for v in DEFAULT_VENVS)
                             + " where they exist)")
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "RESULTS.md"))
    args = parser.parse_args(argv)
    interpreters = args.python or default_interpreters()
    if not interpreters:
        parser.error("no interpreter: make the venvs first (make .venv-3.12/.installed-test "
                     "PYTHON=python3.12, ...) or name them with --python")
    started = time.monotonic()
    results = measure(interpreters, processes=args.processes, rounds=args.rounds,
                      requests=args.requests)
    load = " / ".join(Path("/proc/loadavg").read_text().split()[:3]) \
        if Path("/proc/loadavg").exists() else "unknown"
    command = shlex.join(["python", "-m", "benchmarks.paired_versions",
                          *(argv if argv is not None else sys.argv[1:])])
    section = render(results, command=command, when=time.strftime("%Y-%m-%d %H:%M UTC",
                                                                   time.gmtime()),
                     minutes=(time.monotonic() - started) / 60, load=load)
    out = Path(args.out)
    text = out.read_text(encoding="utf-8") if out.exists() else "# Benchmark results\n"
    out.write_text(replace_section(text, section), encoding="utf-8")
    _log("wrote the section %r of %s", HEADING, out)
    return 0


def _log(message: str, *args: object) -> None:
    print(f"[bench] {message % args}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
