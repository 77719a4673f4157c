"""Where and on what a benchmark run happened: commit, machine, Python, packages, CI job.

Everything is read once at the start of a run into a frozen :class:`Provenance`. The machine
fingerprint hashes what makes timings comparable (CPU model, core count, memory, OS, Python x.y),
so a baseline is only ever taken from the same kind of machine. Inputs from the environment are
passed in (``environ``), so tests describe any CI without touching the real one.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import socket
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from fmd_profiler.version import CommitInfo, read_commit

#: CI providers: (name, variable that says we run there, job id variables, branch variables).
CI_PROVIDERS: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("github-actions", "GITHUB_ACTIONS", ("GITHUB_RUN_ID", "GITHUB_JOB", "GITHUB_RUN_ATTEMPT"),
     ("GITHUB_HEAD_REF", "GITHUB_REF_NAME")),
    ("gitlab-ci", "GITLAB_CI", ("CI_JOB_ID",), ("CI_COMMIT_REF_NAME",)),
    ("circleci", "CIRCLECI", ("CIRCLE_WORKFLOW_JOB_ID", "CIRCLE_BUILD_NUM"), ("CIRCLE_BRANCH",)),
    ("buildkite", "BUILDKITE", ("BUILDKITE_JOB_ID",), ("BUILDKITE_BRANCH",)),
    ("azure-pipelines", "TF_BUILD", ("BUILD_BUILDID",), ("BUILD_SOURCEBRANCHNAME",)),
    ("bitbucket", "BITBUCKET_BUILD_NUMBER", ("BITBUCKET_BUILD_NUMBER",), ("BITBUCKET_BRANCH",)),
    ("travis", "TRAVIS", ("TRAVIS_JOB_ID",), ("TRAVIS_BRANCH",)),
    ("jenkins", "JENKINS_URL", ("BUILD_TAG",), ("BRANCH_NAME", "GIT_BRANCH")),
)


@dataclass(frozen=True)
class CIJob:
    provider: str | None = None
    job_id: str | None = None
    ref: str | None = None  # the branch the CI builds, when it says so


@dataclass(frozen=True)
class Machine:
    fingerprint: str
    info: Mapping[str, object]
    python: str
    host: str


@dataclass(frozen=True)
class Provenance:
    commit: CommitInfo | None  # None outside a git repository
    app_version: str
    machine: Machine
    packages_hash: str
    ci: CIJob


def read_provenance(repo_path: Path | None, app_version: str | None, *,
                    environ: Mapping[str, str] | None = None, ci: bool = True) -> Provenance:
    """Describe this run. ``ci=False`` leaves the CI job out (a base run of ``--against``)."""
    environ = os.environ if environ is None else environ
    commit = None
    if repo_path is not None:
        try:
            commit = read_commit(repo_path)
        except ValueError:
            commit = None
    version = app_version or (commit.version if commit else "unversioned")
    return Provenance(commit=commit, app_version=version, machine=describe_machine(),
                      packages_hash=packages_hash(), ci=detect_ci(environ) if ci else CIJob())


def detect_ci(environ: Mapping[str, str]) -> CIJob:
    """The CI provider, job id and branch from the environment (empty outside CI)."""
    for name, marker, job_vars, ref_vars in CI_PROVIDERS:
        if environ.get(marker):
            job = "/".join(environ[v] for v in job_vars if environ.get(v)) or None
            ref = next((environ[v] for v in ref_vars if environ.get(v)), None)
            return CIJob(name, job, _short_ref(ref))
    if environ.get("CI", "").lower() in {"1", "true", "yes"}:
        return CIJob("unknown")
    return CIJob()


def _short_ref(ref: str | None) -> str | None:
    """'origin/main' and 'refs/heads/main' name the branch 'main' (Jenkins, Azure write so)."""
    if not ref:
        return None
    for prefix in ("refs/heads/", "origin/"):
        if ref.startswith(prefix):
            return ref[len(prefix):]
    return ref


def describe_machine() -> Machine:
    info: dict[str, object] = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "system": platform.system(),
        "arch": platform.machine(),
        "python": f"{platform.python_implementation()} {platform.python_version_tuple()[0]}."
                  f"{platform.python_version_tuple()[1]}",
    }
    digest = hashlib.sha256(json.dumps(info, sort_keys=True).encode()).hexdigest()[:16]
    return Machine(fingerprint=digest, info=info, python=platform.python_version(),
                   host=socket.gethostname())


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _memory_gb() -> int | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30)
    except (ValueError, OSError, AttributeError):
        return None


def packages_hash(paths: Sequence[str] | None = None) -> str:
    """A short hash of every installed distribution and its version (a changed lock file shows).

    Read from the ``<name>-<version>.dist-info`` folder names on ``sys.path``: the same facts as
    ``importlib.metadata``, without parsing hundreds of METADATA files (0.3 s per run).
    """
    names: set[str] = set()
    for entry in sys.path if paths is None else paths:
        try:
            with os.scandir(entry or ".") as found:
                names.update(e.name.lower() for e in found
                             if e.name.endswith((".dist-info", ".egg-info")))
        except OSError:
            continue
    return hashlib.sha256("\n".join(sorted(names)).encode()).hexdigest()[:16]
