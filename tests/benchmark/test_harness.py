"""The harness end to end on a small sample project with its own tests (tests/fixtures), in a
real temporary git repository, each run a real ``python -m fmd_profiler.benchmark`` process."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from fmd_profiler.benchmark.payload import parse_payload

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "tests" / "fixtures" / "sample_project"
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
           "GIT_AUTHOR_DATE": "1700000000 +0000", "GIT_COMMITTER_DATE": "1700000000 +0000"}

pytestmark = pytest.mark.slow


def environment(**extra):
    """A clean environment: no CI variables, no DASHBOARD_CONFIG, fmd_profiler from this tree."""
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "TMPDIR") if key in os.environ}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True, env={**environment(), **GIT_ENV}).stdout.strip()


def sample_repo(folder):
    shutil.copytree(SAMPLE, folder, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    git(folder, "init", "-q", "-b", "main")
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "sample project")
    return folder


def harness(cwd, *args, **env):
    return subprocess.run([sys.executable, "-m", "fmd_profiler.benchmark", *args], cwd=cwd,
                          env=environment(**env), capture_output=True, text=True, timeout=300)


def table(db, sql):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    repo = sample_repo(tmp_path_factory.mktemp("bench") / "project")
    db = repo.parent / "bench.duckdb"
    out = repo.parent / "run.json"
    result = harness(repo, "-n", "3", "--db", str(db), "--json", str(out))
    assert result.returncode == 0, result.stderr + result.stdout
    return repo, db, out, result


TESTS = {
    "tests/test_items.py::test_create_item", "tests/test_items.py::test_get_item",
    "tests/test_items.py::test_list_items", "tests/test_items.py::test_missing_item",
    "tests/test_items.py::test_report", "tests/test_items.py::test_without_requests",
    "tests/test_live.py::test_live_health",
    "tests/test_unittest_style.py::HealthTest::test_health"}


def test_every_test_has_a_row_in_every_round(first_run):
    _, db, _, _ = first_run
    rows = table(db, "SELECT test_id, round, outcome, call_ms FROM bench_tests")
    assert {(t, r) for t, r, _, _ in rows} == {(t, r) for t in TESTS for r in (1, 2, 3)}
    assert len(rows) == 24
    assert {outcome for _, _, outcome, _ in rows} == {"passed"}
    assert all(ms > 0 for *_, ms in rows)
    assert table(db, "SELECT rounds, warmup_rounds, tests_collected, pytest_exit, "
                     "unattributed_requests FROM bench_runs") == [(3, 1, 8, 0, 0)]


def test_requests_are_attributed_to_the_tests_that_made_them(first_run):
    _, db, _, _ = first_run
    hits = table(db, "SELECT test_id, endpoint, round, hits FROM bench_endpoints "
                     "ORDER BY ALL")
    per_test = {}
    for test_id, endpoint, round_no, count in hits:
        per_test.setdefault(test_id.split("::", 1)[1], {})[endpoint, round_no] = count
    expected = {
        "test_list_items": {"list_items": 1}, "test_get_item": {"get_item": 2},
        "test_missing_item": {"get_item": 1}, "test_create_item": {"create_item": 1,
                                                                    "list_items": 1},
        "test_report": {"report": 1},
        "HealthTest::test_health": {"health": 1},  # unittest style
        "test_live_health": {"health": 1},  # live server thread, via X-Test-Id
    }
    assert per_test == {name: {(e, r): n for e, n in counts.items() for r in (1, 2, 3)}
                        for name, counts in expected.items()}
    statuses = table(db, "SELECT DISTINCT status FROM bench_requests "
                         "WHERE test_id LIKE '%test_missing_item' ")
    assert statuses == [(404,)]


def test_the_run_carries_its_commit_and_machine(first_run):
    repo, db, _, _ = first_run
    [(sha, short, branch, dirty, committed, version, machine, python, packages)] = table(
        db, "SELECT sha, short_sha, branch, dirty, epoch(committed_at), app_version, machine, "
            "python, packages_hash FROM bench_runs")
    head = git(repo, "rev-parse", "HEAD")
    assert (sha, short, branch, dirty, committed, version) == \
        (head, head[:7], "main", False, 1_700_000_000, head[:7])
    assert len(machine) == len(packages) == 16
    assert python == ".".join(str(p) for p in sys.version_info[:3])


def test_the_json_file_is_the_stored_run(first_run):
    _, db, out, _ = first_run
    payload = parse_payload(out.read_bytes())
    assert payload.run_ids == [table(db, "SELECT run_id FROM bench_runs")[0][0]]
    assert len(payload.rows("bench_tests")) == 24
    assert len(payload.rows("bench_requests")) == table(db, "SELECT count(*) FROM "
                                                            "bench_requests")[0][0]


def test_the_report_lists_medians_and_the_endpoints_no_test_requests(first_run):
    _, _, _, result = first_run
    assert "8 tests x 3 rounds (1 warm-up); 5 endpoints hit by tests" in result.stdout
    assert "endpoints no test requests: reindex" in result.stdout
    assert "tests/test_items.py::test_report" in result.stdout
    assert "no baseline to compare with (first run of branch main on this machine)" in \
        result.stdout
    assert "round 3/3" in result.stdout  # progress, from the test process


def test_the_next_run_of_the_branch_is_compared_with_the_last(first_run):
    repo, db, _, _ = first_run
    result = harness(repo, "-n", "3", "--db", str(db), "--tests", "tests/test_items.py")
    assert result.returncode == 0, result.stderr
    first_id = table(db, "SELECT run_id FROM bench_runs ORDER BY started_at LIMIT 1")[0][0]
    verdicts = table(db, "SELECT DISTINCT baseline_run_id, verdict FROM bench_verdicts")
    # Two measured rounds a side are too few to compare: said, not guessed.
    assert verdicts == [(first_id, "too_few_samples")]
    assert f"compared with run {first_id}" in result.stdout
    assert "too few samples" in result.stdout


def test_a_detached_head_is_stored_without_a_branch(tmp_path):
    repo = sample_repo(tmp_path / "project")
    git(repo, "checkout", "-q", "--detach", "HEAD")
    db = tmp_path / "bench.duckdb"
    result = harness(repo, "-n", "1", "--db", str(db), "--tests", "tests/test_items.py")
    assert result.returncode == 0, result.stderr
    assert table(db, "SELECT branch, sha IS NOT NULL, warmup_rounds FROM bench_runs") == \
        [(None, True, 0)]
    assert "on detached HEAD" in result.stdout
    assert "HEAD is detached and no CI branch is known" in result.stdout


def test_failing_tests_are_stored_and_exit_with_status_3(tmp_path):
    repo = sample_repo(tmp_path / "project")
    (repo / "more").mkdir()
    (repo / "more" / "test_fails.py").write_text(
        "def test_fails():\n    assert False\n\ndef test_passes():\n    pass\n")
    db = tmp_path / "bench.duckdb"
    result = harness(repo, "-n", "2", "--db", str(db), "--tests", "more")
    assert result.returncode == 3, result.stderr
    assert "some tests failed" in result.stderr
    assert table(db, "SELECT test_id, outcome FROM bench_tests WHERE round = 2 ORDER BY 1") == \
        [("more/test_fails.py::test_fails", "failed"), ("more/test_fails.py::test_passes",
                                                        "passed")]


def test_exact_mode_counts_the_calls_of_the_project_functions(tmp_path):
    repo = sample_repo(tmp_path / "project")
    db = tmp_path / "bench.duckdb"
    result = harness(repo, "-n", "2", "--db", str(db), "--exact",
                     "--tests", "tests/test_items.py::test_get_item")
    assert result.returncode == 0, result.stderr
    rows = table(db, "SELECT round, function, calls FROM bench_functions ORDER BY ALL")
    calls = {(r, f): c for r, f, c in rows}
    assert calls[1, "sampleapp:get_item"] == 2
    assert calls[2, "sampleapp:get_item"] == 2
    assert calls[2, "tests.test_items:test_get_item"] == 1
    # Only the call phase is profiled: the app fixture's create_app runs in setup.
    assert (2, "sampleapp:create_app") not in calls
    assert not [f for _, f, _ in rows if f.startswith(("flask", "werkzeug", "_pytest"))]


def test_one_app_can_be_named_with_app(tmp_path):
    repo = sample_repo(tmp_path / "project")
    (repo / "wsgi.py").write_text("from sampleapp import create_app\napp = create_app()\n")
    (repo / "tests" / "test_wsgi.py").write_text(
        "from wsgi import app\n\ndef test_named():\n    assert app.test_client().get("
        "'/health').data == b'ok'\n")
    db = tmp_path / "bench.duckdb"
    result = harness(repo, "-n", "1", "--db", str(db), "--app", "wsgi:app")
    assert result.returncode == 0, result.stderr
    # Only the named app is profiled: the apps the other tests build are not.
    assert table(db, "SELECT DISTINCT test_id FROM bench_requests") == \
        [("tests/test_wsgi.py::test_named",)]


@pytest.mark.parametrize("args, message", [
    (["--tests", "nowhere"], "tests 'nowhere' do not exist"),
    (["-n", "0"], "-n 0: give 1 to 1000 rounds"),
    (["--max-extra-rounds", "-1"], "--max-extra-rounds -1: give 0 (never) to 1000 rounds"),
    (["--upload", "http://127.0.0.1:9/dashboard"], "needs the dashboard's SUBMIT_TOKEN"),
    (["--against", "no-such-rev"], "--against no-such-rev: no such revision"),
    (["--app", "nomodule"], "--app 'nomodule': write module:name"),
])
def test_mistakes_are_one_line_and_status_2(tmp_path, args, message):
    repo = sample_repo(tmp_path / "project")
    result = harness(repo, *args, "--db", str(tmp_path / "bench.duckdb"))
    assert result.returncode == 2, result.stderr + result.stdout
    [line] = result.stderr.strip().splitlines()[-1:]
    assert line.startswith("python -m fmd_profiler.benchmark: error: ")
    assert message in line
    assert "Traceback" not in result.stderr


def test_against_outside_a_repository_says_so(tmp_path):
    shutil.copytree(SAMPLE, tmp_path / "project")
    result = harness(tmp_path / "project", "--against", "HEAD~1")
    assert result.returncode == 2
    assert "--against needs a git repository" in result.stderr


def test_extra_rounds_can_be_turned_off(tmp_path):
    repo = sample_repo(tmp_path / "project")
    db, out = tmp_path / "bench.duckdb", tmp_path / "run.json"
    result = harness(repo, "--against", "HEAD", "-n", "3", "--max-extra-rounds", "0", "--db",
                     str(db), "--json", str(out), "--tests", "tests/test_items.py", "--", "-k",
                     "report")
    assert result.returncode == 0, result.stderr
    assert table(db, "SELECT label, rounds FROM bench_runs ORDER BY label") == \
        [("base", 3), ("head", 3)]
    document = json.loads(out.read_bytes())
    assert document["rounds"] == {"planned": 3, "max_extra": 0, "extra": 0, "why_extra": None,
                                  "run_again": None}
    assert parse_payload(out.read_bytes()).run_ids  # still a document the receiver takes
    assert "extra rounds" not in result.stdout + result.stderr


def test_flask_profiler_benchmark_uses_the_apps_store(tmp_path):
    repo = sample_repo(tmp_path / "project")
    db = tmp_path / "app.duckdb"
    (repo / "wsgi.py").write_text(
        "from fmd_profiler import enable_profiler\nfrom sampleapp import create_app\n"
        f"app = create_app()\nenable_profiler(app, DATABASE={str(db)!r})\n")
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "profiler", "benchmark", "-n", "1",
         "--tests", "tests/test_items.py", "--", "-k", "report"],
        cwd=repo, env=environment(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert table(db, "SELECT DISTINCT test_id FROM bench_tests") == \
        [("tests/test_items.py::test_report",)]


def test_fixtures_are_fresh_every_round_and_unlabelled_requests_are_counted(tmp_path):
    project = tmp_path / "project"
    (project / "tests").mkdir(parents=True)
    (project / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n")
    (project / "tests" / "conftest.py").write_text(
        "import pytest\n\n"
        "@pytest.fixture(scope='session')\n"
        "def log(tmp_path_factory):\n"
        f"    path = {str(tmp_path / 'log.txt')!r}\n"
        "    open(path, 'a').write('setup\\n')\n"
        "    yield\n"
        "    open(path, 'a').write('teardown\\n')\n")
    (project / "tests" / "test_live.py").write_text(
        "import threading, urllib.request\n"
        "from flask import Flask\n"
        "from werkzeug.serving import make_server\n\n"
        "def test_without_header(log):\n"
        "    app = Flask('live')\n"
        "    app.get('/ping')(lambda: 'pong')\n"
        "    server = make_server('127.0.0.1', 0, app)\n"
        "    thread = threading.Thread(target=server.handle_request)\n"
        "    thread.start()\n"
        "    url = f'http://127.0.0.1:{server.server_port}/ping'\n"
        "    assert urllib.request.urlopen(url, timeout=10).read() == b'pong'\n"
        "    thread.join(timeout=10)\n"
        "    server.server_close()\n")
    db = tmp_path / "bench.duckdb"
    result = harness(project, "-n", "3", "--db", str(db))
    assert result.returncode == 0, result.stderr + result.stdout
    assert (tmp_path / "log.txt").read_text() == "setup\nteardown\n" * 3
    assert table(db, "SELECT unattributed_requests FROM bench_runs") == [(3,)]
    assert "3 requests reached no test" in result.stdout
    assert table(db, "SELECT count(*) FROM bench_requests") == [(0,)]


def test_without_pytest_the_harness_names_the_extra_to_install(tmp_path):
    # A module that fails to import exactly as a missing package does, ahead of the real one.
    blocker = tmp_path / "no_pytest"
    blocker.mkdir()
    (blocker / "pytest.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'pytest'\", name='pytest')\n")
    repo = sample_repo(tmp_path / "project")
    result = harness(repo, "-n", "1", "--db", str(tmp_path / "bench.duckdb"),
                     PYTHONPATH=f"{blocker}{os.pathsep}{ROOT}")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "python -m fmd_profiler.benchmark: error: the harness runs your tests with pytest, which "
        "is not installed: install fmd_profiler with its harness extra, pip install "
        "'/path/to/fmd_profiler[harness]' (or pip install pytest)"]
    assert not (tmp_path / "bench.duckdb").exists()
