"""Side environments for contenders whose dependencies must not mix with ours.

Flask-MonitoringDashboard pins old packages (tzlocal 2.0, APScheduler, SQLAlchemy) and registers
its own ``flask fmd`` command, so it gets a virtual environment of its own under
``benchmarks/.work/``. A contender whose environment cannot be built is reported, not hidden.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FMD_PACKAGES = ["Flask-MonitoringDashboard==5.1.0", "duckdb", "numpy", "gitpython", "gunicorn"]


def ensure_fmd_env(work: Path) -> str | None:
    """Create the FMD venv if needed; returns None when ready, else what went wrong."""
    venv = work / "venv-fmd"
    stamp = venv / ".ready"
    if stamp.exists():
        return None
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True,
                       capture_output=True, timeout=300)
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                        *FMD_PACKAGES], check=True, capture_output=True, text=True, timeout=900)
    except subprocess.CalledProcessError as exc:
        tail = (exc.stderr or exc.stdout or "").strip().splitlines()[-3:]
        return f"could not install {' '.join(FMD_PACKAGES)}: {' / '.join(tail)}"
    except subprocess.TimeoutExpired:
        return "installing Flask-MonitoringDashboard timed out"
    stamp.touch()
    return None
