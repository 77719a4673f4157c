"""``flask profiler ...``: the report and benchmark commands inside a Flask app's CLI.

The group is named ``profiler`` because ``flask fmd`` belongs to Flask-MonitoringDashboard's
plugin entry point, which wins over ``app.cli``. Each command runs the same code as its
``python -m fmd_profiler.<command>`` twin, with the app's configuration as default.
"""

from __future__ import annotations

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
    from fmd_profiler.report.cli import main

    args = list(ctx.args)
    if "--db" not in args:
        state = current_app.extensions["fmd_profiler"]
        args += ["--db", str(state.config.database)]
    ctx.exit(main(args))
