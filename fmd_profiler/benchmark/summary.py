"""The harness's terminal report: plain text from the rows the benchmark queries return.

Pure formatting (rows in, lines out): what a CI log shows is what the store and the dashboard
say, never a separate computation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fmd_profiler.benchmark.collect import SideSummary
from fmd_profiler.benchmark.regressions import Settings, whole_shift
from fmd_profiler.benchmark.runner import Extra

NO_EXTRA = Extra()

Row = Mapping[str, Any]


def render_run(run: Row, baseline: Row | None, sides: Sequence[SideSummary],
               tests: Sequence[Row], endpoints: Sequence[Row], verdicts: Sequence[Row],
               settings: Settings, how_baseline: str,
               machine_load: tuple[float, int] | None = None, extra: Extra = NO_EXTRA,
               again: str | None = None) -> str:
    """``machine_load``: the load average when the suite finished and the CPU count;
    ``extra``: the extra rounds the harness allowed and ran; ``again``: why both commits ran a
    second time (these are the second run's rounds)."""
    lines = [_headline(run, baseline, how_baseline)]
    lines.append(f"{len(tests)} tests x {run['rounds']} rounds ({run['warmup_rounds']} warm-up); "
                 f"{len(endpoints)} endpoints hit by tests")
    if again:
        lines.append(f"run again in new processes: in the first run {again}; what follows is "
                     "the second run, which decides")
    if extra.allowed:
        lines.append(_extra_note(run["rounds"], extra))
    for side in sides:
        lines += _side_notes(side)
    if verdicts:
        lines += ["", *_verdict_table(verdicts), "", *_verdict_totals(verdicts, settings)]
        drift = _drift_note(verdicts, settings, interleaved=run.get("label") == "head")
        if drift and again:
            drift += (". This run is already the second, in new processes, and the shift came "
                      "back: the commit's, not one process's")
        if drift:
            lines.append(drift)
        busy = _busy_note(machine_load)
        if busy:
            lines.append(busy)
    else:
        lines += ["", *_medians_tables(tests, endpoints), "", _no_baseline(run, how_baseline)]
    return "\n".join(lines) + "\n"


def _describe(run: Row) -> str:
    if not run.get("sha"):
        return f"version {run['app_version']} (no git repository)"
    branch = run.get("branch") or run.get("ci_ref") or "detached HEAD"
    dirty = ", with uncommitted changes" if run.get("dirty") else ""
    return f"{run['short_sha']} on {branch}{dirty}"


def _headline(run: Row, baseline: Row | None, how: str) -> str:
    text = f"fmd_profiler benchmark: run {run['run_id']} of {_describe(run)}"
    if baseline is not None:
        text += f"\n  compared with run {baseline['run_id']} of {_describe(baseline)} ({how})"
    return text


def _extra_note(rounds: int, extra: Extra) -> str:
    planned = rounds - extra.run
    if extra.why is None:
        return (f"extra rounds: none needed, the first {planned} settled every comparison "
                f"(up to {extra.allowed} allowed, --max-extra-rounds)")
    return (f"extra rounds: {extra.run} of up to {extra.allowed} (--max-extra-rounds), because "
            f"after the first {planned} rounds {extra.why}; every verdict below is decided once, "
            "on all rounds")


def _side_notes(side: SideSummary) -> list[str]:
    notes = []
    prefix = f"  {side.label}: " if side.label != "run" else "  "
    if side.unattributed:
        notes.append(f"{prefix}{side.unattributed} requests reached no test: a live server in "
                     "another thread or process needs the X-Test-Id header "
                     "(fmd_profiler.benchmark.test_headers())")
    if side.untested_endpoints:
        shown = ", ".join(side.untested_endpoints[:10])
        more = f" and {len(side.untested_endpoints) - 10} more" if \
            len(side.untested_endpoints) > 10 else ""
        notes.append(f"{prefix}endpoints no test requests: {shown}{more}")
    if side.foreign_modules:
        notes.append(f"{prefix}WARNING: imported {', '.join(side.foreign_modules[:5])} from the "
                     "current checkout, not the base commit (an editable install?); the "
                     "comparison may test the same code twice")
    return notes


_VERDICT_LABELS = {"regression": "REGRESSION", "ok": "ok", "inconclusive": "inconclusive"}


def _verdict_table(verdicts: Sequence[Row]) -> list[str]:
    header = ("kind", "name", "base ms", "head ms", "ratio", "95% CI", "p adj", "detectable",
              "set aside", "verdict")
    table = [header]
    for v in verdicts:
        if v["ratio"] is None:
            table.append((v["kind"], v["name"], "", "", "", "", "", "", "",
                          v["verdict"].replace("_", " ")))
            continue
        detectable = "none" if v["detectable_ratio"] is None else f"x{v['detectable_ratio']:.2f}"
        high = "inf" if v["ci_high"] is None else f"{v['ci_high']:.2f}"
        table.append((v["kind"], v["name"], f"{v['base_median_ms']:.3f}",
                      f"{v['head_median_ms']:.3f}", f"x{v['ratio']:.2f}",
                      f"[{v['ci_low']:.2f}, {high}]", f"{v['p_adjusted']:.3g}",
                      detectable, _set_aside_cell(v),
                      _VERDICT_LABELS.get(v["verdict"], str(v["verdict"]))))
    return _columns(table, right={2, 3, 4, 6})


def _set_aside_cell(v: Row) -> str:
    return " ".join(f"{side} r{v[f'{side}_set_aside'].replace(' ', '')}"
                    for side in ("base", "head") if v.get(f"{side}_set_aside"))


def _verdict_totals(verdicts: Sequence[Row], settings: Settings) -> list[str]:
    flagged = sum(v["verdict"] == "regression" for v in verdicts)
    unsure = sum(v["verdict"] == "inconclusive" for v in verdicts)
    compared = sum(v["ratio"] is not None for v in verdicts)
    blind = sum(v["ratio"] is not None and v["detectable_ratio"] is None for v in verdicts)
    text = (f"{flagged} regression{'s' if flagged != 1 else ''}, {unsure} inconclusive among "
            f"{compared} comparisons (flagged when slower by more than x{settings.threshold:.2f} "
            f"and {settings.min_change_ms:g} ms with Benjamini-Hochberg-adjusted "
            f"p < {settings.alpha:g}; ok when the interval rules that out)")
    if blind:
        text += (f"; {blind} comparisons had too few rounds to detect anything at this level: "
                 "raise -n")
    lines = [text]
    if unsure:
        lines.append(f"inconclusive: {unsure} comparison{'s' if unsure != 1 else ''} could be "
                     f"slower by more than x{settings.threshold:.2f} but did not show it clearly "
                     "(too noisy or too few rounds): not an ok; raise -n or run again to tell")
    set_aside = _set_aside_rounds(verdicts)
    if set_aside:
        lines.append(f"outlier rounds set aside (slower than twice the side's median): "
                     f"{set_aside}; a machine's hiccup, not the code")
    return lines


def _set_aside_rounds(verdicts: Sequence[Row]) -> str:
    """"base round 8 (5 comparisons), head round 3 (1 comparison)", most frequent first."""
    counts: dict[tuple[str, int], int] = {}
    for v in verdicts:
        for side in ("base", "head"):
            for number in (v.get(f"{side}_set_aside") or "").split(","):
                if number.strip():
                    key = (side, int(number))
                    counts[key] = counts.get(key, 0) + 1
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{side} round {number} ({n} comparison{'s' if n != 1 else ''})"
                     for (side, number), n in ordered)


