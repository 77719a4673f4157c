"""Reading a Flask-MonitoringDashboard database: SQLite through the standard library, MySQL and
PostgreSQL through SQLAlchemy when it is installed.

:func:`open_source` returns an :class:`FmdSource` that knows which of FMD's tables exist (under
its ``TABLE_PREFIX``) and which columns each has, so the same queries read FMD 2.x to 5.1. No
message ever contains the database password.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fmd_profiler.errors import ProfilerError, redact_dsn


class MigrateError(ProfilerError):
    """The source database cannot be read; the message names the fix."""


class FmdSource:
    """One FMD database, read-only. ``query`` takes SQL with ``{Table}`` placeholders."""

    def __init__(self, identity: str, shown: str, prefix: str) -> None:
        self.identity = identity  # what the ledger remembers this source by
        self.shown = shown  # for messages: never a password
        self.prefix = prefix
        self._columns: dict[str, set[str]] = {}

    # -- to be provided by the two kinds of source --
    def _rows(self, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _table_names(self) -> list[str]:
        raise NotImplementedError

    def _column_names(self, table: str) -> list[str]:
        raise NotImplementedError

    def _quote(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def close(self) -> None:
        """Release the connection."""

    # -- shared --
    def load_catalog(self) -> None:
        names = {n for n in self._table_names() if n.startswith(self.prefix)}
        for name in sorted(names):
            self._columns[name[len(self.prefix):]] = {c.lower()
                                                      for c in self._column_names(name)}
        if "Request" not in self._columns or "Endpoint" not in self._columns:
            found = ", ".join(sorted(self._columns)) or "none"
            raise MigrateError(f"{self.shown} has no Flask-MonitoringDashboard tables "
                               f"{self.prefix}Endpoint and {self.prefix}Request (tables with "
                               f"that prefix: {found}); is it the right database, and is "
                               "TABLE_PREFIX right (give the FMD config with --config)?")

    def has(self, table: str, column: str | None = None) -> bool:
        columns = self._columns.get(table)
        return columns is not None and (column is None or column.lower() in columns)

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        text = re.sub(r"\{(\w+)\}", lambda m: self._quote(self.prefix + m.group(1)), sql)
        try:
            return self._rows(text, params or {})
        except MigrateError:
            raise
        except Exception as exc:
            raise MigrateError(f"reading {self.shown} failed: {_without(str(exc), self)}") \
                from None

    def count(self, table: str, after_id: int) -> int:
        found = self.query(f"SELECT count(*) FROM {{{table}}} WHERE id > :after",
                           {"after": after_id})
        return int(found[0][0]) if found else 0


class SqliteSource(FmdSource):
    def __init__(self, path: Path, prefix: str) -> None:
        super().__init__(f"sqlite:{path.resolve()}|{prefix}", f"sqlite:///{path}", prefix)
        if not path.is_file():
            raise MigrateError(f"{path} does not exist: give the SQLite file FMD wrote "
                               "(its DATABASE setting, e.g. sqlite:////var/lib/app/dashboard.db)")
        try:
            self._con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        except sqlite3.Error as exc:
            raise MigrateError(f"{path} is not a readable SQLite database ({exc})") from None
        try:
            self._con.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as exc:
            self._con.close()
            raise MigrateError(f"{path} is not a readable SQLite database ({exc})") from None

    def _rows(self, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        return self._con.execute(sql, dict(params)).fetchall()

    def _table_names(self) -> list[str]:
        return [r[0] for r in self._con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]

    def _column_names(self, table: str) -> list[str]:
        return [r[1] for r in self._con.execute(f"PRAGMA table_info({self._quote(table)})")]

    def close(self) -> None:
        self._con.close()


class SqlAlchemySource(FmdSource):
    def __init__(self, url: str, prefix: str) -> None:
        shown = redact_dsn(url)
        super().__init__(f"{shown}|{prefix}", shown, prefix)
        self._password = _password_of(url)
        try:
            import sqlalchemy
        except ImportError:
            raise MigrateError(f"reading {shown} needs SQLAlchemy and the database's driver: "
                               f"pip install sqlalchemy {_driver_hint(url)}") from None
        self._sa = sqlalchemy
        try:
            self._engine = sqlalchemy.create_engine(url)
            self._con = self._engine.connect()
        except ImportError as exc:
            raise MigrateError(f"reading {shown} needs its database driver ({exc.name} is not "
                               f"installed): pip install {_driver_hint(url)}") from None
        except Exception as exc:
            raise MigrateError(f"cannot connect to {shown}: {_without(str(exc), self)}") \
                from None

    def _rows(self, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self._con.execute(self._sa.text(sql), dict(params))]

    def _table_names(self) -> list[str]:
        return list(self._sa.inspect(self._engine).get_table_names())

    def _column_names(self, table: str) -> list[str]:
        return [c["name"] for c in self._sa.inspect(self._engine).get_columns(table)]

    def _quote(self, name: str) -> str:
        return str(self._engine.dialect.identifier_preparer.quote(name))

    def close(self) -> None:
        self._con.close()
        self._engine.dispose()


def open_source(url: str, prefix: str = "", base: Path | None = None) -> FmdSource:
    """The FMD database at ``url``: ``sqlite:///relative.db``, ``sqlite:////absolute.db``, a
    plain path, or any SQLAlchemy URL (``mysql+pymysql://…``, ``postgresql://…``)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        source: FmdSource = SqliteSource(Path(url).expanduser(), prefix)
    elif scheme.split("+")[0] == "sqlite":
        path = rest[1:] if rest.startswith("/") else ""
        if path in ("", ":memory:"):
            raise MigrateError(f"{url}: give the file, sqlite:///relative.db or "
                               "sqlite:////absolute/path.db")
        file = Path(path).expanduser()
        if not file.is_absolute() and base is not None:
            file = base / file
        source = SqliteSource(file, prefix)
    else:
        source = SqlAlchemySource(url, prefix)
    try:
        source.load_catalog()
    except BaseException:
        source.close()
        raise
    return source


_EPOCH = datetime(1970, 1, 1)


def epoch(value: Any) -> float | None:
    """FMD's naive UTC timestamps (datetime, or text from SQLite) as epoch seconds."""
    if value is None:
        return None
    if type(value) is str:
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, datetime):
        if value.tzinfo is None:  # the common case: a subtraction, no time zone lookup
            return (value - _EPOCH).total_seconds()
        return value.astimezone(UTC).timestamp()
    return None


