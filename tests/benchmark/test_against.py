"""``--against REV`` in a temporary git repository whose second commit makes /report a few
milliseconds slower: ten runs against the commit before all fail the build naming the endpoint
and its test, and ten runs of the unchanged commit against itself all pass.

Each run is a real ``python -m fmd_profiler.benchmark`` process with its two pytest processes,
so the runs are kept cheap instead of few: 8 rounds (as in issue 27) and the harness's default
extra rounds, and three of the sample project's tests - the slowed one, one hitting another
endpoint, one without requests. The slowed half needs a machine that is busy but not
oversubscribed many times over: there, a few milliseconds drown in the time the tests wait for a
CPU (the harness's report then says the machine was busy; benchmarks/RESULTS.md has the loads
this was tried at).
"""

import json

import duckdb
import pytest

from fmd_profiler.benchmark.payload import parse_payload
from fmd_profiler.benchmark.regressions import DEFAULT_EXTRA_ROUNDS
from fmd_profiler.schema import BENCH_VERDICTS
from tests.benchmark.test_harness import git, harness, sample_repo

pytestmark = pytest.mark.slow

RUNS = 10
SUITE = ("-n", "8", "--tests", "tests/test_items.py", "--fail-on-regression", "50",
         "--", "-k", "report or list_items or without_requests")


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    repo = sample_repo(tmp_path_factory.mktemp("against") / "project")
    app = repo / "sampleapp" / "__init__.py"
    # /report sleeps 2 ms; the new commit makes it 8 ms. Sleeping burns no CPU, so the gap
    # survives a busy shared machine better than the same work done in Python would.
    app.write_text(app.read_text().replace("REPORT_DELAY = 0.002", "REPORT_DELAY = 0.008"))
    git(repo, "commit", "-q", "-am", "slower report")
    return repo


@pytest.mark.once_in_ci
def test_every_run_against_the_commit_before_fails_naming_the_endpoint_and_test(repo, tmp_path):
    base_sha, head_sha = git(repo, "rev-parse", "HEAD~1"), git(repo, "rev-parse", "HEAD")
    for attempt in range(RUNS):
        db, out = tmp_path / f"bench{attempt}.duckdb", tmp_path / f"bench{attempt}.json"
        result = harness(repo, "--against", "HEAD~1", "--db", str(db), "--json", str(out),
                         *SUITE)
        assert result.returncode == 1, f"run {attempt}:\n{result.stdout}{result.stderr}"
        [failing] = [line for line in result.stderr.splitlines() if "failing" in line]
        assert "significant slow-down(s) above x1.50" in failing
        assert "report" in failing.split("(", 1)[1]
        assert "tests/test_items.py::test_report" in failing, failing
        with duckdb.connect(str(db), read_only=True) as con:
            flagged = con.execute("SELECT kind, name FROM bench_verdicts WHERE verdict = "
                                  "'regression' AND ratio > 1.5 ORDER BY ALL").fetchall()
        assert flagged == [("endpoint", "report"), ("test", "tests/test_items.py::test_report")], \
            f"run {attempt}:\n{result.stdout}"
    # What the last run stored and said, beyond the verdicts.
    with duckdb.connect(str(db), read_only=True) as con:
        runs = dict(con.execute("SELECT label, sha FROM bench_runs").fetchall())
        compared = con.execute("SELECT count(*) FROM bench_verdicts WHERE ratio IS NOT NULL"
                               ).fetchone()[0]
        rounds = con.execute("SELECT label, count(DISTINCT round) FROM bench_tests JOIN "
                             "bench_runs USING (run_id) GROUP BY label ORDER BY label").fetchall()
        set_aside = con.execute("SELECT name, base_set_aside, head_set_aside FROM "
                                "bench_verdicts ORDER BY ALL").fetchall()
    assert runs == {"base": base_sha, "head": head_sha}
    # --json carries the verdicts with the rounds each comparison set aside (None: none).
    at = [BENCH_VERDICTS.column_names.index(c) for c in ("name", "base_set_aside",
                                                         "head_set_aside")]
    in_json = sorted(tuple(v[i] for i in at)
                     for v in parse_payload(out.read_bytes()).rows("bench_verdicts"))
    assert in_json == set_aside and len(in_json) == 5
    for name, base_rounds, head_rounds in set_aside:  # and the text report names them
        line = next(line for line in result.stdout.splitlines() if f" {name} " in line)
        for side, numbers in (("base", base_rounds), ("head", head_rounds)):
            assert (f"{side} r{(numbers or '').replace(' ', '')}" in line) == bool(numbers), line
    assert compared == 5  # 3 tests and the 2 endpoints they hit
    # A flag is only raised on all rounds: the first 8 asked for the extra ones, and said why.
    extra = DEFAULT_EXTRA_ROUNDS
    assert rounds == [("base", 8 + extra), ("head", 8 + extra)]
    said = json.loads(out.read_bytes())["rounds"]
    assert (said["planned"], said["max_extra"], said["extra"]) == (8, extra, extra)
    assert "report" in said["why_extra"]
    assert f"extra rounds: {extra} of up to {extra} (--max-extra-rounds), because after the " \
        "first 8 rounds" in result.stdout
    assert f"of {base_sha[:7]} on detached HEAD (--against HEAD~1, interleaved)" in result.stdout
    assert "WARNING" not in result.stdout  # the base run imported the base commit's code
    assert git(repo, "worktree", "list").count("\n") == 0  # the temporary worktree is gone