def _drift_note(verdicts: Sequence[Row], settings: Settings, *, interleaved: bool) -> str | None:
    """A warning when the whole run moved: the machine, not a commit, may be why."""
    ratios = [v["ratio"] for v in verdicts if v["kind"] == "test" and v["ratio"] is not None]
    shift = whole_shift(ratios)
    if shift is None or 1 / settings.threshold <= shift <= settings.threshold:
        return None
    if interleaved:
        # Interleaving cancels the machine's drift, not a difference between the two processes:
        # CI once ran a whole head process x1.3-1.9 slower, a test without requests included.
        text = (f"note: the head's tests ran x{shift:.2f} against the base's as a whole (median "
                f"over {len(ratios)} tests). Base and head run in one process each, so a shift "
                "of one whole process (the CPU it ran on, its memory layout) reads as a change "
                "of every test. ")
        if shift < 1:
            return text + (
                "Flagged lines stand: they were slower in spite of it. An ok does not: a "
                f"slow-down of up to x{settings.threshold / shift:.2f} could hide behind this "
                "shift. Unless the commit made everything faster, run again before trusting the "
                "ok lines")
        flagged = [v for v in verdicts if v["verdict"] == "regression"]
        within = [v["name"] for v in flagged if v["ratio"] <= shift * settings.threshold]
        return text + (
            f"{len(within)} of the {len(flagged)} flagged lines are no slower than the whole "
            f"process times x{settings.threshold:.2f}"
            + (f" ({', '.join(within[:3])}{', ...' if len(within) > 3 else ''})" if within
               else "")
            + " and may be the process, not the code. Run again: if the shift stays, the "
            "commit slows everything (a helper every test calls) and the flags are real")
    return (f"note: the whole run is x{shift:.2f} against its baseline (median over {len(ratios)} "
            "tests). When everything moves together the machine's state (load, CPU frequency) "
            "may be the cause, not the commit: --against REV runs both commits interleaved on "
            "the same machine at the same time")


#: Runnable processes per CPU above which the tests' rounds wait for the CPU unevenly.
BUSY_LOAD_PER_CPU = 1.5


def _busy_note(machine_load: tuple[float, int] | None) -> str | None:
    if machine_load is None:
        return None
    load, cpus = machine_load
    if load <= BUSY_LOAD_PER_CPU * cpus:
        return None
    return (f"note: the machine was busy while the suite ran (load average {load:.1f} on {cpus} "
            "CPUs): the tests waited for the CPU more in some rounds than in others, which "
            "widens every comparison. Expect inconclusive lines; run on a quieter machine or "
            "raise -n before trusting an ok")


def _medians_tables(tests: Sequence[Row], endpoints: Sequence[Row]) -> list[str]:
    test_table = [("test", "median ms", "passed")]
    test_table += [(t["test_id"], _ms(t["median_call_ms"]), f"{t['passed']}/{t['rounds']}")
                   for t in tests]
    endpoint_table = [("endpoint", "median ms", "p95 ms", "hits/round", "tests")]
    endpoint_table += [(e["endpoint"], _ms(e["median_ms"]), _ms(e["p95_ms"]),
                        f"{e['hits_per_round']:g}", str(e["tests"])) for e in endpoints]
    return [*_columns(test_table, right={1, 2}), "",
            *(_columns(endpoint_table, right={1, 2, 3, 4}) if endpoints else
              ["no endpoint was requested by the tests"])]


def _no_baseline(run: Row, how: str) -> str:
    return (f"no baseline to compare with ({how}); this run is the baseline of the next run of "
            "the same branch on this machine, or compare two commits with --against REV")


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def _columns(rows: Sequence[Sequence[str]], right: set[int]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.rjust(w) if i in right else cell.ljust(w)
                      for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip()
            for row in rows]
