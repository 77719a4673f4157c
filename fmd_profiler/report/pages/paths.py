"""Where each page lives in the site; the static report and the dashboard share these paths.

Endpoint names and request ids become file names, so they are reduced to safe characters and
suffixed with a short hash: two endpoints never share a page and no name can climb out of the
site folder.
"""

from __future__ import annotations

import hashlib
import re

INDEX = "index.html"
VERSIONS = "versions.html"
OUTLIERS = "outliers.html"
ERRORS = "errors.html"
TESTS = "tests.html"
ENDPOINT_DIR = "endpoints"
REQUEST_DIR = "requests"
PROFILE_DIR = "profiles"

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def endpoint_slug(endpoint: str) -> str:
    return _slug(endpoint, "endpoint")


def _slug(name: str, empty: str) -> str:
    readable = _UNSAFE.sub("_", name).strip("._")[:48] or empty
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{readable}-{digest}"


def endpoint_path(endpoint: str) -> str:
    return f"{ENDPOINT_DIR}/{endpoint_slug(endpoint)}.html"


def request_path(request_id: str) -> str:
    """The page of one profiled request (an outlier or a detailed profile)."""
    return f"{REQUEST_DIR}/{_slug(request_id, 'request')}.html"
