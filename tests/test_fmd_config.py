"""Flask-MonitoringDashboard 2.x-5.x configuration files and Python names work here."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from flask import Flask

import fmd_profiler
from fmd_profiler.config import ConfigWarning, load_config
from fmd_profiler.dashboard.admin import LEVEL_NAMES
from fmd_profiler.fmd_config import fmd_level
from fmd_profiler.recording.levels import DASHBOARD_BLUEPRINT

# FMD 5.x's documented sample (its README/docs), every section present.
FMD5_CONFIG = """\
[dashboard]
APP_VERSION=1.0
GIT=/<path to your project>/.git/
CUSTOM_LINK=monitor
MONITOR_LEVEL=3
OUTLIER_DETECTION_CONSTANT=2.5
SAMPLING_PERIOD=20
ENABLE_LOGGING=True
BRAND_NAME=Example

[authentication]
USERNAME=boss
PASSWORD=fmd-admin-pw
GUEST_USERNAME=guest
GUEST_PASSWORD=['dashboardguest!', 'second_pw!']
SECURITY_TOKEN=cc83733cb0af8b884ff6577086b87909

[database]
TABLE_PREFIX=fmd
DATABASE=sqlite:////<path to your project>/fmd.db

[visualization]
TIMEZONE=Europe/Amsterdam
COLORS={'main':'[0,97,255]',
        'static':'[255,153,0]'}

