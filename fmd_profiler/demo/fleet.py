"""``python -m fmd_profiler.demo.fleet`` (``make fleet-demo``): three hosts, one lake, one report.

Starts a PostgreSQL catalog and a SeaweedFS S3 store on 127.0.0.1 (:mod:`.services`), runs
three hosts of the demo app as separate gunicorn servers (each with its own ``HOST_NAME`` and
``SPOOL_DIR``; one runs the slower release 1.1 as a canary) under bounded traffic while a
committer runs beside them, stops the hosts gracefully (each uploads what it holds), pushes any
leftovers by hand, commits, shows the fleet's status and writes the report from the lake to
``--out``, printing the path of its ``index.html``, and how many requests the lake holds against
how many the hosts served. The services stop at the end, always.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from fmd_profiler.demo.services import ServiceError, free_port, postgres, seaweedfs
from fmd_profiler.demo.traffic import drive

#: (HOST_NAME, release of the demo app it runs)
HOSTS = (("host-a", "1.1"), ("host-b", "1.2"), ("host-c", "1.2"))
BUCKET = "fmd-demo"
#: How often the demo's hosts upload and its committer commits (short, so the demo shows both).
UPLOAD_INTERVAL_S = 5
COMMIT_EVERY_S = 5
#: How long the demo waits, after the traffic, for the committer's first registration.
COMMITTER_WAIT_S = 90.0
#: A graceful stop uploads within this bound (the uploader's own bound plus gunicorn's).
STOP_TIMEOUT_S = 90.0
GUNICORN_CONF = (
    "from fmd_profiler import worker_exit  # noqa: F401 - the flush-and-upload hook\n"
    "# Three masters on one machine would share the default control socket of newer\n"
    "# gunicorn releases (older ones ignore an unknown name in this file).\n"
    "control_socket_disable = True\n")


@dataclass(frozen=True)
class Host:
    name: str
    release: str
    config: Path
    url: str


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fmd_profiler.demo.fleet",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="reports/fleet-demo",
                        help="report folder (default %(default)s)")
    parser.add_argument("--requests", type=int, default=1500,
                        help="requests in total, shared by the three hosts (default %(default)s)")
    parser.add_argument("--seconds", type=float, default=120.0,
                        help="time limit for all traffic (default %(default)s)")
    args = parser.parse_args(argv)
    if args.requests < len(HOSTS) or args.seconds <= 0:
        parser.error(f"--requests must be at least {len(HOSTS)} and --seconds above 0")
    out = Path(args.out).resolve()
    data = out.parent / f".{out.name}-data"
    shutil.rmtree(data, ignore_errors=True)
    (data / "postgres").mkdir(parents=True)
    _say("starting PostgreSQL (the catalog) and SeaweedFS (the object store) on 127.0.0.1")
    with postgres(data / "postgres") as pg, seaweedfs(data / "seaweedfs") as s3:
        s3.create_bucket(BUCKET)
        lake = {"DATABASE": f"ducklake:postgres:{pg.create_database('fmd')}",
                "DATA_PATH": f"s3://{BUCKET}/lake/",
                # SeaweedFS without an identity file accepts any key; a real store checks them.
                "AWS_ACCESS_KEY_ID": "fmd-demo", "AWS_SECRET_ACCESS_KEY": "fmd-demo-secret",
                "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": s3.endpoint_url}
        ops = write_config(data / "ops" / "config.cfg", lake, HOST_NAME="ops")
        served = run_hosts(data, lake, ops, requests=args.requests, seconds=args.seconds)
        for name, count in served.items():
            _say(f"{name}: {count} requests served")
        for name, _ in HOSTS:  # a sidecar or cron would do this; after a graceful stop it
            fleet("upload", data / "hosts" / name / "config.cfg")  # finds nothing left
        fleet("commit", ops)
        fleet("status", ops)
        _say("writing the report from the lake")
        summary = data / "summary.json"
        status = _report(ops, out, summary)
    if status == 0:
        stored = sum(e["hits"] for e in json.loads(summary.read_text())["endpoints"])
        # Every process stopped gracefully, so every request it served is in the lake.
        _say(f"the lake holds {stored} requests; the hosts served {sum(served.values())}")
    return status


def run_hosts(data: Path, lake: dict[str, str], ops: Path, *, requests: int,
              seconds: float) -> dict[str, int]:
    """Serve the hosts under traffic with a committer running; stop them all gracefully."""
    conf = data / "gunicorn.conf.py"
    conf.write_text(GUNICORN_CONF)
    with contextlib.ExitStack() as stack:
        hosts = []
        for name, release in HOSTS:
            folder = data / "hosts" / name
            config = write_config(folder / "config.cfg", lake, HOST_NAME=name,
                                  SPOOL_DIR=str(folder / "spool"), APP_VERSION=release,
                                  MONITOR_LEVEL="3", UPLOAD_INTERVAL_S=str(UPLOAD_INTERVAL_S))
            url = stack.enter_context(gunicorn_host(config, conf, release, folder / "gunicorn.log"))
            hosts.append(Host(name, release, config, url))
            _say(f"{name} (release {release}) serves {url}")
        log = data / "committer.log"
        committer = stack.enter_context(background_committer(ops, log))
        _say(f"committer running (every {COMMIT_EVERY_S} s, pid {committer})")
        served = send_traffic(hosts, requests=requests, seconds=seconds)
        # Show the pipeline at work before stopping it: uploads every few seconds, commits.
        committed = _first_commit(log, timeout_s=COMMITTER_WAIT_S)
        _say(f"committer: {committed}" if committed else
             f"the committer has not committed within {COMMITTER_WAIT_S:.0f} s; see {log}")
        _say("stopping the hosts (SIGTERM: each flushes and uploads what it holds)")
    return served


def send_traffic(hosts: list[Host], *, requests: int, seconds: float) -> dict[str, int]:
    """Bounded traffic to every host at once, from one thread per host."""
    served: dict[str, int] = {}
    share = requests // len(hosts)

    def one(index: int, host: Host) -> None:
        served[host.name] = drive(host.url, requests=share, seconds=seconds,
                                  seed=index + 1).sent

    threads = [threading.Thread(target=one, args=(i, h), daemon=True)
               for i, h in enumerate(hosts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 60)
    return served


@contextlib.contextmanager
def gunicorn_host(config: Path, conf: Path, release: str, log: Path) -> Iterator[str]:
    """One host: gunicorn (2 workers, 2 threads each) on a free 127.0.0.1 port."""
    port = free_port()
    env = {**os.environ, "DASHBOARD_CONFIG": str(config), "FMD_DEMO_RELEASE": release}
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(conf), "-b", f"127.0.0.1:{port}",
             "-w", "2", "--threads", "2", "--graceful-timeout", "60",
             "fmd_profiler.demo.fleet_host:app"],
            env=env, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        _wait_listening(port, process, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(process, signal.SIGTERM)


@contextlib.contextmanager
def background_committer(config: Path, log: Path) -> Iterator[int]:
    """``fleet commit --every`` as a deployment runs it, stopped with SIGTERM afterwards."""
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "fmd_profiler.fleet", "commit", "--config", str(config),
             "--every", str(COMMIT_EVERY_S)],
            stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        yield process.pid
    finally:
        _stop(process, signal.SIGTERM)
        if process.returncode not in (0, -signal.SIGTERM):
            _say(f"the committer ended with status {process.returncode}; see {log}")


def _first_commit(log: Path, *, timeout_s: float) -> str | None:
    """The committer's first line that registered files, waiting up to ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(OSError):
            for line in log.read_text(errors="replace").splitlines():
                if line.startswith("committed ") and not line.startswith("committed 0 "):
                    return line
        if time.monotonic() >= deadline:
            return None
        time.sleep(1.0)


