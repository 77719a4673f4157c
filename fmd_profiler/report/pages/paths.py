"""Where each page lives in the site; the static report and the dashboard share these paths.

Endpoint names become file names, so they are reduced to safe characters and suffixed with a
short hash: two endpoints never share a page and no name can climb out of the site folder.
"""

from __future__ import annotations

import hashlib
import re

INDEX = "index.html"
VERSIONS = "versions.html"
ENDPOINT_DIR = "endpoints"

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def endpoint_slug(endpoint: str) -> str:
    readable = _UNSAFE.sub("_", endpoint).strip("._")[:48] or "endpoint"
    digest = hashlib.sha256(endpoint.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{readable}-{digest}"


def endpoint_path(endpoint: str) -> str:
    return f"{ENDPOINT_DIR}/{endpoint_slug(endpoint)}.html"
