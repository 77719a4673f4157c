"""The exceptions fmd_profiler raises on purpose.

Every error a user can cause derives from :class:`ProfilerError` and says what to do about it.
Errors never escape into a monitored request: the request hooks log them instead.
"""

from __future__ import annotations

import re

_DSN_PASSWORD = re.compile(r"\b((?:password|pwd)\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)([^@\s]+)(@)")


def one_line(exc: BaseException) -> str:
    """``Type: first line of the message``: how a log line or a child process names an error."""
    text = str(exc)
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def redact_dsn(text: str) -> str:
    """``text`` with every DSN or URL password (``password=``, ``pwd=``, ``user:pw@``) shown as
    ``***``: the one way a database address reaches a message, a log line or a page."""
    text = _DSN_PASSWORD.sub(r"\1***", text)
    return _URL_PASSWORD.sub(r"\1***\3", text)



#: How to install what fleet mode needs (psycopg, DuckDB pinned with its lake extensions); every
#: message about a missing or mismatched part ends with it.
FLEET_EXTRA = "pip install 'fmd_profiler[fleet]' (from a checkout: pip install '.[fleet]')"

class ProfilerError(Exception):
    """Base class of every error fmd_profiler raises on purpose."""


class ConfigError(ProfilerError):
    """A configuration value is missing, malformed or out of range.

    Carries the key, the offending value and the expected form so that callers (and tests) can
    tell exactly what was wrong.
    """

    def __init__(self, key: str, value: object, expected: str, source: str | None = None) -> None:
        self.key = key
        self.value = value
        self.expected = expected
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{key} = {value!r} is not valid: expected {expected}.")


class ConfigFileError(ProfilerError):
    """The configuration file itself cannot be used (missing, unreadable, not INI)."""


class StoreError(ProfilerError):
    """The DuckDB store or its spool folder cannot be used; the message says how to fix it."""


class SetupError(ProfilerError):
    """The profiler was wired into an application the wrong way."""
