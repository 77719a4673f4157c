"""What an outlier keeps of its request: method, URL, query arguments and headers, secrets removed.

A header or argument whose *name* is secret keeps its name and loses its value: a name is split
into words (on ``-``, ``_``, ``.`` and case changes) and is secret when a word is one of
:data:`SECRET_WORDS` (``key``, ``pwd``, ``sig``, ...) or contains one of :data:`SECRET_STEMS`
(``token``, ``secret``, ``passw``, ...), or when it matches a ``REDACT_PATTERNS`` entry.
Inside every kept value, ``name=value`` pairs with a secret name lose their value too (a
``Referer`` carrying ``?access_token=...``, a path with ``;jsessionid=...``), and
``REDACT_PATTERNS`` matches are replaced. The URL is the matched rule
(``/reset-password/<token>``), never the raw path, whose converter values may be secrets; only an
unmatched path is kept, redacted. Bodies are never read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

REDACTED = "[redacted]"

#: A name is secret when one of its words contains one of these (``access_token``, ``apikey``).
SECRET_STEMS = ("authoriz", "cookie", "token", "secret", "passw", "apikey", "session", "csrf",
                "xsrf", "signature", "credential", "auth", "private", "jwt", "bearer")
#: ... or when one of its words is one of these (too short to search inside other words).
SECRET_WORDS = frozenset({"key", "pwd", "pass", "pw", "code", "sig", "sid", "dpop", "otp",
                          "pin", "ssn", "nonce", "saml", "ticket", "sas"})

#: Splits a name into words: separators, a lower-case letter followed by an upper-case one, and
#: the end of an upper-case run before a capitalised word (``accessKEYId``: access, KEY, Id).
_WORD_BREAK = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
#: ``name=value`` inside any text (query strings, URLs in headers, ``;jsessionid=`` in paths).
#: A name starts only where no name character precedes it: without the look-behind every
#: position of a long run of name characters would be tried again (quadratic time).
_PAIR = re.compile(r"(?<![A-Za-z0-9_.\-\[\]])([A-Za-z0-9_.\-\[\]]+)=([^&#;\s,\"'<>]*)")

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
        self._configured = (re.compile("|".join(f"(?:{p})" for p in configured), re.IGNORECASE)
                            if configured else None)
        self._secret_value = (re.compile("|".join(f"(?:{p})" for p in configured))
                              if configured else None)

    def is_secret_name(self, name: str) -> bool:
        """True when ``name`` (a header, argument or cookie name) holds a secret."""
        for word in _WORD_BREAK.split(name):
            word = word.lower()
            if word in SECRET_WORDS or any(stem in word for stem in SECRET_STEMS):
                return True
        return bool(self._configured is not None and self._configured.search(name))

    def value(self, name: str, value: str) -> str:
        """``value`` as it may be stored under ``name``."""
        if self.is_secret_name(name):
            return REDACTED
        return self.text(value)

    def text(self, value: str) -> str:
        """``value`` with secret ``name=value`` pairs and configured patterns removed, capped."""
        # capped first as well: what is cut off is not stored, so it needs no searching
        value = _PAIR.sub(self._pair, _cap(value, MAX_VALUE))
        if self._secret_value is not None:
            value = self._secret_value.sub(REDACTED, value)
        return _cap(value, MAX_VALUE)

    def _pair(self, match: re.Match[str]) -> str:
        name = match.group(1)
        return f"{name}={REDACTED}" if self.is_secret_name(name) else match.group(0)

    def pairs(self, items: Iterable[tuple[str, str]]) -> dict[str, Any]:
        """Name -> value (or list of values for repeated names), redacted and capped."""
        out: dict[str, Any] = {}
        for count, (name, value) in enumerate(items):
            if count >= MAX_ITEMS:
                out["..."] = "more items not kept"
                break
            kept = self.value(name, value)  # the whole name: a cut one may lose "token"
            name = _cap(name, 128)
            if name in out:
                previous = out[name]
                out[name] = [*previous, kept] if isinstance(previous, list) else [previous, kept]
            else:
                out[name] = kept
        return out


def snapshot(environ: Mapping[str, Any], redactor: Redactor,
             rule: str | None = None) -> RequestSnapshot:
    """The redacted :class:`RequestSnapshot` of a WSGI ``environ`` (read, never modified).

    ``rule`` is the URL rule the request matched: stored instead of the path, because a
    converter's value (``/reset-password/<token>``) may be a secret.
    """
    query = _latin1_to_text(environ.get("QUERY_STRING") or "")
    pairs = parse_qsl(query, keep_blank_values=True)
    args = redactor.pairs(pairs)
    if rule is not None:
        path = (environ.get("SCRIPT_NAME") or "") + rule
    else:
        path = _latin1_to_text((environ.get("SCRIPT_NAME") or "") + (environ.get("PATH_INFO")
                                                                       or ""))
    url = quote(redactor.text(path), safe="/:@!$&'()*+,;=-._~%[]<>")
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
