"""Per-process metrics files in the store's folder, and the reader that merges them.

Each process writes its cumulative :class:`~fmd_profiler.metrics.counters.Totals` to
``<database>.spool/metrics/p-<host>-<pid>-<token>.json`` (temp name + ``os.replace``), from its
writer thread. A scrape, in whichever worker gunicorn hands it to, reads every file and adds
them up. A file whose process is gone (same host, pid not running or running a newer process)
is folded into ``archive.json`` and deleted under an ``flock``, so counters never go backwards
when a worker is replaced and the folder does not fill with dead workers' files - the known
pain of prometheus_client's multiprocess mode, where dead files are kept for ever.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from fmd_profiler.metrics.counters import Totals
from fmd_profiler.store.control import write_atomic

log = logging.getLogger("fmd_profiler")

ARCHIVE = "archive.json"
LOCK = ".lock"
PREFIX = "p-"


def metrics_dir(spool_dir: Path) -> Path:
    return spool_dir / "metrics"


def process_start_ticks(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot, Linux), so a reused pid is told apart."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            stat = fh.read()
    except OSError:
        return None
    try:  # the command name in parentheses may itself hold spaces and parentheses
        return int(stat[stat.rindex(")") + 2:].split()[19])
    except (ValueError, IndexError):
        return None


def process_alive(pid: int, started: int | None) -> bool:
    """Whether the process that wrote a file (``pid`` started at ``started``) still runs."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    if started is None:
        return True
    now = process_start_ticks(pid)
    return now is None or now == started


@dataclass(frozen=True)
class ProcessIdentity:
    host: str
    pid: int
    started: int | None
    token: str

    @classmethod
    def current(cls) -> ProcessIdentity:
        pid = os.getpid()
        return cls(socket.gethostname(), pid, process_start_ticks(pid), secrets.token_hex(4))

    @property
    def file_name(self) -> str:
        host = "".join(c if c.isalnum() or c in "._" else "_" for c in self.host)[:64]
        return f"{PREFIX}{host}-{self.pid}-{self.token}.json"


class ProcessFile:
    """This process's file; :meth:`write` is called by the writer thread only."""

    def __init__(self, folder: Path, identity: ProcessIdentity | None = None) -> None:
        self.folder = folder
        self.identity = identity or ProcessIdentity.current()
        self.path = folder / self.identity.file_name

    def write(self, totals: Totals) -> None:
        ident = self.identity
        document = {"host": ident.host, "pid": ident.pid, "started": ident.started,
                    **totals.to_json()}
        write_atomic(self.path, json.dumps(document, separators=(",", ":")).encode())


@dataclass(frozen=True)
class Snapshot:
    """Every process's totals added up, and how many processes are running."""

    totals: Totals
    processes: int


Alive = Callable[[int, "int | None"], bool]


def read_merged(folder: Path, *, alive: Alive = process_alive,
                host: str | None = None) -> Snapshot:
    """Add up the archive and every process file; fold the files of dead processes of this
    host into the archive first (under an exclusive lock, so two scrapes never fold twice)."""
    host = socket.gethostname() if host is None else host
    total = Totals()
    running = 0
    if not folder.is_dir():
        return Snapshot(total, 0)
    with _locked(folder):
        archive = _load(folder / ARCHIVE) or {}
        archived = Totals.from_json(archive)
        # Files already added to the archive whose deletion did not happen (a crash between
        # the two steps): counted once, deleted now.
        folded = {str(name) for name in archive.get("folded", [])}  # type: ignore[attr-defined]
        dead: list[Path] = []
        for path in sorted(folder.glob(f"{PREFIX}*.json")):
            if path.name in folded:
                dead.append(path)
                continue
            document = _load(path)
            if document is None:
                continue
            totals = Totals.from_json(document)
            if document.get("host") == host and not alive(int(document["pid"]),  # type: ignore[call-overload]
                                                           document.get("started")):  # type: ignore[arg-type]
                archived.merge(totals)
                folded.add(path.name)
                dead.append(path)
            else:
                total.merge(totals)
                running += 1
        if dead:
            # The archive names the files it now holds before they are deleted, and forgets
            # the names once they are gone: a crash in between never counts a file twice.
            write_atomic(folder / ARCHIVE, json.dumps(
                {**archived.to_json(), "folded": sorted(folded)}).encode())
            for path in dead:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            write_atomic(folder / ARCHIVE, json.dumps(archived.to_json()).encode())
        total.merge(archived)
    return Snapshot(total, running)


def _load(path: Path) -> dict[str, object] | None:
    try:
        with open(path, encoding="utf-8") as fh:
            document = json.load(fh)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("fmd_profiler: skipping unreadable metrics file %s (%s)", path, exc)
        return None
    return document if isinstance(document, dict) else None


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