def fleet(command: str, config: Path) -> None:
    """``python -m fmd_profiler.fleet COMMAND --config CONFIG``; its output goes to stderr."""
    _say(f"python -m fmd_profiler.fleet {command} --config {config}")
    done = subprocess.run([sys.executable, "-m", "fmd_profiler.fleet", command, "--config",
                           str(config)], stdout=sys.stderr, stderr=sys.stderr,
                          stdin=subprocess.DEVNULL, check=False, timeout=600)
    if done.returncode != 0:
        raise DemoError(f"fleet {command} failed with status {done.returncode} (see above)")


def write_config(path: Path, lake: dict[str, str], **keys: str) -> Path:
    """A ``[dashboard]`` config file with the lake's keys and ``keys``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["[dashboard]", *(f"{k} = {v}" for k, v in {**lake, **keys}.items())]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)  # it holds the S3 secret
    return path


class DemoError(RuntimeError):
    """A step of the demo failed; the message says which."""


def _report(config: Path, out: Path, summary: Path) -> int:
    from fmd_profiler.report.report_cli import main as report_main

    return report_main(["--config", str(config), "--out", str(out), "--json", str(summary)])


def _wait_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    import socket

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DemoError(f"gunicorn exited with status {process.returncode}; see {log}")
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise DemoError(f"gunicorn did not listen on 127.0.0.1:{port} within 60 s; see {log}")


def _stop(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    if process.poll() is None:
        process.send_signal(sig)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _say(message: str) -> None:
    print(f"[fleet-demo] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (DemoError, ServiceError) as exc:
        print(f"fleet-demo: {exc}", file=sys.stderr)
        sys.exit(1)
