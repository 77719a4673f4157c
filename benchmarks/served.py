"""The app gunicorn serves in the throughput benchmark: the demo app as one contender runs it."""

import os
from pathlib import Path

from benchmarks.contenders import BY_NAME, build_app

app = build_app(BY_NAME[os.environ["BENCH_CONTENDER"]], Path(os.environ["BENCH_WORKDIR"]))
