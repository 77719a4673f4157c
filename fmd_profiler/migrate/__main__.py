"""The migrate command line: one line per problem (exit 2), a progress bar on a terminal, and
a summary of what was imported and skipped."""

from __future__ import annotations

import argparse
import configparser
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fmd_profiler.config import ConfigWarning, load_config
from fmd_profiler.errors import ProfilerError, redact_dsn
from fmd_profiler.migrate.fmd_source import open_source
from fmd_profiler.migrate.importer import Importer

PROG = "python -m fmd_profiler.migrate"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Import a Flask-MonitoringDashboard database (2.x-5.1) into the "
                               "fmd_profiler store. Safe to run again: nothing is imported "
                               "twice.")
    parser.add_argument("source", help="the FMD database: sqlite:////path/to/fmd.db (or a "
                                       "path), mysql+pymysql://user:pw@host/db, "
                                       "postgresql://user:pw@host/db")
    parser.add_argument("--config", help="the config file (ours or FMD's): where the store is "
                                         "(DATABASE) and FMD's TABLE_PREFIX")
    parser.add_argument("--db", help="the DuckDB store to import into (default: DATABASE "
                                     "from the config)")
    parser.add_argument("--table-prefix", help="FMD's TABLE_PREFIX (default: from --config)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        overrides = {"DATABASE": args.db} if args.db else {}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConfigWarning)
            config = load_config(args.config, **overrides)
        if config.lake is not None:
            raise ProfilerError(
                "migrate imports into a DuckDB file, not into a fleet's lake: import into a "
                "file with --db fmd-history.duckdb and keep it beside the lake for the "
                "history (the lake starts from today)")
        for warning in caught:
            if "python -m fmd_profiler.migrate" not in str(warning.message):  # doing that now
                print(f"{PROG}: warning: {warning.message}", file=sys.stderr)
        prefix = args.table_prefix if args.table_prefix is not None else _table_prefix(
            args.config)
        base = Path(args.config).resolve().parent if args.config else None
        source = open_source(args.source, prefix, base)
        try:
            show = sys.stderr.isatty() and not args.no_progress
            summary = Importer(source, config, _progress(show)).run()
        finally:
            source.close()
    except ProfilerError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; what was imported is kept, run again to continue",
              file=sys.stderr)
        return 130
    print(f"{redact_dsn(args.source)} -> {config.database}")
    for line in summary.lines():
        print(line)
    return 0


def _table_prefix(config_file: str | None) -> str:
    """FMD's ``[database] TABLE_PREFIX`` from the config file, if any."""
    if not config_file:
        return ""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(config_file, encoding="utf-8")
    except configparser.Error:
        return ""  # load_config has already named any problem with the file
    for section in ("database", "dashboard"):
        if parser.has_option(section, "TABLE_PREFIX"):
            return parser.get(section, "TABLE_PREFIX").strip()
    return ""


class _Silent:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(show: bool) -> Any:
    def make(kind: str, total: int) -> Any:
        if not show or total == 0:
            return _Silent()
        from tqdm import tqdm

        return tqdm(total=total, desc=kind, unit=" rows", file=sys.stderr, leave=False)

    return make


if __name__ == "__main__":
    sys.exit(main())
