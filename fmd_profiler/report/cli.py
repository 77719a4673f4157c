"""``python -m fmd_profiler.report``: read the store, write the summary and the site.

User mistakes print one line and exit with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from fmd_profiler.config import load_config
from fmd_profiler.errors import ProfilerError
from fmd_profiler.queries import Window
from fmd_profiler.report.exports import write_folded, write_speedscope
from fmd_profiler.report.sources import open_source, resolve_database
from fmd_profiler.report.summary import build_summary, dump_summary

PROG = "python -m fmd_profiler.report"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Summarise what fmd_profiler recorded.")
    parser.add_argument("--config", help="config file (default: $DASHBOARD_CONFIG, ./config.cfg)")
    parser.add_argument("--db", help="DuckDB file, its .spool folder, or a glob of segments "
                                     "(default: DATABASE from the config)")
    parser.add_argument("--since", help="start of the window: 2026-11-01, 2026-11-01T08:00, "
                                        "or a duration ago such as 7d, 24h, 30m")
    parser.add_argument("--until", help="end of the window (same forms as --since)")
    parser.add_argument("--json", metavar="FILE|-", help="write the JSON summary to FILE or stdout")
    parser.add_argument("--folded", metavar="DIR",
                        help="write one folded-stack file per endpoint (integer µs) into DIR")
    parser.add_argument("--speedscope", metavar="FILE",
                        help="write the call stacks as a speedscope file (one profile per "
                             "endpoint)")
    return parser


_DURATION = re.compile(r"^(\d+)\s*([dhm])$")


def parse_time(text: str, tz_name: str, now: datetime | None = None) -> datetime:
    """A naive UTC datetime from an ISO date/time (in ``tz_name``) or a duration ago."""
    now = now or datetime.now(UTC)
    match = _DURATION.match(text.strip())
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        delta = {"d": timedelta(days=amount), "h": timedelta(hours=amount),
                 "m": timedelta(minutes=amount)}[unit]
        return (now - delta).astimezone(UTC).replace(tzinfo=None)
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ProfilerError(f"cannot read the time {text!r}: write 2026-11-01, "
                            "2026-11-01T08:00 or a duration such as 7d, 24h, 30m") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(tz_name))
    return value.astimezone(UTC).replace(tzinfo=None)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except ProfilerError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2


def run(args: argparse.Namespace) -> int:
    if args.json is None and args.folded is None and args.speedscope is None:
        raise ProfilerError("nothing to write: pass --json FILE (or --json - for stdout), "
                            "--folded DIR or --speedscope FILE")
    tz_name = load_config(args.config).timezone if (args.since or args.until) else "UTC"
    window = Window(since=parse_time(args.since, tz_name) if args.since else None,
                    until=parse_time(args.until, tz_name) if args.until else None)
    database = resolve_database(args.db, args.config)
    with open_source(database) as con:
        summary = build_summary(con, window) if args.json is not None else None
        if args.folded is not None:
            written = write_folded(con, Path(args.folded), window)
            print(f"{len(written)} folded-stack files written to {args.folded}", file=sys.stderr)
        if args.speedscope is not None:
            count = write_speedscope(con, Path(args.speedscope), window)
            print(f"speedscope file with {count} profiles written to {args.speedscope}",
                  file=sys.stderr)
    if summary is None:
        return 0
    text = dump_summary(summary)
    if args.json == "-":
        sys.stdout.write(text)
    else:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text, encoding="utf-8")
        print(f"summary written to {args.json}", file=sys.stderr)
    return 0
