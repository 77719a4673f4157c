"""``python -m fmd_profiler.collect_performance``: the early README's name for the harness.

It runs :mod:`fmd_profiler.benchmark` with the same options (``--config``, ``--tests``, ``-n``,
``--upload``, ...), so a CI script written for the early README keeps working.
"""

from __future__ import annotations

import sys

from fmd_profiler.benchmark.benchmark_cli import main

if __name__ == "__main__":
    sys.exit(main())
