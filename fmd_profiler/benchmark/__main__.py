import sys

from fmd_profiler.benchmark.cli import main

sys.exit(main())
