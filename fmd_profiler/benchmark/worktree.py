"""``--against REV``: the base commit checked out in a temporary git worktree.

A worktree shares the repository's objects, so checking out REV costs a moment and leaves the
user's checkout alone; it is removed again whatever happens. The base side runs from the same
relative folder as the head and imports its code first (PYTHONPATH), so an editable install of
the project cannot make both sides test the head's code.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from fmd_profiler.errors import ProfilerError


class RevisionError(ProfilerError):
    """REV cannot be checked out (not a repository, unknown revision)."""


@dataclass(frozen=True)
class Checkout:
    repo_root: Path  # the user's work tree
    base_root: Path  # the temporary worktree at REV
    sha: str

    def translate(self, path: Path) -> Path:
        """The base checkout's counterpart of a path inside the user's work tree."""
        return self.base_root / path.resolve().relative_to(self.repo_root)


def repository_root(path: Path) -> Path:
    import git

    try:
        with git.Repo(path, search_parent_directories=True) as repo:
            if repo.working_tree_dir is None:
                raise RevisionError(f"{path} is in a bare repository; --against needs a work tree")
            return Path(repo.working_tree_dir).resolve()
    except (git.NoSuchPathError, git.InvalidGitRepositoryError):
        raise RevisionError(f"--against needs a git repository, and {path} is not inside "
                            "one") from None


@contextlib.contextmanager
def checkout(path: Path, revision: str) -> Iterator[Checkout]:
    """Check ``revision`` out next to the repository of ``path``; removed on exit."""
    import git

    root = repository_root(path)
    with git.Repo(root) as repo:
        try:
            sha = repo.commit(revision).hexsha
        except (git.BadName, ValueError, git.GitCommandError):
            raise RevisionError(
                f"--against {revision}: no such revision in {root}. A shallow CI checkout "
                "lacks history: fetch it (actions/checkout: fetch-depth: 0; GitLab: "
                "GIT_DEPTH: 0) or name a fetched ref such as origin/main") from None
        parent = Path(tempfile.mkdtemp(prefix="fmd-against-"))
        target = parent / root.name
        try:
            repo.git.worktree("add", "--detach", str(target), sha)
        except git.GitCommandError as exc:
            shutil.rmtree(parent, ignore_errors=True)
            raise RevisionError(f"--against {revision}: git could not check it out: "
                                f"{exc.stderr.strip() or exc}") from None
        try:
            yield Checkout(root, target, sha)
        finally:
            with contextlib.suppress(git.GitCommandError):
                repo.git.worktree("remove", "--force", str(target))
            shutil.rmtree(parent, ignore_errors=True)
            with contextlib.suppress(git.GitCommandError):
                repo.git.worktree("prune")
