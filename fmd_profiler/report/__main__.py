import sys

from fmd_profiler.report.cli import main

sys.exit(main())