@pytest.mark.once_in_ci
def test_every_run_of_the_unchanged_commit_against_itself_passes(repo, tmp_path):
    flagged_runs = []
    for attempt in range(RUNS):
        db = tmp_path / f"bench{attempt}.duckdb"
        result = harness(repo, "--against", "HEAD", "--db", str(db), *SUITE)
        assert result.returncode == 0, f"run {attempt}:\n{result.stdout}{result.stderr}"
        with duckdb.connect(str(db), read_only=True) as con:
            flagged = con.execute("SELECT name, ratio FROM bench_verdicts "
                                  "WHERE verdict = 'regression'").fetchall()
        if flagged:
            flagged_runs.append((attempt, flagged, result.stdout))
        else:
            assert "0 regressions" in result.stdout
    # Every run exits 0 (nothing above x1.50). A flag at the default x1.10 may still be raised
    # in an A/A run: the verdicts promise it in under 1 % of runs (docs/ci-harness.md), not in
    # none, and `make test` makes 30 such runs (10 on each Python); one flagged run in ten is
    # allowed, two would come with 0.4 % odds at the promised rate.
    assert len(flagged_runs) <= 1, "\n\n".join(
        f"run {attempt} flagged {flagged}:\n{stdout}" for attempt, flagged, stdout in flagged_runs)


SLOW_PROCESS = '''

import os as _os
import sys as _sys
from pathlib import Path as _Path


def _slow_this_process():
    """The head's test process runs slower as a whole, as on a slower core: every line of
    Python pays for a trace hook. Once only (a marker file) unless SLOW_HEAD_ALWAYS is set."""
    if _Path.cwd().resolve() != _Path(_os.environ["HEAD_DIR"]).resolve():
        return
    marker = _Path(_os.environ["SLOW_MARKER"])
    if marker.exists() and not _os.environ.get("SLOW_HEAD_ALWAYS"):
        return
    marker.touch()

    def trace(frame, event, arg):
        sum(range(50))  # some work on every line
        return trace

    _sys.settrace(trace)


_slow_this_process()
'''


def slowed_repo(folder):
    repo = sample_repo(folder)
    conftest = repo / "tests" / "conftest.py"
    conftest.write_text(conftest.read_text() + SLOW_PROCESS)
    git(repo, "commit", "-q", "-am", "a process that can run slower as a whole")
    return repo


WHOLE = ("-n", "8", "--tests", "tests/test_items.py", "--fail-on-regression", "50",
         "--", "-k", "list_items or get_item or missing_item or create_item or report")


@pytest.mark.once_in_ci
def test_a_head_process_slower_as_a_whole_is_run_again_and_then_passes(tmp_path):
    repo = slowed_repo(tmp_path / "project")
    marker, out = tmp_path / "slowed-once", tmp_path / "run.json"
    result = harness(repo, "--against", "HEAD", "--db", str(tmp_path / "b.duckdb"), "--json",
                     str(out), *WHOLE, HEAD_DIR=str(repo), SLOW_MARKER=str(marker))
    assert marker.exists()  # the first head process was slowed
    assert result.returncode == 0, result.stdout + result.stderr
    assert "so both commits run again in new processes, once" in result.stderr
    [line] = [line for line in result.stdout.splitlines() if line.startswith("run again")]
    assert "against the base's as a whole" in line and "flagged" in line
    assert json.loads(out.read_bytes())["rounds"]["run_again"] in line


@pytest.mark.once_in_ci
def test_a_commit_that_slows_every_test_still_fails_after_running_again(tmp_path):
    repo = slowed_repo(tmp_path / "project")
    base = git(repo, "rev-parse", "HEAD~1")  # the sample project without the slow conftest
    result = harness(repo, "--against", base, "--db", str(tmp_path / "b.duckdb"), *WHOLE,
                     HEAD_DIR=str(repo), SLOW_MARKER=str(tmp_path / "marker"),
                     SLOW_HEAD_ALWAYS="1")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "so both commits run again in new processes, once" in result.stderr
    assert "run again in new processes" in result.stdout
    assert "the shift came back: the commit's, not one process's" in result.stdout  # 5 tests
    assert "significant slow-down(s) above x1.50" in result.stderr
