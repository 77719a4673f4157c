"""fmd_profiler: where a Flask service's time goes, in production and in CI.

``enable_profiler(app)`` records every request (and, at higher levels, where inside it the time
goes) into a DuckDB store; ``python -m fmd_profiler.report`` turns the store into a report.
"""

from fmd_profiler import config
from fmd_profiler.errors import ConfigError, ConfigFileError, ProfilerError, SetupError, StoreError
from fmd_profiler.extension import Profiler, bind, enable_profiler
from fmd_profiler.runtime import worker_exit

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "ConfigFileError",
    "Profiler",
    "ProfilerError",
    "SetupError",
    "StoreError",
    "bind",
    "config",
    "enable_profiler",
    "worker_exit",
]
