"""``python -m fmd_profiler.report``: read the store, write the summary and the site.

Writes the static site to ``--out`` (default ``reports/<date>``) and prints the path of its
``index.html``; ``--json`` alone writes only the machine-readable summary. User mistakes print one
line and exit with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from fmd_profiler.config import Config, load_config
from fmd_profiler.errors import ProfilerError
from fmd_profiler.queries.request_queries import Window
from fmd_profiler.report.exports import write_folded, write_speedscope
from fmd_profiler.report.json_summary import build_summary, dump_summary
from fmd_profiler.report.options import ReportOptions
from fmd_profiler.report.site import check_replaceable
from fmd_profiler.report.sources import session_opener

PROG = "python -m fmd_profiler.report"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Write a static HTML report (and/or a JSON summary) of what "
                               "fmd_profiler recorded.")
    parser.add_argument("--config", help="config file (default: $DASHBOARD_CONFIG, ./config.cfg)")
    parser.add_argument("--db", help="DuckDB file, its .spool folder, or a glob of segments "
                                     "(default: DATABASE from the config: its DuckDB file, "
                                     "or the lake in fleet mode)")
    parser.add_argument("--since", help="start of the window: 2026-11-01, 2026-11-01T08:00, "
                                        "or a duration ago such as 7d, 24h, 30m")
    parser.add_argument("--until", help="end of the window (same forms as --since)")
    parser.add_argument("--out", metavar="DIR",
                        help="folder of the HTML report (default: reports/<today>); replaced "
                             "atomically when complete")
    parser.add_argument("--endpoint", action="append", metavar="NAME",
                        help="report only this endpoint (repeat for several)")
    parser.add_argument("--compare", nargs=2, metavar=("A", "B"),
                        help="compare version A with version B on the versions page "
                             "(default: each version with the one before)")
    parser.add_argument("--json", metavar="FILE|-",
                        help="write the JSON summary to FILE or stdout; without --out, only "
                             "the summary is written")
    parser.add_argument("--folded", metavar="DIR",
                        help="write one folded-stack file per endpoint (integer µs) into DIR; "
                             "without --out, no HTML is written")
    parser.add_argument("--speedscope", metavar="FILE",
                        help="write the call stacks as a speedscope file (one profile per "
                             "endpoint); without --out, no HTML is written")
    parser.add_argument("--jobs", type=int, metavar="N",
                        help="processes drawing charts (default: one per CPU core)")
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
    config = load_config(args.config)
    window = Window(since=parse_time(args.since, config.timezone) if args.since else None,
                    until=parse_time(args.until, config.timezone) if args.until else None)
    open_session = session_opener(args.db, config)
    # The site is written when asked for with --out, or when no other output was asked for.
    exports = (args.json, args.folded, args.speedscope) != (None, None, None)
    write_html = args.out is not None or not exports
    options = report_options(config, window, args)
    out = Path(args.out) if args.out else default_out(config.timezone)
    if write_html:
        check_replaceable(out)
    with open_session() as con:
        check_scope(con, options)
        summary = build_summary(con, window) if args.json else None
        if args.folded is not None:
            written = write_folded(con, Path(args.folded), window)
            print(f"{len(written)} folded-stack files written to {args.folded}", file=sys.stderr)
        if args.speedscope is not None:
            count = write_speedscope(con, Path(args.speedscope), window)
            print(f"speedscope file with {count} profiles written to {args.speedscope}",
                  file=sys.stderr)
    if summary is not None:
        write_json(summary, args.json)
    if not write_html:
        return 0
    from fmd_profiler.report.build import build_report
    from fmd_profiler.report.render import default_processes

    result = build_report(open_session, options, out,
                          processes=args.jobs or default_processes(),
                          show_progress=sys.stderr.isatty() and not os.environ.get("CI"))
    if result.failed_charts:
        print(f"{PROG}: warning: {result.failed_charts} chart(s) could not be drawn; see the "
              "log above", file=sys.stderr)
    # stdout carries the path, unless it carries the JSON summary.
    print(result.index.resolve(), file=sys.stderr if args.json == "-" else sys.stdout)
    return 0


def report_options(config: Config, window: Window, args: argparse.Namespace) -> ReportOptions:
    if args.jobs is not None and args.jobs < 1:
        raise ProfilerError(f"--jobs {args.jobs}: give a number of processes, 1 or more")
    return ReportOptions(window=window,
                         endpoints=tuple(args.endpoint) if args.endpoint else None,
                         timezone=config.timezone,
                         compare=tuple(args.compare) if args.compare else None,
                         colors=config.colors)


def check_scope(con: object, options: ReportOptions) -> None:
    """Refuse unknown endpoints and versions with the names that do exist."""
    from fmd_profiler.queries import request_queries as queries

    if options.endpoints is not None:
        known = [row["endpoint"] for row in queries.endpoint_summary(con)]
        for name in options.endpoints:
            if name not in known:
                raise ProfilerError(f"--endpoint {name!r} is not in the store"
                                    f"{_suggest(name, known)}")
    if options.compare is not None:
        from fmd_profiler.report.report_queries import versions

        known = [v["version"] for v in versions(con, ReportOptions(window=options.window))]
        for name in options.compare:
            if name not in known:
                raise ProfilerError(f"--compare: version {name!r} served no request in this "
                                    f"window{_suggest(name, known)}")


def _suggest(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3)
    if close:
        return "; did you mean " + " or ".join(repr(c) for c in close) + "?"
    shown = ", ".join(repr(k) for k in known[:8]) + (", ..." if len(known) > 8 else "")
    return f"; known: {shown}" if known else " (it is empty)"


def default_out(tz_name: str) -> Path:
    return Path("reports") / datetime.now(ZoneInfo(tz_name)).date().isoformat()


def write_json(summary: dict[str, object], target: str) -> None:
    text = dump_summary(summary)
    if target == "-":
        sys.stdout.write(text)
    else:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        Path(target).write_text(text, encoding="utf-8")
        print(f"summary written to {target}", file=sys.stderr)