def text(value: Any) -> str | None:
    if type(value) is str or value is None:  # the common case first: millions of calls
        return value  # type: ignore[no-any-return]
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def _password_of(url: str) -> str | None:
    found = re.match(r"^[A-Za-z0-9+.\-]+://[^/:@]*:([^/@]*)@", url)
    return found.group(1) if found and found.group(1) else None


def _without(message: str, source: FmdSource) -> str:
    password = getattr(source, "_password", None)
    line = message.splitlines()[0] if message else ""
    return line.replace(password, "***") if password else line


def _driver_hint(url: str) -> str:
    scheme = url.partition("://")[0].lower()
    if scheme.startswith("mysql"):
        return "pymysql (and write mysql+pymysql://…)"
    if scheme.startswith(("postgres", "postgresql")):
        return ("'psycopg[binary]' (the driver of postgresql:// in SQLAlchemy 2.1), or "
                "psycopg2-binary and write postgresql+psycopg2://…")
    return "the driver SQLAlchemy names for this URL"


def batches(source: FmdSource, sql: str, after_id: int, size: int,
            extra: Sequence[tuple[str, Any]] = ()) -> Iterator[list[tuple[Any, ...]]]:
    """Rows of ``sql`` (which selects ``id`` first and filters ``id > :after``, ordered by id,
    ``LIMIT :size``) in batches, resuming after the last id of each."""
    last = after_id
    while True:
        rows = source.query(sql, {"after": last, "size": size, **dict(extra)})
        if not rows:
            return
        yield rows
        last = int(rows[-1][0])
        if len(rows) < size:
            return
