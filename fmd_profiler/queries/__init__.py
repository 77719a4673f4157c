"""The reading layer's SQL: requests, profiles and call trees over a read session.

Every function takes a DuckDB connection from :meth:`fmd_profiler.store.Database.read` and
returns plain rows with an explicit ``ORDER BY``; reports and the dashboard build on them.
"""
