"""What an outlier keeps of its request: method, URL, query arguments and headers, secrets removed.

A header or argument whose *name* matches a secret pattern (Authorization, Cookie, Set-Cookie,
anything with token/secret/password/key/session/csrf/auth in it, plus ``REDACT_PATTERNS``) keeps
its name and loses its value. ``REDACT_PATTERNS`` are also searched in every kept value and in the
URL path, and what matches is replaced, so a pattern such as ``\\d{16}`` removes card numbers
wherever they appear. Bodies are never read. Everything is capped in count and length.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

REDACTED = "[redacted]"

#: Names whose values are always secret (searched case-insensitively in the name).
SECRET_NAMES = (r"authorization", r"cookie", r"token", r"secret", r"passw", r"api[-_]?key",
                r"session", r"csrf", r"xsrf", r"signature", r"credential", r"auth")

MAX_ITEMS = 100
MAX_VALUE = 1024
MAX_URL = 2048


@dataclass(frozen=True)
class RequestSnapshot:
    """The redacted request data stored with an outlier (args and headers as JSON objects)."""

    method: str | None
    url: str
    args: str
    headers: str


class Redactor:
    """Removes secrets from names/values using the built-in and the configured patterns."""

    def __init__(self, patterns: Iterable[str] = ()) -> None:
        configured = tuple(patterns)
        self._secret_name = re.compile("|".join(f"(?:{p})" for p in (*SECRET_NAMES, *configured)),
                                       re.IGNORECASE)
        self._secret_value = (re.compile("|".join(f"(?:{p})" for p in configured))
                              if configured else None)

    def value(self, name: str, value: str) -> str:
        """``value`` as it may be stored under ``name``."""
        if self._secret_name.search(name):
            return REDACTED
        return self.text(value)

    def text(self, value: str) -> str:
        """``value`` with every match of a configured pattern replaced, then capped."""
        if self._secret_value is not None:
            value = self._secret_value.sub(REDACTED, value)
        return _cap(value, MAX_VALUE)

    def pairs(self, items: Iterable[tuple[str, str]]) -> dict[str, Any]:
        """Name -> value (or list of values for repeated names), redacted and capped."""
        out: dict[str, Any] = {}
        for count, (name, value) in enumerate(items):
            if count >= MAX_ITEMS:
                out["..."] = "more items not kept"
                break
            name = _cap(name, 128)
            kept = self.value(name, value)
            if name in out:
                previous = out[name]
                out[name] = [*previous, kept] if isinstance(previous, list) else [previous, kept]
            else:
                out[name] = kept
        return out


def snapshot(environ: Mapping[str, Any], redactor: Redactor) -> RequestSnapshot:
    """The redacted :class:`RequestSnapshot` of a WSGI ``environ`` (read, never modified)."""
    query = _latin1_to_text(environ.get("QUERY_STRING") or "")
    pairs = parse_qsl(query, keep_blank_values=True)
    args = redactor.pairs(pairs)
    path = _latin1_to_text((environ.get("SCRIPT_NAME") or "") + (environ.get("PATH_INFO") or ""))
    url = quote(redactor.text(path), safe="/:@!$&'()*+,;=-._~%[]")
    if pairs:
        kept = [(n, redactor.value(n, v)) for n, v in pairs[:MAX_ITEMS]]
        url += "?" + urlencode(kept, safe="[]")
    return RequestSnapshot(
        method=environ.get("REQUEST_METHOD"),
        url=_cap(url, MAX_URL),
        args=json.dumps(args, ensure_ascii=False, sort_keys=True),
        headers=json.dumps(redactor.pairs(_headers(environ)), ensure_ascii=False,
                           sort_keys=True),
    )


def _headers(environ: Mapping[str, Any]) -> list[tuple[str, str]]:
    headers = []
    for key, value in environ.items():
        if not isinstance(value, str):
            continue
        if key.startswith("HTTP_"):
            name = key[5:]
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            name = key
        else:
            continue
        headers.append(("-".join(p.capitalize() for p in name.split("_")),
                        _latin1_to_text(value)))
    headers.sort()
    return headers


def _latin1_to_text(value: str) -> str:
    """WSGI strings are bytes decoded as latin-1; most clients sent UTF-8."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def _cap(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"
