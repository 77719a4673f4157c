"""``flask profiler ...``: the report and benchmark commands inside a Flask app's CLI.

The group is named ``profiler`` because ``flask fmd`` belongs to Flask-MonitoringDashboard's
plugin entry point, which wins over ``app.cli``. Each command runs the same code as its
``python -m fmd_profiler.<command>`` twin, with the app's configuration as default.
"""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext


@click.group("profiler", help="fmd_profiler: reports and CI benchmarks for this app.")
def profiler_group() -> None:
    pass


@profiler_group.command("report", context_settings={"ignore_unknown_options": True,
                                                     "allow_extra_args": True})
@click.pass_context
@with_appcontext
def report_command(ctx: click.Context) -> None:
    """Write the report of this app's store (same options as python -m fmd_profiler.report)."""
    from fmd_profiler.report.report_cli import main

    ctx.exit(main(_with_app_store(ctx.args)))


@profiler_group.command("benchmark", context_settings={"ignore_unknown_options": True,
                                                        "allow_extra_args": True})
@click.pass_context
@with_appcontext
def benchmark_command(ctx: click.Context) -> None:
    """Run the tests N times and compare (same options as python -m fmd_profiler.benchmark)."""
    from fmd_profiler.benchmark.benchmark_cli import main

    args = list(ctx.args)
    # click drops the "--" that separates pytest's arguments; put it back where it was.
    if "--" in sys.argv:
        tail = sys.argv[sys.argv.index("--") + 1:]
        if tail and args[-len(tail):] == tail:
            args.insert(len(args) - len(tail), "--")
    ctx.exit(main(_with_app_store(args)))


def _with_app_store(args: list[str]) -> list[str]:
    """The arguments, with ``--db`` defaulting to the app's store (before any ``--``).

    In fleet mode the app's store is the lake, named by its config file (never by a DSN in the
    arguments, which other users of the machine can read).
    """
    args = list(args)
    options = args[:args.index("--")] if "--" in args else args
    if "--db" in options:
        return args
    config = current_app.extensions["fmd_profiler"].config
    if config.lake is None:
        added = ["--db", str(config.database)]
    elif "--config" in options:
        added = []
    elif config.source is not None:
        added = ["--config", str(config.source)]
    else:
        raise click.UsageError("this app's fleet mode is configured in code, which a command "
                               "cannot read: pass --config with a file that has the same "
                               "DATABASE and DATA_PATH")
    args[len(options):len(options)] = added
    return args
