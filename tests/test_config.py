"""Configuration: file location, precedence, every key's parser and its error message."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from flask import Flask

import fmd_profiler
from fmd_profiler.config import ConfigWarning, load_config
from fmd_profiler.errors import ConfigError, ConfigFileError


def write_config(folder: Path, body: str, name: str = "config.cfg") -> Path:
    path = folder / name
    path.write_text("[dashboard]\n" + textwrap.dedent(body))
    return path


def test_defaults_without_any_file(tmp_path: Path) -> None:
    config = load_config(environ={})
    assert config.monitor_level == 2
    assert config.sampling_interval_ms == 10.0
    assert config.database == tmp_path / "fmd_profiler.duckdb"
    assert config.password is None  # no built-in credentials
    assert config.source is None


def test_every_seed_readme_key_is_read(tmp_path: Path) -> None:
    path = write_config(tmp_path, """
        APP_VERSION=1.0
        CUSTOM_LINK=monitor
        USERNAME=boss
        PASSWORD=s3cret%x
        GUEST_USERNAME=visitor
        GUEST_PASSWORD=['dashboardguest!', 'second_pw!']
        DATABASE=duckdb:///data/fmd.duckdb
        GIT=../.git
        TEST_DIR=tests/
        N=7
        SUBMIT_RESULTS_URL=https://dash.example.org/monitor/submit-test-results
        OUTLIER_DETECTION_CONSTANT=3.5
        COLORS={'main': '[0,97,255]', 'login': '#FF8800'}
        """)
    config = load_config(path, environ={})
    assert config.app_version == "1.0"
    assert config.custom_link == "monitor"
    assert (config.username, config.password) == ("boss", "s3cret%x")
    assert config.guest_username == "visitor"
    assert config.guest_password == ("dashboardguest!", "second_pw!")
    assert config.database == tmp_path / "data" / "fmd.duckdb"  # relative to the file's folder
    assert config.git == tmp_path / ".." / ".git"
    assert config.test_dir == tmp_path / "tests"
    assert config.n == 7
    assert config.submit_results_url == "https://dash.example.org/monitor/submit-test-results"
    assert config.outlier_detection_constant == 3.5
    assert config.colors == {"main": "#0061ff", "login": "#ff8800"}
    assert config.source == path.resolve()


def test_our_keys(tmp_path: Path) -> None:
    path = write_config(tmp_path, """
        MONITOR_LEVEL=1
        MONITOR_LEVELS={'index': 3, 'health': 0}
        SAMPLING_INTERVAL_MS=5
        DETAIL_SAMPLE_RATE=0.05
        SUBMIT_TOKEN=abc
        SECRET_KEY=xyz
        TIMEZONE=Europe/Amsterdam
        RETENTION_DAYS=30
        TRUSTED_PROXIES=['10.0.0.0/8']
        """)
    config = load_config(path, environ={})
    assert config.monitor_level == 1
    assert config.level_for("index") == 3
    assert config.level_for("health") == 0
    assert config.level_for("other") == 1
    assert config.sampling_interval_ms == 5.0
    assert config.detail_sample_rate == 0.05
    assert (config.submit_token, config.secret_key) == ("abc", "xyz")
    assert config.timezone == "Europe/Amsterdam"
    assert config.retention_days == 30
    assert config.trusted_proxies == ("10.0.0.0/8",)


def test_environment_variable_wins_over_path_in_code(tmp_path: Path) -> None:
    in_code = write_config(tmp_path, "APP_VERSION=from-code\n", "code.cfg")
    from_env = write_config(tmp_path, "APP_VERSION=from-env\n", "env.cfg")
    config = load_config(in_code, environ={"DASHBOARD_CONFIG": str(from_env)})
    assert config.app_version == "from-env"


def test_keyword_overrides_win_over_the_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, "MONITOR_LEVEL=1\nAPP_VERSION=file\n")
    config = load_config(path, environ={}, MONITOR_LEVEL=3)
    assert (config.monitor_level, config.app_version) == (3, "file")


def test_dot_config_cfg_is_the_default_file(tmp_path: Path) -> None:
    write_config(tmp_path, "APP_VERSION=here\n")
    assert load_config(environ={}).app_version == "here"


def test_missing_named_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match=r"DASHBOARD_CONFIG.*does not exist"):
        load_config(environ={"DASHBOARD_CONFIG": str(tmp_path / "nope.cfg")})


def test_file_without_section(tmp_path: Path) -> None:
    path = tmp_path / "config.cfg"
    path.write_text("[other]\nN=3\n")
    with pytest.raises(ConfigFileError, match=r"no \[dashboard\] section"):
        load_config(path, environ={})


def test_file_that_is_not_ini(tmp_path: Path) -> None:
    path = tmp_path / "config.cfg"
    path.write_text("this is not ini\n")
    with pytest.raises(ConfigFileError, match="not a valid INI file"):
        load_config(path, environ={})


@pytest.mark.parametrize(("key", "value", "shown", "expected"), [
    ("MONITOR_LEVEL", "4", "MONITOR_LEVEL = '4'", "monitoring level 0, 1, 2 or 3"),
    ("MONITOR_LEVEL", "high", "MONITOR_LEVEL = 'high'", "monitoring level"),
    ("MONITOR_LEVELS", "{'index': 5}", "MONITOR_LEVELS['index'] = 5", "monitoring level"),
    ("MONITOR_LEVELS", "['index']", "MONITOR_LEVELS = \"['index']\"", "dict of endpoint name"),
    ("SAMPLING_INTERVAL_MS", "0.005", "= '0.005'", "milliseconds from 1 to 1000"),
    ("SAMPLING_INTERVAL_MS", "fast", "= 'fast'", "milliseconds from 1 to 1000"),
    ("DETAIL_SAMPLE_RATE", "1.5", "= '1.5'", "fraction from 0 to 1"),
    ("N", "0", "N = '0'", "whole number from 1 to 1000"),
    ("N", "five", "N = 'five'", "whole number"),
    ("OUTLIER_DETECTION_CONSTANT", "nan", "= 'nan'", "number from 1 to 100"),
    ("GUEST_PASSWORD", "['ok', 3]", "<hidden: 9 characters>", "list of strings"),
    ("GUEST_PASSWORD", "[unclosed", "<hidden: 9 characters>", "list of strings"),
    ("COLORS", "{'main': 'blue'}", "COLORS['main'] = 'blue'", "colour"),
    ("COLORS", "{'main': [0, 0, 999]}", "COLORS['main'] = [0, 0, 999]", "colour"),
    ("TIMEZONE", "Mars/Olympus", "'Mars/Olympus'", "IANA time zone"),
    ("RETENTION_DAYS", "-1", "'-1'", "whole number from 0 to 36500"),
    ("TRUSTED_PROXIES", "['not-an-ip']", "TRUSTED_PROXIES['not-an-ip']", "IP address or network"),
    ("CUSTOM_LINK", "dash board", "'dash board'", "URL path"),
    ("SUBMIT_RESULTS_URL", "ftp://x", "'ftp://x'", "http:// or https:// URL"),
    ("EXACT_MODE", "maybe", "'maybe'", "true or false"),
    ("SAMPLER_SIGNAL", "sometimes", "'sometimes'", "true or false"),
    ("REDACT_PATTERNS", "['(unclosed']", "REDACT_PATTERNS['(unclosed']", "regular expression"),
])
def test_bad_values_name_key_value_and_expected_form(tmp_path: Path, key: str, value: str,
                                                     shown: str, expected: str) -> None:
    path = write_config(tmp_path, f"{key}={value}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    message = str(info.value)
    assert message.startswith(f"{path}: {key}")
    assert shown in message
    assert expected in message


def test_literal_eval_never_runs_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    code = f"__import__('pathlib').Path('{marker}').touch()"
    path = write_config(tmp_path, f"MONITOR_LEVELS={code}\n")
    with pytest.raises(ConfigError, match="MONITOR_LEVELS"):
        load_config(path, environ={})
    assert not marker.exists()


@pytest.mark.parametrize(("value", "relative"), [
    ("fmd.duckdb", "fmd.duckdb"),
    ("duckdb:///sub/fmd.duckdb", "sub/fmd.duckdb"),
])
def test_database_forms(tmp_path: Path, value: str, relative: str) -> None:
    path = write_config(tmp_path, f"DATABASE={value}\n")
    assert load_config(path, environ={}).database == tmp_path / relative


def test_database_absolute_url(tmp_path: Path) -> None:
    path = write_config(tmp_path, f"DATABASE=duckdb:///{tmp_path}/abs.duckdb\n")
    assert load_config(path, environ={}).database == tmp_path / "abs.duckdb"


def test_sqlite_database_means_the_duckdb_file_beside_it(tmp_path: Path) -> None:
    path = write_config(tmp_path, "DATABASE=sqlite:////var/lib/app/dashboard.db\n")
    with pytest.warns(ConfigWarning) as caught:
        config = load_config(path, environ={})
    assert config.database == Path("/var/lib/app/dashboard.duckdb")
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "/var/lib/app/dashboard.duckdb" in message
    assert "python -m fmd_profiler.migrate sqlite:////var/lib/app/dashboard.db" in message


def test_relative_sqlite_database_resolves_beside_the_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, "DATABASE=sqlite:///data/fmd.db\n")
    with pytest.warns(ConfigWarning, match="fmd.duckdb"):
        assert load_config(path, environ={}).database == tmp_path / "data" / "fmd.duckdb"


def test_in_memory_sqlite_is_refused(tmp_path: Path) -> None:
    path = write_config(tmp_path, "DATABASE=sqlite://\n")
    with pytest.raises(ConfigError, match=r"sqlite:////absolute/x\.db"):
        load_config(path, environ={})


def test_server_database_url_is_refused_without_echoing_its_password(tmp_path: Path) -> None:
    path = write_config(tmp_path, "DATABASE=postgresql://fmd:hunter2@db.example/fmd\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    message = str(info.value)
    assert "hunter2" not in message
    assert "postgresql://fmd:***@db.example/fmd" in message
    assert "python -m fmd_profiler.migrate" in message


def test_unknown_key_is_a_warning_not_a_crash(tmp_path: Path) -> None:
    path = write_config(tmp_path, "MONITOR_LEVL=3\nN=2\n")
    with pytest.warns(ConfigWarning, match="unknown key MONITOR_LEVL"):
        config = load_config(path, environ={})
    assert config.n == 2


def test_percent_signs_and_quotes_in_values(tmp_path: Path) -> None:
    path = write_config(tmp_path, "PASSWORD='100%sure'\n")
    assert load_config(path, environ={}).password == "100%sure"


def test_public_dict_hides_secrets(tmp_path: Path) -> None:
    config = load_config(environ={}, PASSWORD="pw", SUBMIT_TOKEN="tok", SECRET_KEY="k")
    public = config.public_dict()
    assert "PASSWORD" not in public and "SUBMIT_TOKEN" not in public
    assert "SECRET_KEY" not in public and "DATABASE" not in public
    assert public["MONITOR_LEVEL"] == 2


def test_seed_readme_api_from_file_and_bind(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(tmp_path, f"APP_VERSION=seed\nDATABASE={tmp_path / 'seed.duckdb'}\n")
    monkeypatch.setattr(fmd_profiler.config, "get_group_by", lambda: "someone")
    fmd_profiler.config.from_file(str(path))
    app = Flask("seed")
    fmd_profiler.bind(app=app)
    state = app.extensions["fmd_profiler"]
    assert state.version == "seed"
    assert state.config.database == tmp_path / "seed.duckdb"


def test_from_file_none_reads_the_environment_variable(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(tmp_path, "APP_VERSION=env\n", "env.cfg")
    monkeypatch.setenv("DASHBOARD_CONFIG", str(path))
    assert fmd_profiler.config.from_file(None).app_version == "env"
