"""``python -m fmd_profiler.fleet upload|commit|maintain|status``: fleet mode's commands.

Each command reads the config (``--config``, else ``$DASHBOARD_CONFIG``, else ``./config.cfg``),
which must set ``DATABASE = ducklake:postgres:<DSN>``, and runs the module of the same name. A
user mistake or an unreachable service prints one line (never a secret) and exits non-zero:
1 when the work failed and may succeed later, 2 when the input must change.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from fmd_profiler.errors import (
    FLEET_EXTRA,
    ConfigError,
    ConfigFileError,
    ProfilerError,
    one_line,
)
from fmd_profiler.fleet.settings import LakeSettings

if TYPE_CHECKING:
    from fmd_profiler.fleet.commit import CommitResult

PROG = "python -m fmd_profiler.fleet"


class UsageError(ProfilerError):
    """The command cannot run with this input; exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Fleet mode: hosts upload their "
                                     "spools, one committer registers the files in the lake.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--config", help="config file (default: $DASHBOARD_CONFIG, "
                                          "./config.cfg)")
        return sub

    upload = command("upload", "upload this host's spool to DATA_PATH once (the workers do "
                               "this every UPLOAD_INTERVAL_S; a sidecar or cron can too)")
    upload.add_argument("--settings-stdin", action="store_true",
                        help=argparse.SUPPRESS)  # how a worker hands its settings to its child
    upload.add_argument("--lock-wait", type=float, default=30.0, metavar="S",
                        help="seconds to wait for the spool lock (default 30)")
    commit = command("commit", "register uploaded files in the lake (once, or --every S)")
    commit.add_argument("--every", type=float, metavar="S",
                        help="keep running, one turn every S seconds (a turn is skipped while "
                             "another committer works)")
    commit.add_argument("--lock-wait", type=float, default=300.0, metavar="S",
                        help="once: seconds to wait for another committer (default 300)")
    maintain = command("maintain", "apply RETENTION_DAYS, merge small files, expire old "
                                   "snapshots and delete unreferenced files")
    maintain.add_argument("--grace-minutes", type=float, default=60.0, metavar="M",
                          help="keep snapshots younger than this for running readers "
                               "(default 60)")
    status = command("status", "hosts seen, each host's last upload, files waiting, the lag")
    status.add_argument("--json", metavar="FILE|-", help="write the status as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    # An upload child's stdout carries its one-line outcome to the worker that started it.
    out = sys.stdout
    try:
        return _run(args)
    except UsageError as exc:
        print(f"{args.command}: {exc}", file=out if args.command == "upload" else sys.stderr,
              flush=True)
        return 2
    except (ConfigError, ConfigFileError) as exc:
        print(one_line(exc), file=sys.stderr, flush=True)
        return 2
    except ProfilerError as exc:
        print(one_line(exc), file=out if args.command == "upload" else sys.stderr, flush=True)
        return 1


def _run(args: argparse.Namespace) -> int:
    settings, retention_days = _settings(args)
    _check_extra(needs_catalog=args.command != "upload")
    if args.command == "upload":
        return _upload(settings, args)
    if args.command == "commit":
        return _commit(settings, args)
    if args.command == "maintain":
        return _maintain(settings, retention_days, args)
    return _status(settings, args)


def _settings(args: argparse.Namespace) -> tuple[LakeSettings, int]:
    if getattr(args, "settings_stdin", False):
        from fmd_profiler.fleet.handoff import settings_from_json

        try:
            return settings_from_json(sys.stdin.buffer.read()), 0
        except ValueError as exc:
            raise UsageError(f"--settings-stdin expects what a worker writes ({exc})") from None
    from fmd_profiler.config import load_config

    config = load_config(args.config)
    if config.lake is None:
        where = config.source or "the default configuration"
        raise UsageError(f"{where} does not configure fleet mode: set DATABASE = "
                         "ducklake:postgres:<DSN> and DATA_PATH (see docs/fleet.md)")
    return config.lake, config.retention_days


def _check_extra(*, needs_catalog: bool) -> None:
    """Fleet commands need duckdb, its lake extensions and (but for an upload, which never
    touches the catalog and runs often) psycopg: say how to get them."""
    try:
        import duckdb  # noqa: F401

        if needs_catalog:
            import psycopg  # noqa: F401
    except ImportError as exc:
        raise UsageError(f"fleet mode needs {exc.name}, which is not installed: "
                         f"{FLEET_EXTRA}") from None


def _upload(settings: LakeSettings, args: argparse.Namespace) -> int:
    from fmd_profiler.config import FLEET_LOCAL_STORE
    from fmd_profiler.fleet.upload import upload_spool
    from fmd_profiler.store.segments import StoreLocation

    location = StoreLocation(settings.spool_dir / FLEET_LOCAL_STORE)
    result = upload_spool(settings, location, lock_wait_s=args.lock_wait)
    if result is None:
        print(f"the spool {location.spool_dir} stayed locked for {args.lock_wait:g} s (another "
              "upload); nothing to do, the next upload takes the segments", flush=True)
        return 0
    print(f"uploaded {result.files} file(s), {result.rows} row(s) from {result.segments} "
          f"segment(s)" + (f"; {result.quarantined} damaged segment(s) set aside in "
                           f"{location.quarantine_dir}" if result.quarantined else "")
          + ("; monitoring levels updated" if result.levels_changed else ""), flush=True)
    return 0


def _commit(settings: LakeSettings, args: argparse.Namespace) -> int:
    from fmd_profiler.fleet.commit import commit_once

    if args.every is None:
        result = commit_once(settings, wait_s=args.lock_wait)
        if result is None:
            print(f"another committer held the lock for {args.lock_wait:g} s; nothing done",
                  file=sys.stderr)
            return 1
        _print_commit(result)
        return 0
    if args.every <= 0:
        raise UsageError(f"--every {args.every:g}: expected a number of seconds above 0")
    while True:
        started = time.monotonic()
        try:
            result = commit_once(settings, wait_s=0.0)
        except ProfilerError as exc:
            print(one_line(exc), file=sys.stderr, flush=True)  # the next turn tries again
        else:
            if result is None:
                print("another committer is at work; skipped this turn", flush=True)
            else:
                _print_commit(result)
        time.sleep(max(0.0, args.every - (time.monotonic() - started)))


def _print_commit(result: CommitResult) -> None:
    print(f"committed {result.files} file(s), {result.rows} row(s)"
          + (f"; {result.waiting} file(s) left for the next turn" if result.waiting else "")
          + (f"; {result.newer_schema} file(s) of a newer schema left alone"
             if result.newer_schema else ""), flush=True)


def _maintain(settings: LakeSettings, retention_days: int, args: argparse.Namespace) -> int:
    from fmd_profiler.fleet.maintain import maintain_once

    result = maintain_once(settings, retention_days=retention_days,
                           grace_s=args.grace_minutes * 60.0)
    if result is None:
        print("another maintenance is running; nothing done", flush=True)
        return 0
    deleted = sum(result.deleted.values())
    print(f"maintenance done: {deleted} old row(s) deleted"
          + (f" (RETENTION_DAYS={retention_days})" if retention_days else
             " (RETENTION_DAYS not set)") + "; files merged, old snapshots and files removed",
          flush=True)
    return 0


def _status(settings: LakeSettings, args: argparse.Namespace) -> int:
    from fmd_profiler.fleet.status import fleet_status, format_status

    status = fleet_status(settings)
    if args.json:
        text = json.dumps(status, indent=1)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n", encoding="utf-8")
    else:
        print(format_status(status))
    return 0


if __name__ == "__main__":
    sys.exit(main())
