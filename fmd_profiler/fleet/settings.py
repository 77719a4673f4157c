"""Fleet mode's settings: where the catalog and the data live, and how to reach the object store.

Pure data and parsing, no DuckDB: :mod:`fmd_profiler.config` builds a :class:`LakeSettings` from
``DATABASE = ducklake:postgres:<libpq DSN>``, ``DATA_PATH``, the S3 keys (the standard
``AWS_*`` variables, or config keys of the same names) ``HOST_NAME`` and ``SPOOL_DIR``. Secrets
(the DSN's password, the S3 secret key) never appear in a ``repr``, a log line or an error:
:func:`redact_dsn` is the one way a DSN is shown.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from fmd_profiler.errors import redact_dsn

LAKE_PREFIX = "ducklake:postgres:"
#: The S3 keys, read from the config file first, then from the environment.
S3_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_ENDPOINT_URL")


class LakeSettingsError(ValueError):
    """A fleet-mode value that cannot be used; the message is the expected form (no secret)."""


@dataclass(frozen=True, repr=False)
class S3Settings:
    """How DuckDB's httpfs reaches an S3-compatible store (DuckDB ``CREATE SECRET`` fields)."""

    key_id: str | None
    secret: str | None
    region: str
    endpoint: str | None  # host:port, no scheme
    use_ssl: bool
    url_style: str  # 'vhost' for AWS, 'path' for a self-hosted endpoint

    def __repr__(self) -> str:
        return (f"S3Settings(key_id={'set' if self.key_id else None}, "
                f"secret={'set' if self.secret else None}, region={self.region!r}, "
                f"endpoint={self.endpoint!r}, use_ssl={self.use_ssl}, "
                f"url_style={self.url_style!r})")


@dataclass(frozen=True, repr=False)
class LakeSettings:
    """Everything a process needs to write to or read from the lake."""

    dsn: str  # libpq key=value DSN of the PostgreSQL catalog (may hold a password)
    data_path: str  # s3://bucket/prefix/ or a local/shared folder, ending in '/'
    host_name: str  # what this host's rows carry in their ``host`` column
    spool_dir: Path  # where this host's processes keep segments before upload
    s3: S3Settings | None  # None when DATA_PATH is a folder

    @property
    def safe_dsn(self) -> str:
        return redact_dsn(self.dsn)

    @property
    def is_s3(self) -> bool:
        return self.data_path.startswith("s3://")

    @property
    def bucket(self) -> str | None:
        return urlsplit(self.data_path).netloc if self.is_s3 else None

    def __repr__(self) -> str:
        return (f"LakeSettings(dsn={self.safe_dsn!r}, data_path={self.data_path!r}, "
                f"host_name={self.host_name!r}, spool_dir={str(self.spool_dir)!r}, "
                f"s3={self.s3!r})")


def parse_lake_dsn(key: str, text: str) -> str:
    """The libpq DSN of ``ducklake:postgres:<DSN>``; raises LakeSettingsError."""
    if not text.startswith(LAKE_PREFIX):
        raise LakeSettingsError(
            "fleet mode expects ducklake:postgres:<libpq DSN>, "
            "for example ducklake:postgres:host=db port=5432 dbname=fmd user=fmd password=...")
    dsn = text[len(LAKE_PREFIX):].strip()
    try:
        parts = shlex.split(dsn)
    except ValueError as exc:
        raise LakeSettingsError(f"a DSN that can be parsed "
                                f"({exc}): key=value pairs separated by spaces") from None
    if not parts or not all("=" in part for part in parts):
        raise LakeSettingsError(
            "the PostgreSQL catalog as libpq key=value "
            "pairs after ducklake:postgres:, e.g. host=db port=5432 dbname=fmd user=fmd")
    names = {part.split("=", 1)[0].strip().lower() for part in parts}
    if "dbname" not in names:
        raise LakeSettingsError("a DSN that names the catalog's database: add dbname=<name>")
    return dsn


def parse_data_path(key: str, text: str, base: Path) -> str:
    """``s3://bucket/prefix/`` or an absolute folder, always ending in ``/``."""
    text = text.strip()
    if "://" in text:
        parts = urlsplit(text)
        if parts.scheme != "s3" or not parts.netloc:
            raise LakeSettingsError(
                "s3://bucket/prefix/ or a folder path")
        return text if text.endswith("/") else text + "/"
    if not text:
        raise LakeSettingsError("s3://bucket/prefix/ (or a folder every host can reach)")
    path = Path(text).expanduser()
    path = path if path.is_absolute() else base / path
    return str(path).rstrip("/") + "/"


def s3_settings(values: Mapping[str, str | None]) -> S3Settings:
    """S3 settings from ``AWS_*`` values (config keys merged over the environment).

    An ``http://host:port`` endpoint means no TLS and path-style URLs (a self-hosted store);
    ``https://`` keeps TLS; no endpoint means AWS itself (virtual-host URLs).
    """
    endpoint = (values.get("AWS_ENDPOINT_URL") or "").strip() or None
    use_ssl, url_style = True, "vhost"
    if endpoint is not None:
        parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise LakeSettingsError(
                "for AWS_ENDPOINT_URL, http://host:port or https://host")
        use_ssl = parts.scheme == "https"
        url_style = "path"
        endpoint = parts.netloc
    return S3Settings(
        key_id=(values.get("AWS_ACCESS_KEY_ID") or None),
        secret=(values.get("AWS_SECRET_ACCESS_KEY") or None),
        region=(values.get("AWS_REGION") or "us-east-1"),
        endpoint=endpoint, use_ssl=use_ssl, url_style=url_style)
