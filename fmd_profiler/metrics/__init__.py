"""Prometheus metrics (``PROMETHEUS = true``): what the writer thread already has, for scrapers.

Layers, one way: :mod:`.counters` (pure: request rows -> counts and duration histograms per
endpoint, method and status class) -> :mod:`.files` (one JSON file per process in the store's
folder, merged by the reader; files of dead processes folded into one archive) ->
:mod:`.exposition` (Prometheus text format) -> :mod:`.route` (the Flask view and who may read
it). Nothing here runs on a request thread except the scrape itself.
"""
