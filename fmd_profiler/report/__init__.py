"""Reports: the JSON summary and the static HTML site built from a read session.

``python -m fmd_profiler.report`` (see :mod:`fmd_profiler.report.report_cli`) is the entry point.
The
layers: :mod:`~fmd_profiler.report.report_queries` (SQL -> DataFrames), :mod:`~.pages` (page models
with :class:`~.model.ChartSpec` charts), :mod:`~.charts` (DataFrame -> plotnine, the only module
importing plotnine), :mod:`~.render` (drawing, pooled and cached) and :mod:`~.site` (Jinja2).
New data plugs in without touching the others: a section builder appended to
``pages.endpoint.ENDPOINT_SECTIONS`` (or ``pages.versions.VERSION_SECTIONS``) returning a
:class:`~.model.Section` with its own template, or a :class:`~.pages.PageKind` appended to
``pages.SITE_PAGES`` whose ``available`` check hides the page while it has no data.
"""
