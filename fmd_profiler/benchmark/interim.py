"""The harness's one look at an ``--against`` run after its planned rounds.

What base and head measured so far is turned into a payload and stored in a scratch store, exactly
as the finished run will be, and :func:`.regressions.why_more_rounds` - the decision the
simulation measures - says whether the extra rounds are to be run. Nothing is flagged here: the
verdicts come once, from every round, when the finished run is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fmd_profiler.benchmark.collect import build_payload
from fmd_profiler.benchmark.provenance import Provenance
from fmd_profiler.benchmark.regressions import Settings, why_more_rounds
from fmd_profiler.benchmark.runner import SideResult
from fmd_profiler.benchmark.storage import samples, store_payload
from fmd_profiler.store import Database, StoreLocation


def why_extra_rounds(results: Sequence[SideResult], provenances: Sequence[Provenance],
                     settings: Settings, scratch: Path) -> str | None:
    """Why the rounds so far do not settle the comparison of base and head (None: they do).

    ``scratch`` is a folder of the run's own; the store made there is thrown away with it.
    """
    payload, summaries = build_payload(list(zip(results, provenances, strict=True)),
                                       exact=False)
    run_ids = {s.label: s.run_id for s in summaries}
    database = Database(StoreLocation(scratch / "interim.duckdb"))
    store_payload(database, payload, settings)
    with database.read() as con:
        _, base = samples(con, run_ids["base"])
        _, head = samples(con, run_ids["head"])
    return why_more_rounds(base, head, settings)
