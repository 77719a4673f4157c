"""The versions page: median per endpoint and version, and whether each change is significant.

Versions are compared in the order they first served a request (or the two named with
``--compare A B``), endpoint by endpoint, with a Mann-Whitney U test computed from SQL ranks
(:mod:`fmd_profiler.report.significance`). Sections in :data:`VERSION_SECTIONS` add more per
comparison:
the profiler's functions whose time changed most (:mod:`~fmd_profiler.report.pages.changes`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from fmd_profiler.report import report_queries as queries
from fmd_profiler.report.model import ChartSpec, Page, Section
from fmd_profiler.report.options import ReportOptions
from fmd_profiler.report.pages.changes import function_changes_section
from fmd_profiler.report.pages.paths import VERSIONS, endpoint_path
from fmd_profiler.report.significance import Comparison, compare

#: Consecutive comparisons shown (the most recent ones).
MAX_PAIRS = 8
_VERDICT_ORDER = {"slower": 0, "faster": 1, "unchanged": 2, "too few requests": 3}

ComparisonSection = Callable[[Any, ReportOptions, list[Comparison]], "Section | None"]

#: Further sections per compared pair; each gets that pair's comparisons.
VERSION_SECTIONS: tuple[ComparisonSection, ...] = (function_changes_section,)


def version_pairs(versions: list[str], options: ReportOptions) -> list[tuple[str, str]]:
    if options.compare is not None:
        return [options.compare]
    pairs = list(itertools.pairwise(versions))
    return pairs[-MAX_PAIRS:]


def compare_versions(con: Any, options: ReportOptions, before: str,
                     after: str) -> list[Comparison]:
    """Every endpoint served by either version, most notable change first."""
    found = [compare(row, before, after) for row in queries.rank_sums(con, options, before, after)]
    return sorted(found, key=lambda c: (_VERDICT_ORDER[c.verdict],
                                        c.p_value if c.p_value is not None else 2.0, c.endpoint))


def method_comparisons(con: Any, options: ReportOptions, before: str, after: str,
                       totals: list[Comparison]) -> list[dict[str, Any]]:
    """For endpoints that served more than one (method, rule) in either version: the endpoint's
    comparison and each method's, in the order of ``totals``."""
    per_endpoint: dict[str, list[Comparison]] = {}
    for row in queries.rank_sums(con, options, before, after, by_method=True):
        per_endpoint.setdefault(str(row["endpoint"]), []).append(compare(row, before, after))
    return [{"endpoint": c.endpoint, "path": endpoint_path(c.endpoint), "total": c,
             "methods": per_endpoint[c.endpoint]}
            for c in totals if len(per_endpoint.get(c.endpoint, ())) > 1]


def has_versions_page(con: Any, options: ReportOptions) -> bool:
    return len(queries.versions(con, options)) >= 2 or options.compare is not None


def _ratio_chart(pairs: list[dict[str, Any]]) -> ChartSpec | None:
    import pandas as pd

    records = [{"endpoint": c.endpoint, "pair": f"{pair['before']} → {pair['after']}",
                "ratio": c.ratio, "verdict": c.verdict}
               for pair in pairs for c in pair["comparisons"]
               if c.ratio is not None and c.p_value is not None]
    if not records:
        return None
    frame = pd.DataFrame.from_records(records)
    return ChartSpec("ratio_heatmap", frame, "Median change between versions",
                     alt="Heatmap of the ratio of median durations between versions",
                     caption="Ratio of medians (after / before); outlined tiles are significant "
                             "changes (Mann-Whitney U, p < 0.01, at least 5 %).",
                     width=min(6.4, 3.8 + 1.1 * frame["pair"].nunique()),
                     height=0.9 + 0.26 * frame["endpoint"].nunique())


def build_versions(con: Any, options: ReportOptions) -> Page:
    versions = queries.versions(con, options)
    names = [v["version"] for v in versions]
    medians: dict[str, dict[str, Any]] = {}
    for row in queries.version_medians(con, options):
        medians.setdefault(row["endpoint"], {})[row["version"]] = row
    pairs = []
    sections: list[Section] = []
    for before, after in version_pairs(names, options):
        found = compare_versions(con, options, before, after)
        extra = [s for s in (build(con, options, found) for build in VERSION_SECTIONS)
                 if s is not None]
        pairs.append({"before": before, "after": after, "comparisons": found,
                      "methods": method_comparisons(con, options, before, after, found),
                      "sections": extra})
        sections += extra
    chart = _ratio_chart(pairs)
    context = {
        "versions": versions,
        "matrix": [{"endpoint": e, "path": endpoint_path(e), "by_version": by}
                   for e, by in sorted(medians.items())],
        "version_names": names,
        "pairs": pairs,
    }
    return Page(VERSIONS, "Versions", "versions.html", context, sections=tuple(sections),
                charts=(chart,) if chart is not None else ())
