"""The benchmark harness's own cost: N rounds of a suite against N plain pytest runs.

Target (issue 6): ``python -m fmd_profiler.benchmark -n N`` costs at most 1.1 x N x one plain
``pytest`` run of the same suite. Both are measured end to end as a user runs them (interpreter
start, collection, storing, the report), interleaved round by round (plain, harness, plain, ...)
so machine noise hits both alike; every figure is a median over the rounds. The suite is generated
on the spot: a Flask app and 40 test-client tests of 5 requests each (or any project passed in).

``measure()`` returns a dict for the benchmark suite; ``python benchmarks/harness_overhead.py``
prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

APP = '''
from flask import Flask, jsonify, request


def create_app():
    app = Flask("overhead")

    @app.get("/items/<int:n>")
    def items(n):
        return jsonify([{"id": i, "name": f"item {i}"} for i in range(n)])

    @app.post("/total")
    def total():
        return jsonify(total=sum(x * x for x in request.get_json()["values"]))

    return app
'''

TESTS = '''
import pytest

from overhead_app import create_app


@pytest.fixture
def client():
    return create_app().test_client()


@pytest.mark.parametrize("n", range(40))
def test_requests(client, n):
    for size in (10, 50, 100):
        assert len(client.get(f"/items/{size}").get_json()) == size
    assert client.post("/total", json={"values": list(range(200 + n))}).status_code == 200
    assert client.get("/items/1").status_code == 200
'''

_SESSION = re.compile(r"passed[^\n]* in ([0-9.]+)s")


def make_project(folder: Path) -> Path:
    (folder / "tests").mkdir(parents=True)
    (folder / "overhead_app.py").write_text(APP)
    (folder / "tests" / "test_overhead.py").write_text(TESTS)
    (folder / "pytest.ini").write_text("[pytest]\ntestpaths = tests\npythonpath = .\n")
    return folder


def _timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds of the command and pytest's own session seconds (summed over sessions)."""
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=900)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout[-2000:]}"
                           f"{result.stderr[-2000:]}")
    session = sum(float(s) for s in _SESSION.findall(result.stdout))
    return wall, session


def measure(rounds: int = 5, repeats: int = 3, project: Path | None = None) -> dict[str, Any]:
    """Median timings of ``repeats`` interleaved pairs: one plain pytest run, one harness run
    of ``rounds`` rounds. ``project``: a folder with a pytest suite (default: generated)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("DASHBOARD_CONFIG", None)
    with tempfile.TemporaryDirectory(prefix="fmd-overhead-") as tmp:
        work = Path(tmp)
        cwd = project or make_project(work / "project")
        plain_cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        plain_walls, plain_sessions, harness_walls, harness_sessions = [], [], [], []
        for i in range(repeats):
            wall, session = _timed(plain_cmd, cwd, env)
            plain_walls.append(wall)
            plain_sessions.append(session)
            db = work / f"bench-{i}.duckdb"
            wall, session = _timed([sys.executable, "-m", "fmd_profiler.benchmark",
                                    "-n", str(rounds), "--db", str(db), "--no-upload", "--",
                                    "-p", "no:cacheprovider"], cwd, env)
            harness_walls.append(wall)
            harness_sessions.append(session)
            shutil.rmtree(db.with_name(db.name + ".spool"), ignore_errors=True)
    plain, harness = statistics.median(plain_walls), statistics.median(harness_walls)
    plain_loop = statistics.median(plain_sessions)
    harness_loop = statistics.median(harness_sessions) / rounds
    return {
        "rounds": rounds,
        "repeats": repeats,
        "suite": str(project) if project else "generated: 40 tests x 5 requests",
        "plain_run_s": round(plain, 3),
        "harness_run_s": round(harness, 3),
        # The target: <= 1.1.
        "ratio_to_n_plain_runs": round(harness / (rounds * plain), 3),
        # pytest's own session time per round, harness vs plain: what profiling every request
        # and labelling every test cost inside the loop.
        "plain_session_s": round(plain_loop, 3),
        "harness_session_per_round_s": round(harness_loop, 3),
        "per_round_ratio": round(harness_loop / plain_loop, 3) if plain_loop else None,
        # What the harness adds once per run: start, provenance, storing, the report.
        "fixed_cost_s": round(harness - rounds * harness_loop - (plain - plain_loop), 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--project", type=Path, help="a project folder with its own tests")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.rounds, args.repeats, args.project), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
