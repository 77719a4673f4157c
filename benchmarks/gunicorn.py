"""Start and stop a contender's app under gunicorn on 127.0.0.1 (throughput and accuracy runs)."""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from benchmarks.contenders import Contender, child_env, env_python


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


@contextlib.contextmanager
def serve(contender: Contender, root: Path, work: Path, folder: Path, *, workers: int,
          threads: int, env: dict[str, str] | None = None) -> Iterator[str]:
    """Run ``contender``'s demo app under gunicorn; yields its base URL; stops with SIGTERM.

    ``folder`` (emptied first) holds the contender's store and gunicorn's log; ``env`` is added
    to the server's environment.
    """
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    port = free_port()
    env = child_env(root) | (env or {}) | {"BENCH_CONTENDER": contender.name,
                                           "BENCH_WORKDIR": str(folder)}
    log_path = folder / "gunicorn.log"
    url = f"http://127.0.0.1:{port}"
    if contender.kind == "fmd":
        # Flask-MonitoringDashboard creates its tables when the app starts; two workers booting
        # on a new database race, one dies (table "User" already exists) and gunicorn stops.
        # Create them once first, as on any deployment after its first.
        subprocess.run([env_python(contender.env, work), "-c", "import benchmarks.served"],
                       cwd=root, env=env, capture_output=True, timeout=300, check=False)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [env_python(contender.env, work), "-m", "gunicorn", "-b", f"127.0.0.1:{port}",
             "-w", str(workers), "--threads", str(threads), "--graceful-timeout", "30",
             "--reuse-port",
             "benchmarks.served:app"], cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            if not wait_listening(port, process):
                raise RuntimeError("gunicorn did not start: " + log_path.read_text()[-300:])
            _MASTERS[url] = process.pid
            yield url
        finally:
            _MASTERS.pop(url, None)
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


_MASTERS: dict[str, int] = {}  # base URL -> gunicorn master pid, while it is served


def workers_cpu_s(url: str) -> float:
    """CPU seconds (every thread) the workers of the server at ``url`` have used.

    Per request, this is steadier than requests/s on a shared machine: time the machine gives to
    other tenants is not in it. Read from each thread's ``schedstat`` (the scheduler's run time
    in nanoseconds) rather than ``stat``'s utime + stime, which are sampled at clock ticks: at
    10 ms resolution, a 3-second run of a few thousand requests/s is ±5 us per request.
    """
    total_ns = 0
    for task in Path(f"/proc/{_MASTERS[url]}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                threads = list(Path(f"/proc/{child}/task").iterdir())
            except OSError:
                continue  # a worker that has just exited
            for thread in threads:
                try:
                    total_ns += int((thread / "schedstat").read_text().split()[0])
                except (OSError, IndexError, ValueError):
                    continue  # a thread that has just exited
    return total_ns / 1e9


def log_summary(folder: Path) -> str:
    """The lines of a server's log that say why it failed (errors and gunicorn's reason)."""
    try:
        lines = (folder / "gunicorn.log").read_text(errors="replace").splitlines()
    except OSError:
        return "no log"
    telling = [line.strip() for line in lines
               if "Error" in line or "Exception" in line or "Reason:" in line]
    return " / ".join(dict.fromkeys(telling[-3:])) or "nothing in its log"
