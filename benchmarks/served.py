"""The app gunicorn serves in the throughput benchmark: the demo app as one contender runs it.

With ``BENCH_SAMPLER_LOG=1``, each worker of a level-2 contender also appends, once a second,
what its sampler's passes have cost and the CPU time the process has used (cumulative seconds,
one JSON line per reading): :mod:`benchmarks.budget_cost` turns them into the share of the
worker's CPU the sampler took, window by window.
"""

import os
from pathlib import Path

from benchmarks.contenders import BY_NAME, build_app

app = build_app(BY_NAME[os.environ["BENCH_CONTENDER"]], Path(os.environ["BENCH_WORKDIR"]))

if os.environ.get("BENCH_SAMPLER_LOG"):
    from benchmarks.sampler_log import follow

    follow(app, Path(os.environ["BENCH_WORKDIR"]))
