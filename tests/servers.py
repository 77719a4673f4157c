"""Start real servers on 127.0.0.1 for tests and talk to them with bounded loops."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[str]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            raise


def start(argv: list[str], db: Path, log: Path, port: int, extra_env: dict[str, str] | None = None,
          timeout: float = 60) -> Server:
    env = {**os.environ, "FMD_TEST_DB": str(db), "PYTHONPATH": str(ROOT),
           **(extra_env or {})}
    env.pop("DASHBOARD_CONFIG", None)
    handle = open(log, "w")  # noqa: SIM115 - lives as long as the server
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=handle,
                               stderr=subprocess.STDOUT, text=True)
    handle.close()
    server = Server(process, port, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return server
        except OSError:
            time.sleep(0.1)
    server.stop(signal.SIGKILL)
    raise RuntimeError(f"server did not listen on {port} within {timeout} s:\n{log.read_text()}")


def gunicorn(db: Path, log: Path, *flags: str, level: int = 1) -> Server:
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "--graceful-timeout",
            "20", *flags, "tests.fixtures.served_app:app"]
    return start(argv, db, log, port, {"FMD_TEST_LEVEL": str(level)})


def waitress(db: Path, log: Path) -> Server:
    port = free_port()
    argv = [sys.executable, "-m", "waitress", "--listen", f"127.0.0.1:{port}", "--threads", "4",
            "tests.fixtures.served_app:app"]
    return start(argv, db, log, port)


@dataclass
class Load:
    """Responses seen by the clients: per worker pid, with the time each arrived."""

    by_pid: dict[int, list[float]] = field(default_factory=dict)
    failures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.by_pid.values())


def send(url: str, count: int, clients: int, *, seconds: float = 120, pace: float = 0.0,
         load: Load | None = None, path: str = "/work") -> Load:
    """Send ``count`` GET requests from ``clients`` threads (bounded by ``seconds``)."""
    load = load or Load()
    remaining = iter(range(count))
    deadline = time.monotonic() + seconds
    take = threading.Lock()

    def client() -> None:
        while time.monotonic() < deadline:
            with take:
                if next(remaining, None) is None:
                    return
            try:
                with urllib.request.urlopen(url + path, timeout=30) as response:
                    pid = json.loads(response.read())["pid"]
            except (OSError, http.client.HTTPException):
                # A worker killed mid-response (the SIGKILL test) cuts the body short:
                # http.client says IncompleteRead, which is not an OSError.
                with load.lock:
                    load.failures += 1
                continue
            with load.lock:
                load.by_pid.setdefault(pid, []).append(time.monotonic())
            if pace:
                time.sleep(pace)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 30)
    return load
