"""The version label from git: sha, tag, dirty flag, detached HEAD, packed refs."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest

from fmd_profiler.version import UNVERSIONED, detect_version, read_commit


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True, env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x",
                                          "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x",
                                          "PATH": "/usr/bin:/bin", "HOME": str(repo)}
                          ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "app.py").write_text("print('v1')\n")
    git(path, "add", "app.py")
    git(path, "commit", "-q", "-m", "first")
    return path


def test_short_sha_and_branch(repo: Path) -> None:
    info = read_commit(repo)
    sha = git(repo, "rev-parse", "HEAD")
    assert (info.sha, info.short_sha, info.branch, info.tag, info.dirty) == (
        sha, sha[:7], "main", None, False)
    assert info.version == sha[:7]


def test_tag_wins_and_dirty_is_flagged(repo: Path) -> None:
    git(repo, "tag", "-a", "v1.2.0", "-m", "release")
    assert read_commit(repo).version == "v1.2.0"
    (repo / "app.py").write_text("print('changed')\n")
    assert read_commit(repo).version == "v1.2.0+dirty"


def test_detached_head_with_packed_refs_like_a_ci_checkout(repo: Path) -> None:
    (repo / "app.py").write_text("print('v2')\n")
    git(repo, "commit", "-q", "-am", "second")
    git(repo, "tag", "v2")
    git(repo, "pack-refs", "--all")
    sha = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "--detach", sha)
    info = read_commit(repo / ".git")  # GIT may name the .git folder, as in the seed README
    assert (info.branch, info.tag, info.sha) == (None, "v2", sha)
    assert detect_version(None, repo) == "v2"


def test_git_wins_over_app_version_as_in_fmd(repo: Path) -> None:
    assert detect_version("3.1", repo) == detect_version(None, repo) != "3.1"


def test_not_a_repository_is_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="fmd_profiler"):
        assert detect_version(None, tmp_path) == UNVERSIONED
    assert "not inside a git repository" in caplog.text
    assert "Point GIT at the repository or remove it" in caplog.text


def test_an_unreadable_git_falls_back_to_app_version(tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="fmd_profiler"):
        assert detect_version("3.1", tmp_path) == "3.1"
    assert "labelled '3.1'" in caplog.text


def test_no_setting_means_unversioned() -> None:
    assert detect_version(None, None) == UNVERSIONED
