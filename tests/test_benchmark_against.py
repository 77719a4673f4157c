"""``--against REV`` in a temporary git repository whose second commit slows /report down."""

import duckdb
import pytest

from tests.test_benchmark_harness import git, harness, sample_repo

pytestmark = pytest.mark.slow


def test_a_commit_that_slows_an_endpoint_is_flagged_and_fails_the_build(tmp_path):
    repo = sample_repo(tmp_path / "project")
    app = repo / "sampleapp" / "__init__.py"
    # /report sleeps 2 ms; the new commit makes it 50 ms. Sleeping burns no CPU, and a wide gap
    # stays clear on a busy shared machine (its noise reached 20 ms per test here).
    app.write_text(app.read_text().replace("REPORT_DELAY = 0.002", "REPORT_DELAY = 0.05"))
    git(repo, "commit", "-q", "-am", "slower report")
    base_sha, head_sha = git(repo, "rev-parse", "HEAD~1"), git(repo, "rev-parse", "HEAD")
    db = tmp_path / "bench.duckdb"
    result = harness(repo, "--against", "HEAD~1", "--db", str(db),  # N defaults to 10
                     "--tests", "tests/test_items.py", "--fail-on-regression", "200")
    assert result.returncode == 1, result.stdout + result.stderr
    # Exactly the two x18-x23 slow-downs fail the build. The threshold is x3, not a tighter one:
    # base and head are one process each, and CI once ran the whole head process x1.3-1.9 slower
    # (test_without_requests included), which flagged test_get_item at x1.61 - machine noise
    # that no count of rounds within those two processes can tell from a code change.
    assert "2 significant slow-down(s) above x3.00: failing" in result.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        runs = dict(con.execute("SELECT label, sha FROM bench_runs").fetchall())
        flagged = con.execute("SELECT kind, name FROM bench_verdicts WHERE verdict = "
                              "'regression' AND ratio > 3 ORDER BY ALL").fetchall()
        compared = con.execute("SELECT count(*) FROM bench_verdicts WHERE ratio IS NOT NULL"
                               ).fetchone()[0]
        rounds = con.execute("SELECT label, count(DISTINCT round) FROM bench_tests JOIN "
                             "bench_runs USING (run_id) GROUP BY label ORDER BY label").fetchall()
    assert runs == {"base": base_sha, "head": head_sha}
    assert flagged == [("endpoint", "report"), ("test", "tests/test_items.py::test_report")], \
        result.stdout
    assert compared == 10  # 6 tests and 4 endpoints, every one compared
    assert rounds == [("base", 10), ("head", 10)]
    assert f"of {base_sha[:7]} on detached HEAD (--against HEAD~1, interleaved)" in result.stdout
    assert "WARNING" not in result.stdout  # the base run imported the base commit's code
    assert not (repo.parent / "fmd-against").exists()
    assert git(repo, "worktree", "list").count("\n") == 0  # the temporary worktree is gone
