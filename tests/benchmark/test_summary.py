"""The harness's terminal report, from rows as the queries return them."""

from fmd_profiler.benchmark.regressions import DEFAULT_SETTINGS
from fmd_profiler.benchmark.runner import Extra
from fmd_profiler.benchmark.summary import render_run

RUN = {"run_id": "r2", "sha": "b" * 40, "short_sha": "bbbbbbb", "branch": "main", "ci_ref": None,
       "dirty": False, "app_version": "bbbbbbb", "rounds": 10, "warmup_rounds": 1,
       "label": "run"}
BASE = {**RUN, "run_id": "r1", "short_sha": "aaaaaaa"}


def verdict(name, ratio, verdict="ok", kind="test", detectable=1.2, base_set_aside=None,
            head_set_aside=None):
    return {"kind": kind, "name": name, "base_median_ms": 10.0, "head_median_ms": 10.0 * ratio,
            "ratio": ratio, "ci_low": ratio - 0.1, "ci_high": ratio + 0.1, "p_adjusted": 0.5,
            "detectable_ratio": detectable, "base_set_aside": base_set_aside,
            "head_set_aside": head_set_aside, "verdict": verdict}


def render(verdicts, run=RUN):
    return render_run(run, BASE, [], [], [], verdicts, DEFAULT_SETTINGS,
                      "the last run of this branch on this machine")


def test_verdicts_show_medians_ratio_interval_and_the_detectable_change():
    text = render([verdict("tests/t.py::test_a", 1.5, "regression", detectable=None),
                   verdict("index", 1.0, kind="endpoint")])
    lines = text.splitlines()
    assert lines[0] == "fmd_profiler benchmark: run r2 of bbbbbbb on main"
    assert lines[1] == ("  compared with run r1 of aaaaaaa on main (the last run of this branch "
                        "on this machine)")
    assert "test      tests/t.py::test_a   10.000   15.000  x1.50  [1.40, 1.60]    0.5  none" \
           "                   REGRESSION" in lines
    assert "1 regression, 0 inconclusive among 2 comparisons" in text
    assert "1 comparisons had too few rounds to detect anything at this level: raise -n" in text


def test_a_run_that_moved_as_a_whole_is_pointed_at_the_machine():
    slower = [verdict(f"tests/t.py::test_{i}", 1.3) for i in range(6)]
    assert "note: the whole run is x1.30 against its baseline (median over 6 tests)" in \
        render(slower)
    assert "note:" not in render([verdict(f"tests/t.py::test_{i}", 1.02) for i in range(6)])
    # Interleaved base and head share the machine's drift, not their processes' own speed.
    assert "note: the head's tests ran x1.30 against the base's as a whole (median over 6 " \
        "tests). Base and head run in one process each" in render(slower, {**RUN, "label": "head"})
    assert "note:" not in render([verdict(f"tests/t.py::test_{i}", 1.02) for i in range(6)],
                                 {**RUN, "label": "head"})


def test_outlier_rounds_set_aside_are_named_per_line_and_in_total():
    text = render([verdict("tests/t.py::test_a", 3.0, "regression", base_set_aside="8"),
                   verdict("items", 1.0, kind="endpoint", base_set_aside="8",
                           head_set_aside="2, 5")])
    [flagged] = [line for line in text.splitlines() if line.startswith("test ")]
    [items] = [line for line in text.splitlines() if line.startswith("endpoint ")]
    assert flagged.split()[-2:] == ["r8", "REGRESSION"]
    assert items.endswith("base r8 head r2,5  ok")
    assert ("outlier rounds set aside (slower than twice the side's median): base round 8 "
            "(2 comparisons), head round 2 (1 comparison), head round 5 (1 comparison)") in text
    assert "outlier rounds" not in render([verdict("tests/t.py::test_a", 1.0)])


def test_an_inconclusive_line_is_not_an_ok():
    text = render([verdict("tests/t.py::test_a", 1.4, "inconclusive")])
    assert text.splitlines()[5].endswith("inconclusive")
    assert "0 regressions, 1 inconclusive among 1 comparisons" in text
    assert "1 comparison could be slower by more than x1.10 but did not show it clearly" in text


def test_a_head_process_faster_as_a_whole_says_which_verdicts_stand():
    faster = [verdict(f"tests/t.py::test_{i}", 0.79) for i in range(6)]
    faster.append(verdict("report", 2.4, "regression", kind="endpoint"))
    text = render(faster, {**RUN, "label": "head"})
    assert "note: the head's tests ran x0.79 against the base's as a whole" in text
    assert "Flagged lines stand: they were slower in spite of it" in text
    assert "a slow-down of up to x1.39 could hide behind this shift" in text


def test_a_head_process_slower_as_a_whole_names_the_flags_it_could_explain():
    slower = [verdict(f"tests/t.py::test_{i}", 1.5, "regression") for i in range(5)]
    slower.append(verdict("tests/t.py::test_x", 3.0, "regression"))
    text = render(slower, {**RUN, "label": "head"})
    assert "note: the head's tests ran x1.50 against the base's as a whole" in text
    assert ("5 of the 6 flagged lines are no slower than the whole process times x1.10 "
            "(tests/t.py::test_0, tests/t.py::test_1, tests/t.py::test_2, ...) and may be the "
            "process, not the code. Run again") in text


def test_a_busy_machine_is_named_as_a_reason_for_wide_verdicts():
    verdicts = [verdict("tests/t.py::test_a", 1.3, "inconclusive")]
    text = render_run(RUN, BASE, [], [], [], verdicts, DEFAULT_SETTINGS, "x",
                      machine_load=(25.3, 2))
    assert ("note: the machine was busy while the suite ran (load average 25.3 on 2 CPUs): "
            "the tests waited for the CPU more in some rounds than in others") in text
    quiet = render_run(RUN, BASE, [], [], [], verdicts, DEFAULT_SETTINGS, "x",
                       machine_load=(2.9, 2))
    assert "busy" not in quiet


def test_the_report_says_how_many_extra_rounds_ran_and_why():
    run = {**RUN, "rounds": 12, "label": "head"}
    text = render_run(run, BASE, [], [], [], [verdict("index", 1.0)], DEFAULT_SETTINGS, "x",
                      extra=Extra(allowed=4, run=4, why="1 comparison inconclusive (index)"))
    assert text.splitlines()[3] == (
        "extra rounds: 4 of up to 4 (--max-extra-rounds), because after the first 8 rounds "
        "1 comparison inconclusive (index); every verdict below is decided once, on all rounds")
    settled = render_run({**RUN, "label": "head"}, BASE, [], [], [], [verdict("index", 1.0)],
                         DEFAULT_SETTINGS, "x", extra=Extra(allowed=4))
    assert ("extra rounds: none needed, the first 10 settled every comparison (up to 4 "
            "allowed, --max-extra-rounds)") in settled.splitlines()
    # Off (--max-extra-rounds 0), or a run without --against: nothing to say.
    assert "extra rounds" not in render([verdict("index", 1.0)])
