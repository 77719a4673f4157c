"""What one report covers and how it looks: the options every layer of the site pipeline reads.

A :class:`ReportOptions` is built once (by the CLI from its arguments, by the dashboard from the
app's configuration) and handed to queries, page builders and templates, so no layer grows its
own keyword list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fmd_profiler.queries.request_queries import Window

#: Box plots, tables and heatmaps per user or per IP show this many groups (the busiest).
DEFAULT_TOP_N = 10


def utc_now() -> datetime:
    """Now as a naive UTC datetime, the form stored timestamps have."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class ReportOptions:
    """The scope of a report (window, endpoints) and its presentation settings."""

    window: Window = field(default_factory=Window)
    #: Only these endpoints (``--endpoint``); None means all.
    endpoints: tuple[str, ...] | None = None
    #: IANA zone for days, hours and displayed times (``TIMEZONE``); data stays in UTC.
    timezone: str = "UTC"
    #: Two versions to compare on the versions page (``--compare A B``); None: consecutive ones.
    compare: tuple[str, str] | None = None
    #: Endpoint colours from ``COLORS``; other endpoints get a stable colour from their name.
    colors: Mapping[str, str] = field(default_factory=dict)
    top_n: int = DEFAULT_TOP_N
    #: The reference time of "last 24 h" figures (naive UTC); the report's generation time.
    now: datetime = field(default_factory=utc_now)

    def params(self) -> dict[str, Any]:
        """The SQL parameters of :data:`fmd_profiler.report.report_queries.SCOPED`."""
        return {**self.window.params(), "tz": self.timezone,
                "endpoints": list(self.endpoints) if self.endpoints is not None else None}
