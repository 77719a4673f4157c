"""The shipped config.cfg is valid and documents every key fmd_profiler knows."""

from __future__ import annotations

import re
import subprocess
import warnings
from pathlib import Path

import pytest
from flask import Flask

import fmd_profiler
from fmd_profiler.config import KEYS, ConfigWarning, load_config

SAMPLE = Path(__file__).resolve().parent.parent / "config.cfg"


def test_sample_config_loads_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        config = load_config(SAMPLE, environ={})
    assert config.monitor_level == 2


def test_sample_config_documents_every_key() -> None:
    # The docs' configuration page is generated from config.KEY_DOCS (tests/test_docs.py).
    sample = SAMPLE.read_text()
    for key in KEYS:
        assert re.search(rf"^#? ?{key} = ", sample, re.MULTILINE), f"{key} missing in config.cfg"


# The early README's sample, verbatim but for the paths (<path to your project> filled in).
EARLY_README_CONFIG = """\
[dashboard]
APP_VERSION=1.0
CUSTOM_LINK=dashboard
USERNAME=admin
PASSWORD=admin
GUEST_USERNAME=guest
GUEST_PASSWORD=['dashboardguest!', 'second_pw!']
DATABASE=sqlite:////<path to your project>/dashboard.db
GIT=/<path to your project>/.git/
TEST_DIR=/<path to your project>/tests/
N=5
SUBMIT_RESULTS_URL=http://0.0.0.0:5000/dashboard/submit-test-results
OUTLIER_DETECTION_CONSTANT=2.5
COLORS={'main':[0,97,255], 'static':[255,153,0]}
"""


def _git_project(folder: Path) -> str:
    """A real git repository with one commit; returns its short sha."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tests").mkdir()
    (folder / "app.py").write_text("print('app')\n")
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org", "HOME": str(folder), "PATH": "/usr/bin:/bin"}
    for args in (["init", "-q"], ["add", "app.py"], ["commit", "-q", "-m", "first"]):
        subprocess.run(["git", *args], cwd=folder, check=True, env=env)
    return subprocess.run(["git", "rev-parse", "--short=7", "HEAD"], cwd=folder, check=True,
                          capture_output=True, text=True, env=env).stdout.strip()


def _signs_in(app: Flask, username: str, password: str) -> bool:
    client = app.test_client()
    page = client.get("/dashboard/login")
    assert page.status_code == 200, page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    answer = client.post("/dashboard/login", data={"username": username, "password": password,
                                                   "csrf_token": token.group(1)})
    return answer.status_code == 302 and client.get("/dashboard/settings").status_code == 200


def test_the_early_readme_config_works_verbatim(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fmd_profiler.config, "_seed_config", None)  # restored afterwards
    project = tmp_path / "project"
    sha = _git_project(project)
    config_file = tmp_path / "config.cfg"
    config_file.write_text(EARLY_README_CONFIG.replace("/<path to your project>", str(project)))
    app = Flask("early_readme")

    @app.route("/")
    def main() -> str:
        return "hello"

    with pytest.warns(ConfigWarning) as caught, caplog.at_level("WARNING", "fmd_profiler"):
        fmd_profiler.config.from_file(str(config_file))
        fmd_profiler.bind(app=app)
    # One warning: the SQLite URL means the DuckDB file beside it, and how to migrate.
    assert len(caught) == 1
    assert str(project / "dashboard.duckdb") in str(caught[0].message)
    assert "python -m fmd_profiler.migrate" in str(caught[0].message)
    # SUBMIT_RESULTS_URL without a token: one line naming SUBMIT_TOKEN.
    assert sum("SUBMIT_TOKEN" in r.getMessage() for r in caplog.records) == 1
    state = app.extensions["fmd_profiler"]
    assert state.config.database == project / "dashboard.duckdb"
    assert state.version == sha  # GIT wins over APP_VERSION, as in FMD
    assert state.config.colors == {"main": "#0061ff", "static": "#ff9900"}
    assert app.test_client().get("/").text == "hello"
    # No SECRET_KEY anywhere: the dashboard still signs in the configured admin and guest.
    assert _signs_in(app, "admin", "admin")
    assert _signs_in(app, "guest", "second_pw!")
    assert not _signs_in(app, "admin", "wrong")
    secret = project / "dashboard.duckdb.secret"
    assert secret.stat().st_mode & 0o777 == 0o600
    state.runtime.stop()
    assert (project / "dashboard.duckdb.spool").is_dir()


def test_the_early_readme_command_runs_the_harness(tmp_path: Path) -> None:
    import sys

    done = subprocess.run([sys.executable, "-m", "fmd_profiler.collect_performance", "--tests",
                           str(tmp_path / "missing")], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    # The harness's own usage error (exit 2, one line naming the fix), not an import error.
    assert done.returncode == 2, done.stderr
    assert "python -m fmd_profiler.benchmark: error: tests" in done.stderr
    assert "--tests DIR or set TEST_DIR" in done.stderr
