"""The package's import: what an app that imports fmd_profiler without profiling pays for it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _loaded_after(code: str) -> set[str]:
    """The heavy modules loaded after running ``code`` in a fresh interpreter."""
    probe = (f"{code}\nimport sys\n"
             "print(' '.join(m for m in ('duckdb', 'numpy', 'fmd_profiler.extension') "
             "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


def test_config_and_the_bare_demo_do_not_load_duckdb_or_numpy() -> None:
    # The benchmarks' bare app is the demo without profiler: it must not carry the store's
    # libraries, or every "no profiler" figure would include their memory and GC heap.
    assert _loaded_after("import fmd_profiler.config\nimport fmd_profiler.recording.clock\n"
                         "from fmd_profiler.demo.app import create_app\n"
                         "create_app(profile=False)") == set()


def test_the_public_names_load_on_first_use() -> None:
    assert "fmd_profiler.extension" in _loaded_after(
        "from fmd_profiler import enable_profiler, worker_exit")
    assert "fmd_profiler.extension" in _loaded_after("import fmd_profiler\nfmd_profiler.Profiler")


def test_the_public_names_are_the_modules_own_objects() -> None:
    import fmd_profiler
    from fmd_profiler import extension
    from fmd_profiler.recording import runtime

    assert fmd_profiler.Profiler is extension.Profiler
    assert fmd_profiler.enable_profiler is extension.enable_profiler
    assert fmd_profiler.bind is extension.bind
    assert fmd_profiler.worker_exit is runtime.worker_exit
    assert set(fmd_profiler._LAZY) <= set(fmd_profiler.__all__)


def test_an_unknown_name_is_an_attribute_error() -> None:
    import fmd_profiler

    with pytest.raises(AttributeError, match="no_such_name"):
        fmd_profiler.no_such_name  # noqa: B018
