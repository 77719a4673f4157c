"""The CI benchmark harness: the project's test suite run N times, per commit, compared.

``python -m fmd_profiler.benchmark`` (see :mod:`.cli`) runs pytest with :mod:`.plugin`, which
repeats the suite and labels every request with its test; :mod:`.collect` turns the results into
a :mod:`.payload`, :mod:`.storage` stores it and judges it (:mod:`.regressions`,
:mod:`.stats`), :mod:`.upload` sends it to a dashboard's :mod:`.receiver`; :mod:`.queries`
reads it back for reports. Live-server tests forward their test with :func:`test_headers`.
"""

from fmd_profiler.benchmark.labels import test_headers

__all__ = ["test_headers"]
