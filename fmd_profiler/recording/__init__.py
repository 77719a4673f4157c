"""The recording layer: what runs in the monitored app's process.

The request hooks time each request into a :class:`~.request_state.RequestState` and hand one
row to the recorder; the runtime's writer thread turns the recorded rows into spool segments
(:mod:`fmd_profiler.store`) and starts their ingestion. Nothing here imports duckdb.
"""
