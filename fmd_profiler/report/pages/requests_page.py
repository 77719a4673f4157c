"""One page per profiled request: an outlier with its (redacted) request data, or a detailed
profile, each with its call tree and function table.

Which requests get a page is decided once (:func:`request_refs`): the newest outliers of the
outliers page and each endpoint's newest outliers and detailed profiles, with the limits those
pages list, so every link has its page and the dashboard serves exactly the static site's pages.
Request pages carry no plotnine chart: there can be hundreds, and the call tree says more about
one request than a picture of a handful of samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fmd_profiler.queries import profile_queries
from fmd_profiler.report import report_queries as queries
from fmd_profiler.report.model import Page
from fmd_profiler.report.options import ReportOptions
from fmd_profiler.report.pages.paths import endpoint_path, request_path
from fmd_profiler.report.pages.profile import DETAILS_PER_ENDPOINT, OUTLIERS_PER_ENDPOINT

#: The outliers page lists this many, newest first.
NEWEST_OUTLIERS = 100
#: Call-tree rows narrower than this share of the request are left out (the table lists all).
MIN_TREE_SHARE = 0.002
MAX_TREE_ROWS = 300
OUTLIER_ONLY = ("method", "url", "baseline_ms", "threshold_ms", "cpu_ms", "memory_rss_bytes",
                "load_1m")


@dataclass(frozen=True)
class RequestRef:
    request_id: str
    kind: str  # 'outlier' or 'detail'
    endpoint: str

    @property
    def path(self) -> str:
        return request_path(self.request_id)


def request_refs(con: Any, options: ReportOptions) -> list[RequestRef]:
    found = queries.profiled_requests(con, options, newest_outliers=NEWEST_OUTLIERS,
                                      outliers_per_endpoint=OUTLIERS_PER_ENDPOINT,
                                      details_per_endpoint=DETAILS_PER_ENDPOINT)
    return [RequestRef(r["request_id"], r["kind"], r["endpoint"]) for r in found]


def build_requests(con: Any, options: ReportOptions, refs: list[RequestRef]) -> list[Page]:
    """The pages of ``refs`` (a few queries for all of them, not a few per page)."""
    outliers = profile_queries.outlier_details(
        con, [r.request_id for r in refs if r.kind == "outlier"])
    details = profile_queries.request_profiles(
        con, [r.request_id for r in refs if r.kind == "detail"], kind="detail")
    pages = []
    for ref in refs:
        detail = (outliers if ref.kind == "outlier" else details).get(ref.request_id)
        if detail is not None:
            pages.append(_request_page(ref, detail))
    return pages


def _request_page(ref: RequestRef, detail: dict[str, Any]) -> Page:
    title = "Outlier" if ref.kind == "outlier" else "Detailed profile"
    context = {
        # A detailed profile has no request data: the template reads the same keys for both.
        "request": {**dict.fromkeys(OUTLIER_ONLY), **detail},
        "kind": ref.kind,
        "endpoint_page": endpoint_path(detail["endpoint"]),
        "ratio": (detail["duration_ms"] / detail["baseline_ms"]
                  if detail.get("baseline_ms") else None),
        "tree": call_tree(detail["flame"]),
        "functions": detail["functions"],
        "args": _items(detail.get("args")),
        "headers": _items(detail.get("headers")),
    }
    return Page(ref.path, f"{title} of {detail['endpoint']}", "request.html", context)


def call_tree(flame: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The flame boxes as indented rows (depth-first, as laid out), the narrowest left out."""
    rows = []
    for box in flame:
        if box["width"] < MIN_TREE_SHARE:
            continue
        rows.append({"indent": "  " * box["depth"], "function": box["function"],
                     "file": box["file"], "line": box["line"], "ms": box["ms"],
                     "self_ms": box["self_ms"], "share": box["width"]})
        if len(rows) >= MAX_TREE_ROWS:
            break
    return rows


def _items(values: Any) -> list[tuple[str, str]]:
    """name -> value (or list of values) as sorted pairs of text, one per value."""
    out: list[tuple[str, str]] = []
    for name, value in sorted((values or {}).items()):
        for one in value if isinstance(value, list) else [value]:
            out.append((str(name), str(one)))
    return out
