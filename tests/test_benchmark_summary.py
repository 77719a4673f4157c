"""The harness's terminal report, from rows as the queries return them."""

from fmd_profiler.benchmark.regressions import DEFAULT_SETTINGS
from fmd_profiler.benchmark.summary import render_run

RUN = {"run_id": "r2", "sha": "b" * 40, "short_sha": "bbbbbbb", "branch": "main", "ci_ref": None,
       "dirty": False, "app_version": "bbbbbbb", "rounds": 10, "warmup_rounds": 1,
       "label": "run"}
BASE = {**RUN, "run_id": "r1", "short_sha": "aaaaaaa"}


def verdict(name, ratio, verdict="ok", kind="test", detectable=1.2):
    return {"kind": kind, "name": name, "base_median_ms": 10.0, "head_median_ms": 10.0 * ratio,
            "ratio": ratio, "ci_low": ratio - 0.1, "ci_high": ratio + 0.1, "p_adjusted": 0.5,
            "detectable_ratio": detectable, "verdict": verdict}


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
           "        REGRESSION" in lines
    assert "1 regression among 2 comparisons" in text
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
