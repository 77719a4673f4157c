import sys

from fmd_profiler.benchmark.benchmark_cli import main

sys.exit(main())
