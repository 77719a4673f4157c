"""The lake's files as a host and the committer see them: Parquet under DATA_PATH, no catalog.

:class:`DataPath` writes a table's decoded segment rows as one Parquet file under a key relative
to DATA_PATH (an S3 PUT is atomic; a folder gets a temporary name and a rename, so a listing
never shows half a file), tells whether a key exists, lists files with their size and time, and
reads and writes the small control file ``control/levels.json``. Errors become
:class:`StoreError` messages that name the fix and never carry a key or a password.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from fmd_profiler.errors import StoreError
from fmd_profiler.fleet.settings import LakeSettings, redact_dsn
from fmd_profiler.schema import Table
from fmd_profiler.store.database import register_columns, select_sql
from fmd_profiler.store.lake import PARQUET_COMPRESSION, connect_storage

#: The control file the committer publishes and every host fetches.
LEVELS_KEY = "control/levels.json"
#: A store that does not answer fails a cycle fast; the next cycle tries again.
HTTP_TIMEOUT_S = 20
HTTP_RETRIES = 1


@dataclass(frozen=True)
class StoredFile:
    """A file under DATA_PATH: its key (relative to DATA_PATH), bytes and time (epoch s)."""

    key: str
    size: int
    modified: float


class DataPath:
    """DATA_PATH through one DuckDB connection; use as a context manager."""

    def __init__(self, settings: LakeSettings) -> None:
        self.settings = settings
        self._con = connect_storage(settings)
        if settings.is_s3:  # settings of the httpfs extension, loaded for S3 only
            self._con.execute(f"SET http_timeout = {HTTP_TIMEOUT_S}")
            self._con.execute(f"SET http_retries = {HTTP_RETRIES}")

    def __enter__(self) -> DataPath:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._con.close()

    def url(self, key: str) -> str:
        return self.settings.data_path + key

    # -- files ---------------------------------------------------------------------------------

    def exists(self, key: str) -> bool:
        if not self.settings.is_s3:
            return Path(self.url(key)).is_file()
        # glob() of a name without a wildcard returns the name unchecked: list by prefix.
        found = self._query("look for", key, "SELECT file FROM glob($p)",
                            {"p": _glob_escape(self.url(key)) + "*"})
        return any(row[0] == self.url(key) for row in found)

    def write_parquet(self, key: str, table: Table, columns: dict[str, object]) -> None:
        """Write decoded segment ``columns`` of ``table`` as one Parquet file at ``key``."""
        target = self.url(key)
        temp = None
        if not self.settings.is_s3:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            temp = str(Path(target).with_name(f".{Path(target).name}.{os.getpid()}.tmp"))
        register_columns(self._con, "fmd_upload", columns)  # type: ignore[arg-type]
        try:
            self._run("write", key,
                      f"COPY (SELECT {select_sql(table)} FROM fmd_upload) TO "
                      f"'{_sql_str(temp or target)}' (FORMAT parquet, "
                      f"COMPRESSION {PARQUET_COMPRESSION})")
            if temp is not None:
                os.replace(temp, target)
        finally:
            if temp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
            with contextlib.suppress(duckdb.Error):
                self._con.unregister("fmd_upload")

    def list_files(self, prefix: str, pattern: str = "**/*.parquet") -> list[StoredFile]:
        """Files under ``prefix`` matching ``pattern``, in key order."""
        base = self.settings.data_path
        if not self.settings.is_s3 and not Path(base + prefix).is_dir():
            return []
        rows = self._query("list", prefix,
                           "SELECT filename, size, epoch(last_modified) FROM read_blob($p) "
                           "ORDER BY filename", {"p": _glob_escape(base + prefix) + pattern})
        files = []
        for name, size, modified in rows:
            name = str(name)
            if not self.settings.is_s3:
                name = str(Path(name))  # a folder's listing may not repeat DATA_PATH's form
            key = name[len(base):] if name.startswith(base) else name
            if not Path(key).name.startswith("."):  # a folder's files being written
                files.append(StoredFile(key, int(size), float(modified)))
        return files

    def parquet_rows(self, keys: list[str]) -> dict[str, int]:
        """Rows in each Parquet file (read from the footers)."""
        if not keys:
            return {}
        urls = {self.url(k): k for k in keys}
        rows = self._query("read", keys[0],
                           "SELECT file_name, num_rows FROM parquet_file_metadata($p)",
                           {"p": list(urls)})
        return {urls.get(str(name), str(name)): int(n) for name, n in rows}

    # -- the levels control file ----------------------------------------------------------------

    def read_levels(self) -> dict[str, int] | None:
        """The published monitoring levels; None when none were published yet."""
        if not self.exists(LEVELS_KEY):
            return None
        found = self._query("read", LEVELS_KEY, "SELECT content FROM read_text($p)",
                            {"p": self.url(LEVELS_KEY)})
        try:
            levels = (json.loads(found[0][0]).get("levels") or {}) if found else {}
        except (ValueError, AttributeError):
            return None  # damaged: keep what the hosts have
        return {str(k): int(v) for k, v in levels.items()
                if isinstance(v, int) and 0 <= v <= 3}

    def write_levels(self, rows: list[tuple[str, int]]) -> None:
        """Publish ``(endpoint, level)`` rows as ``control/levels.json`` (one JSON object)."""
        target = self.url(LEVELS_KEY)
        temp = None
        if not self.settings.is_s3:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            temp = target + f".{os.getpid()}.tmp"
        try:
            self._run("write", LEVELS_KEY,
                      "COPY (SELECT json_group_object(endpoint, level) AS levels FROM "
                      "(SELECT unnest($e) AS endpoint, unnest($l) AS level)) "
                      f"TO '{_sql_str(temp or target)}' (FORMAT json)",
                      {"e": [r[0] for r in rows], "l": [int(r[1]) for r in rows]})
            if temp is not None:
                os.replace(temp, target)
        finally:
            if temp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temp)

    # -- errors ----------------------------------------------------------------------------------

    def _query(self, verb: str, key: str, sql: str,
               params: dict[str, object]) -> list[tuple[Any, ...]]:
        try:
            return self._con.execute(sql, params).fetchall()
        except duckdb.Error as exc:
            raise StoreError(self._explain(verb, key, exc)) from None

    def _run(self, verb: str, key: str, sql: str, params: dict[str, object] | None = None) -> None:
        try:
            self._con.execute(sql, params or {})
        except duckdb.Error as exc:
            raise StoreError(self._explain(verb, key, exc)) from None

    def _explain(self, verb: str, key: str, exc: duckdb.Error) -> str:
        text = _first_line(exc)
        s3 = self.settings.s3
        if s3 is not None and s3.secret:
            text = text.replace(s3.secret, "***")
        text = redact_dsn(text)
        where = f"{self.settings.data_path}{key}"
        if not self.settings.is_s3:
            return f"cannot {verb} {where} ({text}); check that DATA_PATH is a folder this " \
                   "process can write"
        bucket = self.settings.bucket
        endpoint = (s3.endpoint if s3 and s3.endpoint else "AWS S3")
        if re.search(r"could not connect|connection refused|timed? ?out|resolve host",
                     text, re.IGNORECASE):
            return (f"cannot reach the object store at {endpoint} to {verb} {where} ({text}); "
                    "check AWS_ENDPOINT_URL and that the store is up - the host keeps its "
                    "segments meanwhile")
        if "NoSuchBucket" in text or self._bucket_missing():
            return (f"the bucket {bucket!r} does not exist at {endpoint}: create it (for "
                    f"example `aws s3 mb s3://{bucket}`, or in your store's console) or fix "
                    "DATA_PATH")
        if re.search(r"\b403\b|Forbidden|AccessDenied|InvalidAccessKeyId|SignatureDoesNotMatch",
                     text):
            return (f"the object store at {endpoint} refused to {verb} {where} ({text}); "
                    "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY and that they may "
                    f"read and write the bucket {bucket!r}")
        return f"cannot {verb} {where} ({text}); check DATA_PATH and the AWS_* settings"

    def _bucket_missing(self) -> bool:
        """Some stores answer a write into a missing bucket with 403; listing it says 404."""
        try:
            self._con.execute("SELECT file FROM glob($p) LIMIT 1",
                              {"p": f"s3://{self.settings.bucket}/*"}).fetchall()
        except duckdb.Error as exc:
            return "NoSuchBucket" in str(exc) or "404" in str(exc)
        return False


def _glob_escape(text: str) -> str:
    """``text`` with glob's special characters bracketed, so a literal prefix stays literal."""
    return re.sub(r"([*?\[\]])", r"[\1]", text)


def _first_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    text = " ".join(lines[:2]) if lines else type(exc).__name__
    return text.replace("\n", " ")


def _sql_str(value: object) -> str:
    return str(value).replace("'", "''")
