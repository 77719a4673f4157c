"""``fleet status``: which hosts upload, what waits for the committer, and how far behind it is.

Reads the uploaded files (``incoming/``) and the ledger through a read-only catalog connection;
it changes nothing, so it is safe to run at any time. The lag is the age of the oldest file
uploaded and not yet committed (0 when nothing waits).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from fmd_profiler.fleet.commit import list_uploads
from fmd_profiler.fleet.settings import LakeSettings
from fmd_profiler.store.lake_catalog import Catalog
from fmd_profiler.store.lake_files import DataPath


def fleet_status(settings: LakeSettings, *, now: float | None = None) -> dict[str, object]:
    """The status as plain data (what ``--json`` writes)."""
    now = time.time() if now is None else now
    with DataPath(settings) as data, Catalog(settings, read_only=True) as catalog:
        uploads = list_uploads(data)
        committed = catalog.committed([f.key for f in uploads])
        ledger = {h.host: h for h in catalog.ledger_by_host()}
    waiting = [f for f in uploads if f.key not in committed]
    hosts: dict[str, dict[str, object]] = {}
    for name in sorted({f.host for f in uploads} | set(ledger)):
        own = [f for f in uploads if f.host == name]
        entry = ledger.get(name)
        hosts[name] = {
            "host": name,
            "last_upload": _iso(max(f.modified for f in own)) if own else None,
            "files_waiting": sum(1 for f in waiting if f.host == name),
            "files_committed": entry.files if entry else 0,
            "rows_committed": entry.rows if entry else 0,
            "last_committed": entry.last_committed if entry else None,
        }
    oldest = min((f.modified for f in waiting), default=None)
    return {
        "data_path": settings.data_path,
        "hosts": list(hosts.values()),
        "files_waiting": len(waiting),
        "bytes_waiting": sum(f.size for f in waiting),
        "lag_s": round(max(0.0, now - oldest), 1) if oldest is not None else 0.0,
        "checked_at": _iso(now),
    }


def format_status(status: dict[str, object]) -> str:
    lines = [f"lake data: {status['data_path']}",
             f"files waiting for the committer: {status['files_waiting']} "
             f"({status['bytes_waiting']} bytes); lag {status['lag_s']} s"]
    hosts = status["hosts"]
    assert isinstance(hosts, list)
    if not hosts:
        lines.append("no host has uploaded yet")
    for h in hosts:
        lines.append(f"  {h['host']}: last upload {h['last_upload'] or '-'}, "
                     f"{h['files_waiting']} waiting, {h['files_committed']} committed "
                     f"({h['rows_committed']} rows, last {h['last_committed'] or '-'})")
    return "\n".join(lines)


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
