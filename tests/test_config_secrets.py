"""Config errors and warnings never echo a secret, and say what to write instead."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import pytest

from fmd_profiler.config import load_config
from fmd_profiler.errors import ConfigError


def write_config(folder: Path, body: str) -> Path:
    path = folder / "config.cfg"
    path.write_text("[dashboard]\n" + textwrap.dedent(body))
    return path


@pytest.mark.parametrize("line, secret", [
    ("GUEST_PASSWORD = ['s3cret-guest', \n", "s3cret-guest"),
    ("GUEST_PASSWORD = ['ok', 42]\n", "'ok'"),
    ("PASSWORD = \n", None),
])
def test_a_bad_secret_value_is_not_echoed(tmp_path: Path, line: str, secret: str | None) -> None:
    path = write_config(tmp_path, line)
    if secret is None:  # an empty PASSWORD is allowed: no dashboard
        load_config(path, environ={})
        return
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    message = str(info.value)
    assert secret not in message and "GUEST_PASSWORD" in message
    assert "hidden" in message and "a list of strings" in message
    assert secret not in repr(info.value.value)


@pytest.mark.parametrize("override", ["SUBMIT_TOKEN", "SECRET_KEY", "PASSWORD"])
def test_a_secret_of_the_wrong_type_is_not_echoed(override: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(environ={}, **{override: ["top-secret-value"]})
    assert "top-secret-value" not in str(info.value) and override in str(info.value)


@pytest.mark.parametrize("dsn", ["mysql://user:pw-9f8e@db.example/prod",
                                 "postgresql+psycopg2://app:pw-9f8e@10.0.0.5:5432/monitoring"])
def test_a_server_dsn_is_refused_without_printing_its_password(tmp_path: Path, dsn: str) -> None:
    path = write_config(tmp_path, f"DATABASE = {dsn}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    message = str(info.value)
    assert "pw-9f8e" not in message
    assert "user:***@" in message or "app:***@" in message
    assert "DATABASE=duckdb:///fmd_profiler.duckdb" in message
    assert "db.example/prod.duckdb" not in message  # no nonsense path made of the DSN


def test_short_secrets_get_a_warning_not_an_error(tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    path = write_config(tmp_path, """\
        PASSWORD = admin
        SUBMIT_TOKEN = abc
        SECRET_KEY = a-long-enough-secret-key-value
        """)
    with caplog.at_level(logging.WARNING, logger="fmd_profiler"):
        config = load_config(path, environ={})
    assert config.password == "admin"
    warned = [r.getMessage() for r in caplog.records if "shorter than 16" in r.getMessage()]
    assert len(warned) == 2
    assert warned[0].startswith("fmd_profiler: PASSWORD") and "SUBMIT_TOKEN" in warned[1]
    assert not any("admin" in w.split(" is ")[0][14:] for w in warned)
    assert all("abc" not in w for w in warned)


def test_a_hashed_password_is_not_called_short(caplog: pytest.LogCaptureFixture) -> None:
    from werkzeug.security import generate_password_hash

    with caplog.at_level(logging.WARNING, logger="fmd_profiler"):
        load_config(environ={}, PASSWORD=generate_password_hash("pw"))
    assert not any("shorter than" in r.getMessage() for r in caplog.records)
