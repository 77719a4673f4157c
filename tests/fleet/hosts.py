"""Simulated hosts for the fleet tests: one gunicorn server per host, each with its own
HOST_NAME and SPOOL_DIR, all writing to the same lake."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from fmd_profiler.config import load_config
from fmd_profiler.fleet.settings import LakeSettings
from fmd_profiler.fleet.upload import leftover_manifests
from tests import servers
from tests.fleet.support import pending, spool_of

#: Short, so a test sees several upload cycles; production's default is 30 s.
UPLOAD_INTERVAL_S = 2


@dataclass
class Host:
    name: str
    config: Path
    settings: LakeSettings
    server: servers.Server
    log: Path

    def spool_empty(self) -> bool:
        """No segment and no manifest waits, and an upload was started at least once."""
        location = spool_of(self.settings)
        return (location.ingest_marker_path.exists() and not list(pending(location))
                and not leftover_manifests(location))

    def wait_until_first_upload(self, timeout: float = 60.0) -> bool:
        """True once an upload was started and no upload child of this host runs any more
        (segments flushed after that upload listed the spool may still wait for the next)."""
        deadline = time.monotonic() + timeout
        marker = spool_of(self.settings).ingest_marker_path
        while time.monotonic() < deadline:
            if marker.exists() and not self.upload_running():
                return True
            time.sleep(0.2)
        return False

    def upload_running(self) -> bool:
        """Whether a worker of this host's server has an upload child alive (from /proc)."""
        parents = {self.server.process.pid}
        found = False
        for _ in range(2):  # the master's workers, then the workers' children
            children = set()
            for stat in Path("/proc").glob("[0-9]*/stat"):
                try:
                    fields = stat.read_text().rsplit(")", 1)[1].split()
                    cmdline = (stat.parent / "cmdline").read_bytes().split(b"\0")
                except (OSError, IndexError):
                    continue  # ended meanwhile
                if int(fields[1]) in parents:
                    children.add(int(stat.parent.name))
                    found = found or (b"fmd_profiler.fleet" in cmdline and b"upload" in cmdline)
            parents = children
        return found

    def wait_until_uploaded(self, timeout: float = 60.0) -> bool:
        """True once the spool holds no segment and no manifest (bounded wait)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.spool_empty():
                return True
            time.sleep(0.5)
        return self.spool_empty()


def write_config(folder: Path, name: str, lake_env: dict[str, str],
                 upload_interval_s: float = UPLOAD_INTERVAL_S) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "fleet.cfg"
    config.write_text("[dashboard]\n" + "".join(f"{k} = {v}\n" for k, v in lake_env.items())
                      + f"HOST_NAME = {name}\nSPOOL_DIR = {folder / 'spool'}\n"
                      f"UPLOAD_INTERVAL_S = {upload_interval_s:g}\n", encoding="utf-8")
    return config


def start_host(folder: Path, name: str, lake_env: dict[str, str], *flags: str,
               upload_interval_s: float = UPLOAD_INTERVAL_S) -> Host:
    config = write_config(folder, name, lake_env, upload_interval_s)
    settings = load_config(config).lake
    assert settings is not None
    log = folder / "gunicorn.log"
    port = servers.free_port()
    argv = [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "--graceful-timeout",
            "30", *flags, "tests.fleet.fleet_app:app"]
    server = servers.start(argv, folder / "unused.duckdb", log, port,
                           {"FMD_FLEET_CONFIG": str(config)})
    return Host(name, config, settings, server, log)


def upload_children(parent_pids: set[int]) -> list[int]:
    """Pids of upload processes started by ``parent_pids`` (read from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid in parent_pids and b"fmd_profiler.fleet" in cmdline and b"upload" in cmdline:
            found.append(int(entry))
    return found
