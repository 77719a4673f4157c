"""Reports: the JSON summary and the static HTML site built from a read session.

``python -m fmd_profiler.report`` (see :mod:`fmd_profiler.report.cli`) is the entry point.
"""
