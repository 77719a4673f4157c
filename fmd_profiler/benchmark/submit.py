"""Sending a run to the team's dashboard: ``POST <dashboard>/submit-test-results``.

The body is the payload JSON, gzip-compressed, with ``Authorization: Bearer <token>``. Network
failures, 429 and 5xx answers are retried with exponential backoff (the receiver is idempotent on
run ids, so a retry after a lost answer stores nothing twice); other 4xx answers are final and
their message is shown. Standard library only: one POST does not justify a dependency.
"""

from __future__ import annotations

import gzip
import json
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from fmd_profiler import __version__
from fmd_profiler.errors import ProfilerError

SUBMIT_PATH = "submit-test-results"
RETRY_STATUSES = {408, 429, 500, 502, 503, 504}
MAX_RETRY_AFTER_S = 60.0


class UploadError(ProfilerError):
    """The dashboard did not take the run; the message says what it answered."""


@dataclass(frozen=True)
class UploadResult:
    status: int  # 201 stored, 200 already stored
    answer: dict[str, object]
    attempts: int


def submit_url(url: str) -> str:
    """The receiver's URL from a dashboard URL (``.../dashboard``) or the full one."""
    url = url.rstrip("/")
    return url if url.endswith("/" + SUBMIT_PATH) else f"{url}/{SUBMIT_PATH}"


def is_insecure(url: str) -> bool:
    """Whether the token would cross a network in clear text (http to a non-loopback host)."""
    parts = urlsplit(url)
    return parts.scheme == "http" and parts.hostname not in {"localhost", "127.0.0.1", "::1"}


def upload(url: str, token: str, body: bytes, *, attempts: int = 5, backoff_s: float = 1.0,
           timeout_s: float = 60.0, sleep: Callable[[float], None] = time.sleep) -> UploadResult:
    """POST ``body`` (payload JSON) to the receiver at ``url``; raises :class:`UploadError`."""
    target = submit_url(url)
    data = gzip.compress(body)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
               "Content-Encoding": "gzip", "User-Agent": f"fmd_profiler/{__version__}"}
    last_problem = ""
    for attempt in range(1, attempts + 1):
        request = urllib.request.Request(target, data=data, headers=headers, method="POST")
        wait = backoff_s * 2 ** (attempt - 1) * random.uniform(0.8, 1.2)
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                return UploadResult(response.status, _answer(response.read()), attempt)
        except urllib.error.HTTPError as exc:
            message = _answer(exc.read()).get("error") or exc.reason
            if exc.code not in RETRY_STATUSES:
                raise UploadError(f"{target} refused the run: HTTP {exc.code}: {message}") \
                    from None
            last_problem = f"HTTP {exc.code}: {message}"
            wait = max(wait, min(_retry_after(exc.headers.get("Retry-After")), MAX_RETRY_AFTER_S))
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            last_problem = f"{type(reason).__name__}: {reason}"
        if attempt < attempts:
            sleep(wait)
    raise UploadError(f"could not reach {target} after {attempts} attempts ({last_problem})")


def _answer(raw: bytes) -> dict[str, object]:
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _retry_after(value: str | None) -> float:
    try:
        return float(value) if value else 0.0
    except ValueError:
        return 0.0
