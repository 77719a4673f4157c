"""Memory of a worker over many requests: the RSS of one process serving the demo app, sampled
every tenth of the run, with and without the profiler (level 1 and level 2)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from benchmarks.contenders import (
    BARE,
    OURS_L1,
    OURS_L2,
    Contender,
    child_env,
    env_python,
    folder_for,
)

CHILD = """
import io, json, sys
from pathlib import Path
from werkzeug.test import EnvironBuilder
from benchmarks.contenders import BY_NAME, build_app
from benchmarks.worker import _call

def rss_mb():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096 / 1e6

app = build_app(BY_NAME[sys.argv[1]], Path(sys.argv[2]))
total = int(sys.argv[3])
paths = ["/api/items", "/api/items/7", "/flaky", "/nope"]
environs = [EnvironBuilder(path=p, environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_environ()
            for p in paths]
samples = []
for i in range(total):
    _call(app, environs[i % len(environs)])
    if (i + 1) % (total // 10) == 0:
        samples.append(round(rss_mb(), 1))
print(json.dumps(samples))
"""


def measure(root: Path, work: Path, *, requests: int,
            contenders: tuple[Contender, ...] = (BARE, OURS_L1, OURS_L2)) -> dict[str, Any]:
    out: dict[str, Any] = {"requests": requests, "rss_mb": {}, "failures": {}}
    for contender in contenders:
        folder = folder_for(work, "memory", contender)
        shutil.rmtree(folder, ignore_errors=True)
        # The bare app is the reference level only; the profiled ones serve the whole run.
        count = requests if contender is not BARE else max(requests // 5, 10_000)
        done = subprocess.run([env_python("main", work), "-c", CHILD, contender.name,
                               str(folder), str(count)], cwd=root, env=child_env(root),
                              capture_output=True, text=True, timeout=3600)
        if done.returncode != 0:
            out["failures"][contender.name] = done.stderr.strip().splitlines()[-1:]
            continue
        out["rss_mb"][contender.name] = json.loads(done.stdout.strip().splitlines()[-1])
        store = folder / "fmd_profiler.duckdb"
        if contender is BARE:
            continue  # it records nothing
        # Stopping writes segments and leaves them for the next ingestion, so ingest what the
        # run left (the command the workers start) before weighing the file.
        subprocess.run([env_python("main", work), "-m", "fmd_profiler.store.ingestion",
                        str(store)], cwd=root, env=child_env(root), check=True, timeout=600)
        if store.exists():
            out.setdefault("db_bytes_per_1m", {})[contender.name] = (
                store.stat().st_size * 1_000_000 / count)
    return out
