"""``python -m fmd_profiler.migrate SOURCE [--config CFG]``: bring a Flask-MonitoringDashboard
database (2.x to 5.1) into the store.

:mod:`~fmd_profiler.migrate.fmd_source` reads FMD's tables (SQLite, or MySQL/PostgreSQL through
SQLAlchemy), :mod:`~fmd_profiler.migrate.rows` turns its rows into ours and
:mod:`~fmd_profiler.migrate.importer` writes them, batch by batch, exactly once.
"""

from __future__ import annotations

from fmd_profiler.migrate.fmd_source import MigrateError, open_source
from fmd_profiler.migrate.importer import Importer, Summary

__all__ = ["Importer", "MigrateError", "Summary", "open_source"]
