"""The dashboard's session secret when neither ``SECRET_KEY`` nor ``app.secret_key`` is set.

A random key is made once and kept beside the store (``<DATABASE>.secret``, mode 0600), so every
worker process, and the next start, signs sessions with the same key. The first process to
create it wins: the key is written to a private temporary file and hard-linked into place, which
fails for everybody else, who read the winner's key; nobody ever sees a half-written file.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from fmd_profiler.errors import StoreError

KEY_BYTES = 48


def secret_path(database: Path) -> Path:
    return database.with_name(database.name + ".secret")


def shared_secret(path: Path) -> tuple[str, bool]:
    """The key kept at ``path`` and whether this call created it; raises StoreError."""
    try:
        try:
            return _read(path), False
        except FileNotFoundError:
            pass
        return _create(path)
    except OSError as exc:
        raise StoreError(f"cannot keep the dashboard's session secret in {path} ({exc}); set "
                         "SECRET_KEY in the config or make that folder writable") from None


def _create(path: Path) -> tuple[str, bool]:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    created = False
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_urlsafe(KEY_BYTES) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(temporary, path)  # exclusive: fails if another process was first
            created = True
        except FileExistsError:
            pass
    finally:
        os.unlink(temporary)
    return _read(path), created


def _read(path: Path) -> str:
    with open(path, encoding="ascii") as fh:
        key = fh.read().strip()
    if len(key) < 32:
        raise StoreError(f"the session secret in {path} is too short or empty; delete the file "
                         "and a new one is made (everybody signs in again)")
    return key
