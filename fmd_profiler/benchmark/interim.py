"""The harness's looks at an ``--against`` run before it is stored.

What base and head measured is turned into a payload and stored in a scratch store, exactly as
the finished run will be. After the planned rounds :func:`.regressions.why_more_rounds` - the
decision the simulation measures - says whether the extra rounds are to be run; after the last
round :func:`.regressions.why_run_again` says whether the head's process as a whole ran slower
than the base's. Nothing is flagged here: the verdicts come from the run that is stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from fmd_profiler.benchmark.collect import build_payload
from fmd_profiler.benchmark.provenance import Provenance
from fmd_profiler.benchmark.regressions import (
    Key,
    Settings,
    judge,
    why_more_rounds,
    why_run_again,
)
from fmd_profiler.benchmark.runner import SideResult
from fmd_profiler.benchmark.storage import samples, store_payload
from fmd_profiler.store import Database, StoreLocation


def why_extra_rounds(results: Sequence[SideResult], provenances: Sequence[Provenance],
                     settings: Settings, scratch: Path) -> str | None:
    """Why the rounds so far do not settle the comparison of base and head (None: they do).

    ``scratch`` is a folder of the run's own; the store made there is thrown away with it.
    """
    base, head = _samples(results, provenances, settings, scratch / "interim.duckdb")
    return why_more_rounds(base, head, settings)


def why_again(results: Sequence[SideResult], provenances: Sequence[Provenance],
              settings: Settings, scratch: Path) -> str | None:
    """Why base and head are to be run again in new processes (None: the run stands)."""
    base, head = _samples(results, provenances, settings, scratch / "whole.duckdb")
    return why_run_again(judge(base, head, settings), settings)


def _samples(results: Sequence[SideResult], provenances: Sequence[Provenance],
             settings: Settings, path: Path) -> tuple[Mapping[Key, list[float]],
                                                      Mapping[Key, list[float]]]:
    payload, summaries = build_payload(list(zip(results, provenances, strict=True)),
                                       exact=False)
    run_ids = {s.label: s.run_id for s in summaries}
    database = Database(StoreLocation(path))
    store_payload(database, payload, settings)
    with database.read() as con:
        _, base = samples(con, run_ids["base"])
        _, head = samples(con, run_ids["head"])
    return base, head
