"""The house rules of the layout: one file per name, a root that holds only the shared layer, and
the public imports and ``python -m`` commands users type still there after any regrouping."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "fmd_profiler"
#: Names Python gives a meaning of their own: every package may have one.
SHARED_NAMES = {"__init__.py", "__main__.py", "conftest.py"}
#: The package root: the public API and what every layer shares. Everything else lives in the
#: folder of its layer (recording/, queries/, store/, profiling/, report/, ...).
ROOT_MODULES = {"__init__.py", "extension.py", "config.py", "fmd_config.py", "schema.py",
                "errors.py", "version.py", "flask_cli.py", "collect_performance.py", "lazy.py"}
#: The commands README and the docs tell users to run; they must keep working.
COMMANDS = ["fmd_profiler.report", "fmd_profiler.benchmark", "fmd_profiler.migrate",
            "fmd_profiler.fleet", "fmd_profiler.demo", "fmd_profiler.demo.fleet",
            "fmd_profiler.collect_performance", "fmd_profiler.store.ingestion"]
PUBLIC_NAMES = ["Profiler", "enable_profiler", "bind", "config", "worker_exit", "capture",
                "add_graph", "add_database_pruning_schedule", "ConfigError", "ConfigFileError",
                "ProfilerError", "SetupError", "StoreError"]


def same_names(folder: Path) -> dict[str, list[str]]:
    """Basenames that more than one ``.py`` file under ``folder`` has, with their paths."""
    found: defaultdict[str, list[str]] = defaultdict(list)
    for path in sorted(folder.rglob("*.py")):
        if path.name not in SHARED_NAMES and "__pycache__" not in path.parts:
            found[path.name].append(path.relative_to(folder).as_posix())
    return {name: paths for name, paths in found.items() if len(paths) > 1}


def test_same_names_finds_a_repeated_file_name(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for path in (tmp_path / "a" / "cli.py", tmp_path / "b" / "cli.py", tmp_path / "b" / "x.py",
                 tmp_path / "a" / "__init__.py", tmp_path / "b" / "__init__.py"):
        path.write_text("")
    assert same_names(tmp_path) == {"cli.py": ["a/cli.py", "b/cli.py"]}


@pytest.mark.parametrize("folder", ["fmd_profiler", "tests"])
def test_no_two_files_share_a_name(folder: str) -> None:
    # A search for a file name finds one file; and pytest's rootdir imports need unique names.
    assert same_names(ROOT / folder) == {}, (
        "rename one of each pair so that its name says what it holds")


def test_the_package_root_holds_only_the_shared_layer() -> None:
    modules = {path.name for path in PACKAGE.glob("*.py")}
    assert modules == ROOT_MODULES, (
        f"new at the root: {sorted(modules - ROOT_MODULES)}; gone: "
        f"{sorted(ROOT_MODULES - modules)}; put a module into the folder of its layer")


def test_the_public_names_import_in_a_fresh_interpreter() -> None:
    code = f"from fmd_profiler import {', '.join(PUBLIC_NAMES)}\nprint('ok')"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def documented_commands() -> set[str]:
    """Every ``python -m fmd_profiler...`` named in README, the docs, the Makefile and CI."""
    texts = [ROOT / "README.md", ROOT / "Makefile", ROOT / ".ci" / "run",
             *sorted((ROOT / "docs").rglob("*.md"))]
    found = set()
    for path in texts:
        if path.is_file():
            found |= set(re.findall(r"-m (fmd_profiler(?:\.\w+)+)",
                                    path.read_text(encoding="utf-8")))
    return found


def test_the_documents_name_the_commands() -> None:
    assert set(COMMANDS) & documented_commands(), "no python -m command found in the documents"


@pytest.mark.parametrize("command", sorted({*COMMANDS, *documented_commands()}))
def test_each_command_users_type_is_runnable(command: str) -> None:
    # What ``python -m`` runs: the module itself, or the package's __main__.
    spec = importlib.util.find_spec(command)
    assert spec is not None, f"python -m {command}: no such module"
    if spec.submodule_search_locations is not None:
        assert importlib.util.find_spec(command + ".__main__") is not None, (
            f"python -m {command}: a package without __main__")
