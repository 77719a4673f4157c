"""The deep profiler: sampled call stacks (level 2), outliers and detailed profiles (level 3),
exact mode (yappi).

A boundary: every module here except :mod:`~fmd_profiler.profiling.observer` (the Flask edge)
imports neither flask nor duckdb and reads time through an injected clock, so the sampling,
cutting, aggregation, outlier and redaction logic is tested with fake clocks and scripted frames.
Rows leave through the writer's sources into the tables of :mod:`fmd_profiler.schema`.
"""
