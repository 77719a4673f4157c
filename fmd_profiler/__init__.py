"""fmd_profiler: where a Flask service's time goes, in production and in CI.

``enable_profiler(app)`` records every request (and, at higher levels, where inside it the time
goes) into a DuckDB store; ``python -m fmd_profiler.report`` turns the store into a report.
"""

from typing import TYPE_CHECKING, Any

from fmd_profiler import config, lazy
from fmd_profiler.errors import ConfigError, ConfigFileError, ProfilerError, SetupError, StoreError

if TYPE_CHECKING:
    from fmd_profiler.extension import (
        Profiler,
        add_database_pruning_schedule,
        add_graph,
        bind,
        enable_profiler,
    )
    from fmd_profiler.recording.hooks import capture
    from fmd_profiler.recording.runtime import worker_exit

__version__ = "0.2.0"

#: Imported on first use (PEP 562): they bring in the store, DuckDB and numpy, and importing
#: any submodule (``fmd_profiler.config``, the demo app) runs this file first. An app that
#: imports the package without profiling stays free of them.
_LAZY = {"Profiler": "fmd_profiler.extension", "bind": "fmd_profiler.extension",
         "enable_profiler": "fmd_profiler.extension",
         "worker_exit": "fmd_profiler.recording.runtime",
         "capture": "fmd_profiler.recording.hooks", "add_graph": "fmd_profiler.extension",
         "add_database_pruning_schedule": "fmd_profiler.extension"}


def __getattr__(name: str) -> Any:
    return lazy.attribute(globals(), _LAZY, __name__, name)

__all__ = [
    "ConfigError",
    "ConfigFileError",
    "Profiler",
    "ProfilerError",
    "SetupError",
    "StoreError",
    "add_database_pruning_schedule",
    "add_graph",
    "bind",
    "capture",
    "config",
    "enable_profiler",
    "worker_exit",
]