[alerting]
ENABLED=True
"""


def _write(folder: Path, text: str) -> Path:
    path = folder / "fmd.cfg"
    path.write_text(text.replace("/<path to your project>", str(folder)))
    return path


def test_every_section_of_an_fmd5_file_is_read(tmp_path: Path) -> None:
    with pytest.warns(ConfigWarning) as caught:
        config = load_config(_write(tmp_path, FMD5_CONFIG), environ={})
    assert (config.username, config.password) == ("boss", "fmd-admin-pw")
    assert config.guest_password == ("dashboardguest!", "second_pw!")
    assert config.custom_link == "monitor"
    assert config.database == tmp_path / "fmd.duckdb"
    assert config.timezone == "Europe/Amsterdam"
    assert config.colors == {"main": "#0061ff", "static": "#ff9900"}
    assert config.sampling_interval_ms == 20.0
    assert config.monitor_level == 3
    assert config.git == tmp_path / ".git"
    notes = [str(w.message) for w in caught]
    # One line each for what changes meaning or does nothing here; nothing silently dropped.
    for key in ("SAMPLING_PERIOD", "ENABLE_LOGGING", "BRAND_NAME", "SECURITY_TOKEN",
                "[alerting] ENABLED", "DATABASE"):
        assert sum(key in n for n in notes) == 1, (key, notes)
    assert not any("TABLE_PREFIX" in n for n in notes)  # read by the migrate command
    assert not any("MONITOR_LEVEL" in n for n in notes)  # FMD 3 keeps its meaning in our 3


@pytest.mark.parametrize(("fmd", "ours"), [(0, 0), (1, 1), (2, 3), (3, 3)])
def test_fmd_levels_lose_nothing(tmp_path: Path, fmd: int, ours: int) -> None:
    path = _write(tmp_path, f"[dashboard]\nMONITOR_LEVEL={fmd}\n[authentication]\nPASSWORD=x\n")
    if fmd == 2:
        with pytest.warns(ConfigWarning, match="MONITOR_LEVEL = 2 .* becomes our level 3"):
            config = load_config(path, environ={})
    else:
        config = load_config(path, environ={})
    assert config.monitor_level == ours == fmd_level(fmd)


def test_our_own_file_keeps_our_level_meaning(tmp_path: Path) -> None:
    path = _write(tmp_path, "[dashboard]\nMONITOR_LEVEL=2\n")
    assert load_config(path, environ={}).monitor_level == 2


def test_unknown_keys_and_sections_are_warned(tmp_path: Path) -> None:
    path = _write(tmp_path, "[authentication]\nPASSWORD=x\nPASWORD=y\n[extra]\nFOO=1\n")
    with pytest.warns(ConfigWarning) as caught:
        load_config(path, environ={})
    notes = [str(w.message) for w in caught]
    assert any("unknown key PASWORD" in n for n in notes)
    assert any("[extra] FOO is ignored" in n for n in notes)


def test_a_file_without_any_known_section_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "[other]\nPASSWORD=x\n")
    with pytest.raises(fmd_profiler.ConfigFileError, match=r"no \[dashboard\] section"):
        load_config(path, environ={})


def _signs_in(app: Flask, prefix: str, username: str, password: str) -> bool:
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      client.get(f"/{prefix}/login").text)
    assert token
    answer = client.post(f"/{prefix}/login", data={"username": username, "password": password,
                                                    "csrf_token": token.group(1)})
    return answer.status_code == 302 and client.get(f"/{prefix}/settings").status_code == 200


def test_init_from_envvar_then_bind_starts_the_dashboard(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fmd_profiler.config, "_seed_config", None)
    path = _write(tmp_path, FMD5_CONFIG)
    monkeypatch.setenv("MY_FMD_CONFIG", str(path))
    app = Flask("fmd5")
    with pytest.warns(ConfigWarning):
        fmd_profiler.config.init_from(file="/does/not/matter.cfg", envvar="MY_FMD_CONFIG")
    profiler = fmd_profiler.bind(app, schedule=False)
    assert profiler.state(app).config.source == path.resolve()
    assert _signs_in(app, "monitor", "boss", "fmd-admin-pw")
    settings = app.test_client()
    assert _signs_in(app, "monitor", "guest", "dashboardguest!")
    del settings
    profiler.state(app).runtime.stop()


def test_init_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fmd_profiler.config, "_seed_config", None)
    path = _write(tmp_path, "[dashboard]\nAPP_VERSION=7\n")
    assert fmd_profiler.config.init_from(file=str(path)).app_version == "7"


def test_bind_without_the_dashboard_still_records(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fmd_profiler.config, "_seed_config", None)
    fmd_profiler.config.from_file(_write(tmp_path, textwrap.dedent(f"""\
        [dashboard]
        DATABASE={tmp_path / 'x.duckdb'}
        PASSWORD=pw
        """)))
    app = Flask("nodash")

    @app.route("/")
    def index() -> str:
        return "ok"

    profiler = fmd_profiler.bind(app, schedule=True, include_dashboard=False)
    assert DASHBOARD_BLUEPRINT not in app.blueprints
    assert app.test_client().get("/").status_code == 200
    runtime = profiler.state(app).runtime
    runtime.flush(ingest=True)
    from tests.helpers import query

    assert query(tmp_path / "x.duckdb", "SELECT endpoint FROM requests") == [{"endpoint": "index"}]
    runtime.stop()


def test_settings_page_shows_both_meanings_of_each_level(tmp_path: Path) -> None:
    from fmd_profiler.demo.app import create_app
    from fmd_profiler.fmd_config import our_level_as_fmd

    app = create_app(DATABASE=str(tmp_path / "l.duckdb"), PASSWORD="pw", SECRET_KEY="k" * 40)
    app.test_client().get("/api/items")
    app.extensions["fmd_profiler"].runtime.flush(ingest=True)
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/dashboard/login").text)
    assert token
    client.post("/dashboard/login", data={"username": "admin", "password": "pw",
                                          "csrf_token": token.group(1)})
    page = client.get("/dashboard/settings").text
    for level, name in LEVEL_NAMES.items():
        assert f"<td>{name}</td><td>{our_level_as_fmd(level)}</td>" in page
    assert "FMD 2 and 3" in our_level_as_fmd(3)
    app.extensions["fmd_profiler"].runtime.stop()


def test_fmd_scheduling_names_are_accepted_with_one_line_each(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="fmd_profiler"):
        assert fmd_profiler.add_graph("Users", lambda: 1, minutes=5) is None
        assert fmd_profiler.add_database_pruning_schedule(weeks_to_keep=2,
                                                          delete_custom_graph_data=True) is None
    lines = [r.getMessage() for r in caplog.records]
    assert any("add_graph('Users') is ignored" in line for line in lines)
    assert any("RETENTION_DAYS = 14" in line for line in lines)
