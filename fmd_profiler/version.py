"""The application version every request is labelled with.

When ``GIT`` names a repository (its folder or its ``.git`` folder), the short commit sha, or
the tag when HEAD is tagged, plus ``+dirty`` when the work tree has changes: GIT wins over
``APP_VERSION``, as in Flask-MonitoringDashboard. Otherwise ``APP_VERSION``. Works on detached
HEADs and packed refs (CI checkouts). Read once per process.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("fmd_profiler")

UNVERSIONED = "unversioned"


@dataclass(frozen=True)
class CommitInfo:
    """What git says about HEAD."""

    sha: str
    short_sha: str
    tag: str | None
    branch: str | None  # None on a detached HEAD
    dirty: bool
    committed_at: float  # epoch seconds

    @property
    def version(self) -> str:
        label = self.tag or self.short_sha
        return f"{label}+dirty" if self.dirty else label


def read_commit(path: Path) -> CommitInfo:
    """Describe HEAD of the repository at ``path`` (a work tree, a subfolder or a ``.git``).

    Raises :class:`fmd_profiler.errors.ConfigError`-free ``ValueError`` with a clear message when
    ``path`` is not a git repository; callers decide whether that is fatal.
    """
    import git  # gitpython: imported here so the request path never pays for it

    try:
        repo = git.Repo(path, search_parent_directories=True)
    except (git.NoSuchPathError, git.InvalidGitRepositoryError):
        raise ValueError(f"{path} is not inside a git repository") from None
    with repo:
        try:
            head = repo.head.commit
        except ValueError:
            raise ValueError(f"the git repository at {path} has no commits yet") from None
        # Tags point at commits directly or through annotated tag objects; both resolve here.
        # packed-refs are read by gitpython's reference parser, so CI checkouts work.
        tags = sorted(t.name for t in repo.tags if _tag_commit(t) == head.hexsha)
        branch = None if repo.head.is_detached else repo.active_branch.name
        dirty = repo.is_dirty(untracked_files=False) if not repo.bare else False
        return CommitInfo(sha=head.hexsha, short_sha=head.hexsha[:7],
                          tag=tags[-1] if tags else None, branch=branch, dirty=dirty,
                          committed_at=float(head.committed_date))


def _tag_commit(tag: object) -> str | None:
    try:
        return tag.commit.hexsha  # type: ignore[attr-defined]
    except ValueError:  # a tag pointing at a tree or blob
        return None


def detect_version(app_version: str | None, git_path: Path | None) -> str:
    """The version label for this process; never raises (a broken repo is a warning).

    ``GIT`` wins over ``APP_VERSION`` when both are set, as in Flask-MonitoringDashboard; a
    repository that cannot be read falls back to ``APP_VERSION``.
    """
    if git_path is None:
        return app_version or UNVERSIONED
    try:
        return read_commit(git_path).version
    except Exception as exc:
        fallback = app_version or UNVERSIONED
        log.warning("fmd_profiler: cannot read the version from GIT=%s (%s); requests are "
                    "labelled %r. Point GIT at the repository or remove it.",
                    git_path, exc, fallback)
        return fallback
