"""Provenance of a benchmark run, read from a real git repository and a described CI."""

import platform
import subprocess

from fmd_profiler.benchmark.provenance import (
    CIJob,
    describe_machine,
    detect_ci,
    packages_hash,
    read_provenance,
)

COMMITTED_AT = 1_700_000_000


def _git(repo, *args):
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
           "GIT_AUTHOR_DATE": f"{COMMITTED_AT} +0000",
           "GIT_COMMITTER_DATE": f"{COMMITTED_AT} +0000", "PATH": "/usr/bin:/bin"}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, env=env,
                          capture_output=True, text=True).stdout.strip()


def _repo(tmp_path):
    _git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "app.py").write_text("print('v1')\n")
    _git(tmp_path, "add", "app.py")
    _git(tmp_path, "commit", "-q", "-m", "first")
    return tmp_path


def test_a_clean_branch_checkout(tmp_path):
    repo = _repo(tmp_path)
    provenance = read_provenance(repo, None, environ={})
    sha = _git(repo, "rev-parse", "HEAD")
    commit = provenance.commit
    assert (commit.sha, commit.short_sha, commit.branch, commit.dirty) == \
        (sha, sha[:7], "main", False)
    assert commit.committed_at == COMMITTED_AT
    assert provenance.app_version == sha[:7]
    assert provenance.ci == CIJob()


def test_a_detached_head_has_no_branch_and_uncommitted_changes_show(tmp_path):
    repo = _repo(tmp_path)
    (repo / "app.py").write_text("print('v2')\n")
    _git(repo, "commit", "-q", "-am", "second")
    first = _git(repo, "rev-parse", "HEAD~1")
    _git(repo, "checkout", "-q", "--detach", first)
    (repo / "app.py").write_text("print('work in progress')\n")
    provenance = read_provenance(repo, "2.0", environ={})
    assert provenance.commit.sha == first
    assert provenance.commit.branch is None
    assert provenance.commit.dirty is True
    assert provenance.app_version == "2.0"  # APP_VERSION wins over the commit


def test_outside_a_repository_there_is_no_commit(tmp_path):
    provenance = read_provenance(tmp_path, None, environ={})
    assert provenance.commit is None
    assert provenance.app_version == "unversioned"


def test_ci_providers_are_recognised_from_their_variables():
    github = {"GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "123", "GITHUB_JOB": "bench",
              "GITHUB_RUN_ATTEMPT": "2", "GITHUB_REF_NAME": "main", "GITHUB_HEAD_REF": ""}
    assert detect_ci(github) == CIJob("github-actions", "123/bench/2", "main")
    pull_request = {**github, "GITHUB_HEAD_REF": "feature/x", "GITHUB_REF_NAME": "7/merge"}
    assert detect_ci(pull_request).ref == "feature/x"
    assert detect_ci({"GITLAB_CI": "true", "CI_JOB_ID": "99", "CI_COMMIT_REF_NAME": "dev"}) == \
        CIJob("gitlab-ci", "99", "dev")
    assert detect_ci({"JENKINS_URL": "http://ci", "BUILD_TAG": "jenkins-x-7",
                      "GIT_BRANCH": "origin/main"}) == CIJob("jenkins", "jenkins-x-7", "main")
    assert detect_ci({"CI": "true"}) == CIJob("unknown")
    assert detect_ci({}) == CIJob()


def test_a_base_run_carries_no_ci_job(tmp_path):
    provenance = read_provenance(_repo(tmp_path), None, environ={"GITLAB_CI": "1"}, ci=False)
    assert provenance.ci == CIJob()


def test_the_machine_fingerprint_is_stable_and_says_what_it_is_made_of():
    first, second = describe_machine(), describe_machine()
    assert first.fingerprint == second.fingerprint
    assert len(first.fingerprint) == 16
    assert first.python == platform.python_version()
    assert set(first.info) == {"cpu", "cores", "memory_gb", "system", "arch", "python"}
    assert packages_hash() == packages_hash()


def test_the_packages_hash_changes_when_a_package_version_changes(tmp_path):
    (tmp_path / "flask-3.1.3.dist-info").mkdir()
    (tmp_path / "duckdb-2.0.1.dist-info").mkdir()
    before = packages_hash([str(tmp_path)])
    (tmp_path / "flask-3.1.3.dist-info").rename(tmp_path / "flask-3.2.0.dist-info")
    assert packages_hash([str(tmp_path)]) != before
    assert packages_hash([str(tmp_path), str(tmp_path / "missing")]) == \
        packages_hash([str(tmp_path)])
