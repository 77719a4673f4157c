"""``python -m fmd_profiler.demo.fleet`` (what ``make fleet-demo`` runs): three hosts, one lake,
one report, and every request the hosts served is in the lake once."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.once_in_ci
def test_the_fleet_demo_reports_every_request_of_three_hosts_from_the_lake(
        tmp_path: Path) -> None:
    out = tmp_path / "reports" / "fleet-demo"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DASHBOARD_CONFIG", None)
    done = subprocess.run(
        [sys.executable, "-m", "fmd_profiler.demo.fleet", "--out", str(out), "--requests", "180",
         "--seconds", "60"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    index = out / "index.html"
    assert done.stdout.strip().splitlines()[-1] == str(index.resolve())
    served = re.search(r"the lake holds (\d+) requests; the hosts served (\d+)", done.stderr)
    assert served is not None, done.stderr[-3000:]
    assert int(served.group(1)) == int(served.group(2)) > 0
    for host in ("host-a", "host-b", "host-c"):  # fleet status lists every host
        assert host in done.stderr
    assert (out / "versions.html").is_file()  # host-a runs release 1.1, the others 1.2
    assert "Traceback" not in done.stderr
    # SeaweedFS was stopped: no process works on the demo's data folder any more.
    assert _processes_using(out.parent / ".fleet-demo-data") == []


def _processes_using(data: Path) -> list[str]:
    """Command lines that name ``data`` (SeaweedFS's holds its -dir)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(data) in cmdline:
            found.append(cmdline)
    return found
