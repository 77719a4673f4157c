import sys

from fmd_profiler.report.report_cli import main

sys.exit(main())
