"""Prometheus text exposition (format 0.0.4) of a merged :class:`~.files.Snapshot`.

Metric names start with ``fmd_profiler_``; durations are in seconds, as Prometheus expects.
Label values are escaped (endpoint names come from the app, and through it from URLs).
"""

from __future__ import annotations

from fmd_profiler.metrics.counters import BUCKETS_S
from fmd_profiler.metrics.files import Snapshot

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: The profiler's own counters: name in the process files -> (metric, help).
PROFILER_COUNTERS = {
    "rows_recorded": ("fmd_profiler_rows_recorded_total",
                      "Request rows handed from the in-memory buffer to the writer."),
    "rows_dropped": ("fmd_profiler_rows_dropped_total",
                     "Request rows lost: the buffer was full or the store stayed broken too "
                     "long."),
    "samples_taken": ("fmd_profiler_samples_taken_total",
                      "Call-stack samples taken by the profiler (levels 2-3)."),
    "sampler_passes": ("fmd_profiler_sampler_passes_total",
                       "Passes of the sampler over the threads serving monitored requests."),
    "sampler_cpu_seconds": ("fmd_profiler_sampler_cpu_seconds_total",
                            "CPU time the sampler's passes took (its thread and its signal "
                            "handler), as PROFILER_BUDGET_PCT measures it."),
}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: list[tuple[str, str]]) -> str:
    return "{" + ",".join(f'{name}="{_escape(value)}"' for name, value in pairs) + "}"


def _number(value: float) -> str:
    return repr(float(value)) if value != int(value) else str(int(value))


def render(snapshot: Snapshot) -> str:
    """The whole exposition, series sorted, ending with a newline."""
    totals = snapshot.totals
    lines = [
        "# HELP fmd_profiler_requests_total Requests served, per endpoint, method and status "
        "class.",
        "# TYPE fmd_profiler_requests_total counter",
    ]
    series = sorted(totals.series.items())
    for (endpoint, method, klass), s in series:
        labels = _labels([("endpoint", endpoint), ("method", method), ("status_class", klass)])
        lines.append(f"fmd_profiler_requests_total{labels} {s.count}")
    name = "fmd_profiler_request_duration_seconds"
    lines += [f"# HELP {name} Request duration (wall clock), per endpoint, method and status "
              "class.", f"# TYPE {name} histogram"]
    for (endpoint, method, klass), s in series:
        base = [("endpoint", endpoint), ("method", method), ("status_class", klass)]
        cumulative = 0
        for bound, n in zip((*BUCKETS_S, None), s.buckets, strict=True):
            cumulative += n
            le = "+Inf" if bound is None else repr(bound)
            lines.append(f"{name}_bucket{_labels([*base, ('le', le)])} {cumulative}")
        lines.append(f"{name}_sum{_labels(base)} {_number(s.sum_s)}")
        lines.append(f"{name}_count{_labels(base)} {s.count}")
    for key, (metric, help_text) in PROFILER_COUNTERS.items():
        if key in totals.counters:
            lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} counter",
                      f"{metric} {_number(totals.counters[key])}"]
    lines += ["# HELP fmd_profiler_processes Processes whose metrics files are being read.",
              "# TYPE fmd_profiler_processes gauge", f"fmd_profiler_processes {snapshot.processes}"]
    return "\n".join(lines) + "\n"
