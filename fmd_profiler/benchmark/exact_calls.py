"""Exact mode: per test, every call of the project's own functions counted by yappi.

yappi is deterministic (a C-level profile hook), so counts are exact; it runs on the wall clock
(its CPU clock is a system call per event, far costlier) and only during each test's call
phase. Statistics are pulled once per test, never per request, and only functions defined
under the project's folder (not in site-packages) are kept, so a run stores hundreds of rows,
not the interpreter's internals.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fmd_profiler.profiling.coexist import profile_hook_owner

log = logging.getLogger("fmd_profiler")

#: (function 'module:qualname', file, calls, total ms, self ms)
FunctionRow = tuple[str, str, int, float, float]


class ExactProfiler:
    def __init__(self, project_root: Path) -> None:
        import yappi

        self._yappi = yappi
        self._root = str(project_root.resolve())
        self.available = True
        owner = profile_hook_owner()
        if owner is not None:
            # One profile hook per thread: replacing someone's (a profiler, a debugger)
            # silently would break it, so exact mode steps aside instead.
            log.warning("fmd_profiler: a profiler hook is already installed (%s); exact mode "
                        "is off for this run", owner)
            self.available = False
            return
        yappi.set_clock_type("wall")

    def start(self) -> None:
        if self.available:
            self._yappi.clear_stats()
            self._yappi.start(builtins=False, profile_threads=True)

    def stop(self) -> list[FunctionRow]:
        if not self.available:
            return []
        self._yappi.stop()
        rows = []
        for stat in self._yappi.get_func_stats():
            path = stat.module  # yappi's "module" is the file path
            if not self._is_project_file(path):
                continue
            module = _module_name(path, self._root)
            rows.append((f"{module}:{stat.name}", path, int(stat.ncall),
                         stat.ttot * 1000.0, stat.tsub * 1000.0))
        self._yappi.clear_stats()
        rows.sort()
        return rows

    def _is_project_file(self, path: str) -> bool:
        return (path.startswith(self._root) and "site-packages" not in path
                and "/.venv/" not in path and "/.tox/" not in path)


def _module_name(path: str, root: str) -> str:
    relative = Path(path).resolve().relative_to(root).with_suffix("")
    parts = [p for p in relative.parts if p != "__init__"]
    if parts and parts[0] == "src":
        parts = parts[1:]
    return ".".join(parts) or relative.name
