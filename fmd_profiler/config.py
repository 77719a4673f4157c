"""Configuration: the ``[dashboard]`` section of an INI file, keyword overrides and defaults.

:func:`load_config` is the one way to build a :class:`Config`: it finds the file
(``DASHBOARD_CONFIG`` wins over a path given in code, then ``./config.cfg``), parses every value
with a key-specific parser (lists and dicts through :func:`ast.literal_eval`, never ``eval``) and
layers keyword overrides over the file over the defaults. A bad value raises one
:class:`~fmd_profiler.errors.ConfigError` naming the key, the value and the expected form; an
unknown key is a warning.

The module also keeps the API of Flask-MonitoringDashboard's README:
``fmd_profiler.config.from_file(path)`` and ``fmd_profiler.config.get_group_by = fn``, used by
:func:`fmd_profiler.bind`.
"""

from __future__ import annotations

import ast
import configparser
import dataclasses
import ipaddress
import logging
import os
import re
import socket
import warnings
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fmd_profiler.errors import ConfigError, ConfigFileError, redact_dsn
from fmd_profiler.fleet.settings import (
    LAKE_PREFIX,
    S3_KEYS,
    LakeSettings,
    LakeSettingsError,
    parse_data_path,
    parse_lake_dsn,
    s3_settings,
)
from fmd_profiler.fmd_config import FMD_SECTIONS, translate_sections

log = logging.getLogger("fmd_profiler")

SECTION = "dashboard"
ENV_VAR = "DASHBOARD_CONFIG"
DEFAULT_FILE = "config.cfg"
DEFAULT_DATABASE = "fmd_profiler.duckdb"
#: Fleet mode's default SPOOL_DIR, beside the config file (or in the working directory).
DEFAULT_SPOOL_DIR = "fmd_profiler-spool"
#: In fleet mode the local store is only a spool: ``<SPOOL_DIR>/local.spool`` (never a database).
FLEET_LOCAL_STORE = "local"

#: Seed-compatible hook: ``fmd_profiler.config.get_group_by = lambda: current_user.id``.
#: A profiler without its own ``get_group_by`` falls back to this one, read per request.
get_group_by: Callable[[], object] | None = None

#: Flask-MonitoringDashboard's ``config.inject_dependencies(get_ip=fn)``: when set, ``fn()`` is
#: called in each request and its value is stored as the client address (instead of the one
#: TRUSTED_PROXIES resolves).
get_ip: Callable[[], object] | None = None


def inject_dependencies(get_ip: Callable[[], object] | None = None) -> None:
    """Flask-MonitoringDashboard's hook for a custom client address (behind proxies)."""
    if get_ip is not None:
        globals()["get_ip"] = get_ip


#: Flask-MonitoringDashboard 2.x-5.x's name: a value, a callable, or a tuple/list of those
#: (nested as deep as you like), turned into text per request as FMD does (see group_by.py).
#: Used when neither ``profiler.get_group_by`` nor ``get_group_by`` is set.
group_by: object = None


class ConfigWarning(UserWarning):
    """A configuration key fmd_profiler does not know (most often a typo)."""


@dataclass(frozen=True)
class Config:
    """Every setting, validated. Build it with :func:`load_config`, never by hand in app code."""

    # -- keys of the original Flask-MonitoringDashboard README --
    app_version: str | None = None
    custom_link: str = "dashboard"
    username: str = "admin"
    password: str | None = None
    guest_username: str = "guest"
    guest_password: tuple[str, ...] = ()
    database: Path = Path(DEFAULT_DATABASE)
    git: Path | None = None
    test_dir: Path | None = None
    # Rounds of the benchmark harness. Ten, not Flask-MonitoringDashboard's five: the first
    # round is warm-up and four samples a side can never reach p < 0.01 (1/C(8,4) = 0.014), so
    # N=5 detects nothing.
    n: int = 10
    submit_results_url: str | None = None
    outlier_detection_constant: float = 2.5
    colors: Mapping[str, str] = field(default_factory=dict)
    # -- ours --
    monitor_level: int = 2
    monitor_levels: Mapping[str, int] = field(default_factory=dict)
    sampling_interval_ms: float = 10.0
    detail_sample_rate: float = 0.01
    submit_token: str | None = None
    submit_max_mb: int = 16
    secret_key: str | None = None
    timezone: str = "UTC"
    retention_days: int = 0
    trusted_proxies: int | tuple[str, ...] = 0
    flush_interval_s: float = 1.0
    max_buffered_rows: int = 100_000
    exact_mode: bool = False
    redact_patterns: tuple[str, ...] = ()
    max_outliers_per_hour: int = 20
    max_detailed_per_hour: int = 60
    sampler_switch_interval_ms: float = 0.2
    sampler_signal: bool = True
    profiler_budget_pct: float = 1.0
    secure_cookie: bool = True
    prometheus: bool = False
    metrics_token: str | None = None
    metrics_path: str | None = None  # None: /<CUSTOM_LINK>/metrics
    metrics_open: bool = False
    # -- fleet mode (DATABASE = ducklake:postgres:...); ``lake`` is built from the others --
    lake: LakeSettings | None = None
    data_path: str | None = None
    host_name: str | None = None
    spool_dir: Path | None = None
    upload_interval_s: float = 30.0
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = field(default=None, repr=False)
    aws_region: str | None = None
    aws_endpoint_url: str | None = None
    # -- where the values came from --
    source: Path | None = None

    def level_for(self, endpoint: str) -> int:
        """The monitoring level configured for ``endpoint`` (file and overrides only)."""
        return self.monitor_levels.get(endpoint, self.monitor_level)

    def public_dict(self) -> dict[str, object]:
        """Settings safe to show a guest: no paths, passwords, tokens or secrets."""
        hidden = {"password", "guest_password", "database", "git", "test_dir", "submit_token",
                  "metrics_token",
                  "secret_key", "submit_results_url", "source", "lake", "data_path",
                  "spool_dir", "aws_access_key_id", "aws_secret_access_key",
                  "aws_endpoint_url"}
        return {f.name.upper(): getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name not in hidden}


# ---------------------------------------------------------------------------------------------
# Value parsers. Each takes (key, raw value, base folder) and returns the typed value or raises
# ConfigError. Raw values are strings from the INI file, or Python objects from keyword overrides.
# ---------------------------------------------------------------------------------------------

Parser = Callable[[str, object, Path], object]


def _literal(key: str, value: object, expected: str) -> object:
    if not isinstance(value, str):
        return value
    try:
        return ast.literal_eval(value.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise ConfigError(key, value, expected) from None


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _text(key: str, value: object, base: Path) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(key, value, "a text value")
    value = _unquote(value)
    return value or None


def _required_text(key: str, value: object, base: Path) -> str:
    text = _text(key, value, base)
    if text is None:
        raise ConfigError(key, value, "a non-empty text value")
    return text


def _int_in(low: int, high: int | None) -> Parser:
    expected = f"a whole number from {low} to {high}" if high is not None else \
        f"a whole number >= {low}"

    def parse(key: str, value: object, base: Path) -> int:
        number = value
        if isinstance(value, str):
            try:
                number = int(_unquote(value).replace("_", ""))
            except ValueError:
                raise ConfigError(key, value, expected) from None
        if isinstance(number, bool) or not isinstance(number, int):
            raise ConfigError(key, value, expected)
        if number < low or (high is not None and number > high):
            raise ConfigError(key, value, expected)
        return number

    return parse


def _float_in(low: float, high: float | None, expected: str) -> Parser:
    def parse(key: str, value: object, base: Path) -> float:
        number = value
        if isinstance(value, str):
            try:
                number = float(_unquote(value))
            except ValueError:
                raise ConfigError(key, value, expected) from None
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise ConfigError(key, value, expected)
        number = float(number)
        if number != number or number < low or (high is not None and number > high):
            raise ConfigError(key, value, expected)
        return number

    return parse


def _bool(key: str, value: object, base: Path) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = _unquote(value).lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
    raise ConfigError(key, value, "true or false")


def _text_list(key: str, value: object, base: Path) -> tuple[str, ...]:
    expected = "a list of strings, e.g. ['first', 'second']"
    if isinstance(value, str) and not value.strip().startswith(("[", "(")):
        # A single bare value is a list of one (Flask-MonitoringDashboard's README allowed it).
        return (_unquote(value),) if value.strip() else ()
    parsed = _literal(key, value, expected)
    if not isinstance(parsed, (list, tuple)) or not all(isinstance(v, str) for v in parsed):
        raise ConfigError(key, value, expected)
    return tuple(parsed)


def _path(key: str, value: object, base: Path) -> Path | None:
    text = _text(key, value, base)
    if text is None:
        return None
    path = Path(os.path.expanduser(text))
    return path if path.is_absolute() else (base / path)


class LakeDsn(str):
    """DATABASE's value in fleet mode: the catalog's libpq DSN (load_config builds ``lake``)."""


def _database(key: str, value: object, base: Path) -> Path | LakeDsn:
    text = _text(key, value, base)
    if text is None:
        raise ConfigError(key, value, "a DuckDB file path such as fmd.duckdb or duckdb:///fmd.duckdb")
    if text.startswith("ducklake:"):
        try:
            return LakeDsn(parse_lake_dsn(key, text))
        except LakeSettingsError as exc:
            raise ConfigError(key, redact_dsn(text), str(exc)) from None
    scheme, sep, rest = text.partition("://")
    if sep:
        if scheme.split("+")[0] == "sqlite":
            return _beside_sqlite(key, text, rest, base)
        if scheme != "duckdb":
            raise ConfigError(
                key, redact_dsn(text),
                "a DuckDB database; fmd_profiler stores its data in DuckDB only, so write "
                "DATABASE=duckdb:///fmd_profiler.duckdb (or a plain path); bring the history "
                "along with python -m fmd_profiler.migrate <this URL>")
        # SQLAlchemy-style: duckdb:///relative/path, duckdb:////absolute/path
        if not rest.startswith("/"):
            raise ConfigError(key, value, "duckdb:///relative/path or duckdb:////absolute/path")
        text = rest[1:]
    if text in {"", ":memory:"}:
        raise ConfigError(key, value, "a file path: an in-memory database cannot be shared "
                                      "between worker processes or read by the report")
    path = Path(os.path.expanduser(text))
    return path if path.is_absolute() else (base / path)


def _beside_sqlite(key: str, url: str, rest: str, base: Path) -> Path:
    """FMD's ``sqlite:///x.db`` means the DuckDB file ``x.duckdb`` beside it (one warning)."""
    sqlite_path = rest[1:] if rest.startswith("/") else ""
    if sqlite_path in {"", ":memory:"}:
        raise ConfigError(key, url, "a file: sqlite:///relative/x.db or sqlite:////absolute/x.db "
                                    "(fmd_profiler keeps its data in x.duckdb beside it)")
    path = Path(os.path.expanduser(sqlite_path))
    path = path if path.is_absolute() else base / path
    duckdb_path = path.with_suffix(".duckdb")
    warnings.warn(f"{key} = {url} is a Flask-MonitoringDashboard SQLite database; fmd_profiler "
                  f"keeps its data in the DuckDB file {duckdb_path} beside it. To bring the "
                  f"recorded history along, run: python -m fmd_profiler.migrate {url}",
                  ConfigWarning, stacklevel=2)
    return duckdb_path


def _level(key: str, value: object) -> int:
    level = value
    if isinstance(value, str) and value.strip().isdigit():
        level = int(value.strip())
    if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= 3:
        raise ConfigError(key, value, "a monitoring level 0, 1, 2 or 3")
    return level


def _monitor_level(key: str, value: object, base: Path) -> int:
    return _level(key, value)


def _dict_by_endpoint(parse_value: Callable[[str, object], object], expected: str) -> Parser:
    """A parser for ``{'endpoint': value}``; a bad entry is named as ``KEY['endpoint']``."""

    def parse(key: str, value: object, base: Path) -> dict[str, object]:
        parsed = _literal(key, value, expected)
        if not isinstance(parsed, dict) or not all(isinstance(k, str) for k in parsed):
            raise ConfigError(key, value, expected)
        return {k: parse_value(f"{key}[{k!r}]", v) for k, v in parsed.items()}

    return parse


_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


def _color(key: str, value: object) -> str:
    """Accept '#rrggbb', '[r, g, b]' (Flask-MonitoringDashboard's form) or three 0-255 ints."""
    expected = "a colour '#rrggbb' or '[r, g, b]' with 0-255 components"
    if isinstance(value, str) and _HEX.match(value.strip()):
        return value.strip().lower()
    parsed = _literal(key, value, expected)
    if (isinstance(parsed, (list, tuple)) and len(parsed) == 3
            and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255
                    for c in parsed)):
        return "#{:02x}{:02x}{:02x}".format(*parsed)
    raise ConfigError(key, value, expected)


def _timezone(key: str, value: object, base: Path) -> str:
    name = _required_text(key, value, base)
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a too long name
        raise ConfigError(key, value, "an IANA time zone name such as 'UTC' or "
                                      "'Europe/Amsterdam'") from None
    return name


_LINK = re.compile(r"^[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)*$")


def _custom_link(key: str, value: object, base: Path) -> str:
    text = _required_text(key, value, base).strip("/")
    if not _LINK.match(text):
        raise ConfigError(key, value, "a URL path made of letters, digits, '-', '_' and '/', "
                                      "e.g. 'dashboard'")
    return text


def _url(key: str, value: object, base: Path) -> str | None:
    text = _text(key, value, base)
    if text is not None and not re.match(r"^https?://[^\s/]+", text):
        raise ConfigError(key, value, "an http:// or https:// URL")
    return text


def _trusted_proxies(key: str, value: object, base: Path) -> int | tuple[str, ...]:
    expected = ("the number of proxies in front of the app (e.g. 1), or a list of proxy "
                "addresses/networks such as ['10.0.0.0/8']")
    if isinstance(value, str) and not value.strip().startswith(("[", "(")):
        return _int_in(0, 32)(key, value, base)  # type: ignore[return-value]
    parsed = _literal(key, value, expected)
    if isinstance(parsed, int) and not isinstance(parsed, bool):
        return _int_in(0, 32)(key, parsed, base)  # type: ignore[return-value]
    if not isinstance(parsed, (list, tuple)) or not all(isinstance(v, str) for v in parsed):
        raise ConfigError(key, value, expected)
    for network in parsed:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ConfigError(f"{key}[{network!r}]", network, "an IP address or network") from None
    return tuple(parsed)


_METRICS_PATH = re.compile(r"^(/[A-Za-z0-9_.\-]+)+$")


def _metrics_path(key: str, value: object, base: Path) -> str | None:
    text = _text(key, value, base)
    if text is not None and not _METRICS_PATH.match(text.rstrip("/") or "/"):
        raise ConfigError(key, value, "a URL path starting with '/', made of letters, digits, "
                                      "'-', '_', '.' and '/', e.g. '/metrics'")
    return None if text is None else text.rstrip("/")


def _patterns(key: str, value: object, base: Path) -> tuple[str, ...]:
    patterns = _text_list(key, value, base)
    for pattern in patterns:
        try:
            with warnings.catch_warnings():
                # "possible nested set": a pattern whose meaning a later Python changes
                warnings.simplefilter("error", FutureWarning)
                re.compile(pattern)
        except (re.error, FutureWarning) as exc:
            raise ConfigError(f"{key}[{pattern!r}]", pattern,
                              f"a regular expression ({exc})") from None
    return patterns


#: key -> (Config field, parser). The one list of keys: :data:`KEY_DOCS` describes each one
#: (the documentation's configuration page) and config.cfg has a commented sample of each.
KEYS: dict[str, tuple[str, Parser]] = {
    "APP_VERSION": ("app_version", _text),
    "CUSTOM_LINK": ("custom_link", _custom_link),
    "USERNAME": ("username", _required_text),
    "PASSWORD": ("password", _text),
    "GUEST_USERNAME": ("guest_username", _required_text),
    "GUEST_PASSWORD": ("guest_password", _text_list),
    "DATABASE": ("database", _database),
    "GIT": ("git", _path),
    "TEST_DIR": ("test_dir", _path),
    "N": ("n", _int_in(1, 1000)),
    "SUBMIT_RESULTS_URL": ("submit_results_url", _url),
    "OUTLIER_DETECTION_CONSTANT": ("outlier_detection_constant",
                                   _float_in(1.0, 100.0, "a number from 1 to 100, e.g. 2.5")),
    "COLORS": ("colors", _dict_by_endpoint(
        _color, "a dict of endpoint name to colour, e.g. {'index': '[0,97,255]', "
                "'login': '#ff8800'}")),
    "MONITOR_LEVEL": ("monitor_level", _monitor_level),
    "MONITOR_LEVELS": ("monitor_levels", _dict_by_endpoint(
        _level, "a dict of endpoint name to level 0-3, e.g. {'index': 3, 'health': 0}")),
    # Below 1 ms a sampler thread only burns the GIL (a typo in Flask-MonitoringDashboard's
    # sampling setting made its sampler spin).
    "SAMPLING_INTERVAL_MS": ("sampling_interval_ms",
                             _float_in(1.0, 1000.0, "milliseconds from 1 to 1000, e.g. 10")),
    "DETAIL_SAMPLE_RATE": ("detail_sample_rate",
                           _float_in(0.0, 1.0, "a fraction from 0 to 1, e.g. 0.01")),
    "SUBMIT_TOKEN": ("submit_token", _text),
    # Largest benchmark run the upload receiver accepts (the parsed document takes many times
    # its size in memory, so the default stays small).
    "SUBMIT_MAX_MB": ("submit_max_mb", _int_in(1, 4096)),
    "SECRET_KEY": ("secret_key", _text),
    "TIMEZONE": ("timezone", _timezone),
    "RETENTION_DAYS": ("retention_days", _int_in(0, 36_500)),
    "TRUSTED_PROXIES": ("trusted_proxies", _trusted_proxies),
    "FLUSH_INTERVAL_S": ("flush_interval_s",
                         _float_in(0.05, 60.0, "seconds from 0.05 to 60, e.g. 1")),
    "MAX_BUFFERED_ROWS": ("max_buffered_rows", _int_in(1000, 10_000_000)),
    "EXACT_MODE": ("exact_mode", _bool),
    "REDACT_PATTERNS": ("redact_patterns", _patterns),
    # Per endpoint and process: level 3 keeps bounded evidence, whatever the traffic.
    "MAX_OUTLIERS_PER_HOUR": ("max_outliers_per_hour", _int_in(0, 100_000)),
    "MAX_DETAILED_PER_HOUR": ("max_detailed_per_hour", _int_in(0, 100_000)),
    # While it samples, the sampler lowers Python's switch interval (5 ms) to this, or the first
    # 5 ms of CPU-bound work after each I/O would be invisible to it; 0 leaves it alone.
    "SAMPLER_SWITCH_INTERVAL_MS": ("sampler_switch_interval_ms",
                                   _float_in(0.0, 5.0, "milliseconds from 0 to 5, e.g. 0.2")),
    # Requests in the main thread are sampled by a timer signal (Linux), not the thread.
    "SAMPLER_SIGNAL": ("sampler_signal", _bool),
    # Level 2's passes may cost at most this share of the process's CPU: under load the sampler
    # stretches its interval to stay within it (docs/profiler-cost.md); 0 turns the budget off.
    "PROFILER_BUDGET_PCT": ("profiler_budget_pct", _float_in(
        0.0, 100.0, "a percentage of the process's CPU from 0 to 100, e.g. 1 (0: no budget, "
                    "always sample every SAMPLING_INTERVAL_MS)")),
    # The dashboard's session cookie is Secure (sent over https only) unless this is false:
    # behind a TLS-terminating proxy the app cannot tell that the browser uses https.
    "SECURE_COOKIE": ("secure_cookie", _bool),
    # Prometheus metrics (docs/prometheus.md): off by default; who may read them.
    "PROMETHEUS": ("prometheus", _bool),
    "METRICS_TOKEN": ("metrics_token", _text),
    "METRICS_PATH": ("metrics_path", _metrics_path),
    "METRICS_OPEN": ("metrics_open", _bool),
    # Fleet mode (DATABASE = ducklake:postgres:<DSN>): see docs/fleet.md.
    "DATA_PATH": ("data_path", _text),
    "HOST_NAME": ("host_name", _text),
    "SPOOL_DIR": ("spool_dir", _path),
    # How often a host uploads its spool (all its processes together) in fleet mode.
    "UPLOAD_INTERVAL_S": ("upload_interval_s",
                          _float_in(1.0, 3600.0, "seconds from 1 to 3600, e.g. 30")),
    "AWS_ACCESS_KEY_ID": ("aws_access_key_id", _text),
    "AWS_SECRET_ACCESS_KEY": ("aws_secret_access_key", _text),
    "AWS_REGION": ("aws_region", _text),
    "AWS_ENDPOINT_URL": ("aws_endpoint_url", _text),
}

#: Headings of the documentation's configuration page, in page order (see :data:`KEY_DOCS`).
KEY_TOPICS = ("What is recorded", "Profiler", "Storage", "Reports and dashboard",
              "Dashboard accounts", "CI benchmark harness", "Prometheus metrics", "Fleet mode")

#: key -> (topic, what it does). The documentation's configuration page is generated from this
#: and :data:`KEYS` (docs/hooks/config_page.py), defaults from :class:`Config`'s fields, and the
#: build fails for a key without a description here.
KEY_DOCS: dict[str, tuple[str, str]] = {
    "APP_VERSION": ("What is recorded",
                    "Version label of every request. Without `APP_VERSION` and `GIT`: "
                    "`unversioned`."),
    "GIT": ("What is recorded",
            "The app's git repository (its folder or `.git`): the version is the short sha, or "
            "the tag when HEAD is tagged, with `+dirty` when the work tree has changes. Detached "
            "HEADs and packed refs work. Wins over `APP_VERSION`."),
    "MONITOR_LEVEL": ("What is recorded",
                      "Default level of every endpoint: 0 off · 1 timing · 2 = 1 + sampled call "
                      "stacks · 3 = 2 + outliers and detailed profiles."),
    "MONITOR_LEVELS": ("What is recorded",
                       "Per endpoint, e.g. `{'index': 3, 'health': 0}`. Static files and the "
                       "dashboard are off unless named here."),
    "TRUSTED_PROXIES": ("What is recorded",
                        "Trust `X-Forwarded-For` for this many proxies (like "
                        "`ProxyFix(x_for=N)`), or a list of proxy networks; 0 = the peer "
                        "address only."),
    "REDACT_PATTERNS": ("What is recorded",
                        "Extra names to redact in outlier captures (regular expressions): "
                        "matching headers and arguments lose their values, and what a pattern "
                        "matches in other values and in the URL path is replaced, e.g. "
                        "`['ssn', '\\d{16}']`."),
    "SAMPLING_INTERVAL_MS": ("Profiler",
                             "Milliseconds between two sampling passes (with jitter), 1–1000. "
                             "Longer: cheaper under load, profiles need more requests to "
                             "settle."),
    "SAMPLER_SWITCH_INTERVAL_MS": ("Profiler",
                                   "Python's thread switch interval while the sampler thread "
                                   "runs and at most one monitored request is in flight, so "
                                   "CPU-bound code is sampled where it runs; 0 leaves the "
                                   "interval alone."),
    "SAMPLER_SIGNAL": ("Profiler",
                       "Sample requests served by the main thread (sync workers) with a SIGPROF "
                       "timer aimed at that thread instead of the sampler thread (Linux). "
                       "`false` if a C extension of yours mishandles EINTR."),
    "PROFILER_BUDGET_PCT": ("Profiler",
                            "Most of the process's CPU time (in %) level 2's sampling passes may "
                            "cost: under load the sampler stretches its interval to stay within "
                            "it, samples keeping their real-time weights; 0 = no budget. See "
                            "[the profiler's cost](profiler-cost.md)."),
    "DETAIL_SAMPLE_RATE": ("Profiler",
                           "Fraction of level-3 requests given a detailed per-request profile "
                           "(0–1)."),
    "OUTLIER_DETECTION_CONSTANT": ("Profiler",
                                   "Level 3: a request is an outlier when it is slower than "
                                   "both this × the median of its endpoint's last 256 requests "
                                   "and that median + 10 ms (checked after 30 requests)."),
    "MAX_OUTLIERS_PER_HOUR": ("Profiler",
                              "Per endpoint and process, how many outliers level 3 keeps an "
                              "hour; also caps the tracebacks of new kinds of exception "
                              "(every exception is still counted)."),
    "MAX_DETAILED_PER_HOUR": ("Profiler",
                              "Per endpoint and process, how many detailed profiles level 3 "
                              "keeps an hour."),
    "EXACT_MODE": ("Profiler",
                   "Exact per-function call counts and times with yappi on every thread. "
                   "Several times slower: for CI and investigations, not production."),
    "DATABASE": ("Storage",
                 "The store: a DuckDB file path, `duckdb:///relative` or "
                 "`duckdb:////absolute` (relative to the config file's folder); "
                 "`ducklake:postgres:<DSN>` for fleet mode. An FMD `sqlite:///…/x.db` means "
                 "`…/x.duckdb` beside it, with a warning."),
    "FLUSH_INTERVAL_S": ("Storage",
                         "How often a process writes its buffered rows to the spool; a killed "
                         "worker loses at most this much."),
    "MAX_BUFFERED_ROWS": ("Storage",
                          "Rows per table a process keeps while the store cannot be written; "
                          "beyond that the oldest are dropped and counted."),
    "RETENTION_DAYS": ("Storage", "Delete data older than this many days (0 = keep)."),
    "TIMEZONE": ("Reports and dashboard",
                 "Time zone of reports and of `--since/--until` times without an offset."),
    "COLORS": ("Reports and dashboard",
               "Endpoint colours in charts, e.g. `{'index': '[0,97,255]', 'login': "
               "'#ff8800'}`; other endpoints get a stable colour from their name."),
    "CUSTOM_LINK": ("Reports and dashboard", "URL prefix of the live dashboard."),
    "SECURE_COOKIE": ("Reports and dashboard",
                      "The dashboard's session cookie is sent over https only; `false` for "
                      "plain-HTTP development."),
    "SECRET_KEY": ("Reports and dashboard",
                   "Signs the dashboard's session cookie. Unset: the app's `secret_key`, else "
                   "a random key kept in `<DATABASE>.secret`."),
    "USERNAME": ("Dashboard accounts", "The admin account's user name."),
    "PASSWORD": ("Dashboard accounts",
                 "The admin's password, plain or a Werkzeug hash. No default: without one the "
                 "dashboard stays off."),
    "GUEST_USERNAME": ("Dashboard accounts", "The read-only account's user name."),
    "GUEST_PASSWORD": ("Dashboard accounts",
                       "The read-only account's passwords (a list; any of them works)."),
    "TEST_DIR": ("CI benchmark harness",
                 "Test folder of `python -m fmd_profiler.benchmark` (else pytest's "
                 "discovery)."),
    "N": ("CI benchmark harness",
          "Rounds of `python -m fmd_profiler.benchmark`; round 1 is a warm-up."),
    "SUBMIT_RESULTS_URL": ("CI benchmark harness",
                           "The dashboard the harness uploads its runs to, e.g. "
                           "`https://host/dashboard`."),
    "SUBMIT_TOKEN": ("CI benchmark harness",
                     "Shared bearer token of uploads. The receiving route "
                     "`/<CUSTOM_LINK>/submit-test-results` exists only when it is set."),
    "SUBMIT_MAX_MB": ("CI benchmark harness",
                      "Largest upload the receiver accepts (413 beyond)."),
    "PROMETHEUS": ("Prometheus metrics", "Serve Prometheus metrics."),
    "METRICS_TOKEN": ("Prometheus metrics",
                      "Bearer token that may read the metrics (a dashboard session may too)."),
    "METRICS_PATH": ("Prometheus metrics",
                     "Where the metrics are served. Unset: `/<CUSTOM_LINK>/metrics`."),
    "METRICS_OPEN": ("Prometheus metrics",
                     "Anyone who can reach the app may read the metrics."),
    "DATA_PATH": ("Fleet mode",
                  "Where the lake's Parquet files go: `s3://bucket/prefix/` or a folder every "
                  "host can reach."),
    "HOST_NAME": ("Fleet mode",
                  "What this host's rows carry. Unset: the machine's host name."),
    "SPOOL_DIR": ("Fleet mode",
                  "Where a host keeps segments until they are uploaded. Unset: "
                  "`fmd_profiler-spool` beside the config file."),
    "UPLOAD_INTERVAL_S": ("Fleet mode",
                          "How often a host uploads its spool; a host that dies with its disk "
                          "loses at most this much."),
    "AWS_ACCESS_KEY_ID": ("Fleet mode",
                          "S3 key. Unset: the environment variable of the same name."),
    "AWS_SECRET_ACCESS_KEY": ("Fleet mode",
                              "S3 secret (never shown or logged). Unset: the environment "
                              "variable of the same name."),
    "AWS_REGION": ("Fleet mode",
                   "S3 region. Unset: the environment variable, else `us-east-1`."),
    "AWS_ENDPOINT_URL": ("Fleet mode",
                         "An S3-compatible store; `http://host:port` means no TLS and "
                         "path-style URLs. Unset: the environment variable, else AWS."),
}

#: Keys that only mean something in fleet mode.
_FLEET_FIELDS = ("data_path", "host_name", "spool_dir")


def resolve_config_path(config_file: str | os.PathLike[str] | None,
                        environ: Mapping[str, str] | None = None) -> Path | None:
    """Which file to read: ``DASHBOARD_CONFIG`` wins, then ``config_file``, then ./config.cfg."""
    environ = os.environ if environ is None else environ
    named = environ.get(ENV_VAR) or (os.fspath(config_file) if config_file is not None else None)
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            origin = f"the {ENV_VAR} environment variable" if environ.get(ENV_VAR) else "your code"
            raise ConfigFileError(f"config file {path} (named by {origin}) does not exist; "
                                  f"create it or point {ENV_VAR} at an existing file")
        return path
    default = Path(DEFAULT_FILE)
    return default if os.path.isfile(default) else None


def read_config_file(path: Path) -> dict[str, str]:
    """The raw values of ``path``, keys upper-cased: its ``[dashboard]`` section, or the sections
    of a Flask-MonitoringDashboard 2.x-5.x file translated to our keys (one warning per key
    whose meaning changes or that has no effect here)."""
    parser = configparser.ConfigParser(interpolation=None)  # '%' is legal in passwords
    parser.optionxform = str.upper  # type: ignore[assignment,method-assign]
    try:
        with open(path, encoding="utf-8") as fh:
            parser.read_file(fh)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError(f"cannot read config file {path}: {exc}") from None
    except configparser.Error as exc:
        raise ConfigFileError(f"config file {path} is not a valid INI file: "
                              f"{str(exc).splitlines()[0]}") from None
    sections = {name: dict(parser.items(name)) for name in parser.sections()}
    if not any(name in sections for name in FMD_SECTIONS):
        raise ConfigFileError(f"config file {path} has no [{SECTION}] section; put the "
                              f"settings under a line '[{SECTION}]'")
    translation = translate_sections(sections)
    for note in translation.notes:
        warnings.warn(f"{path}: {note}", ConfigWarning, stacklevel=3)
    return translation.values


def load_config(config_file: str | os.PathLike[str] | None = None, *,
                environ: Mapping[str, str] | None = None, **overrides: Any) -> Config:
    """Build the :class:`Config`: keyword overrides over the file over the defaults.

    Relative paths in the file resolve against the file's folder; those in overrides and defaults
    against the current directory.
    """
    path = resolve_config_path(config_file, environ)
    values: dict[str, object] = {}
    if path is not None:
        file_values = read_config_file(path)
        base = path.resolve().parent
        for key, raw in file_values.items():
            values.update(_parse_one(key, raw, base, source=str(path)))
    cwd = Path.cwd()
    for key, raw in overrides.items():
        values.update(_parse_one(key.upper(), raw, cwd, source="keyword override"))
    base = path.resolve().parent if path else cwd
    if "database" not in values:
        values["database"] = base / DEFAULT_DATABASE
    environ = os.environ if environ is None else environ
    _settle_fleet(values, base, environ, source=str(path) if path else "keyword override")
    _warn_weak_secrets(values)
    return Config(source=path.resolve() if path else None, **values)  # type: ignore[arg-type]


#: Keys whose values are secrets: a bad value is never echoed, only its length.
SECRET_KEYS = frozenset({"PASSWORD", "GUEST_PASSWORD", "SUBMIT_TOKEN", "SECRET_KEY",
                         "METRICS_TOKEN", "AWS_SECRET_ACCESS_KEY"})
#: Keys whose values may embed a password (a DSN): the password part is masked.
_DSN_KEYS = frozenset({"DATABASE", "SUBMIT_RESULTS_URL"})
#: Secrets shorter than this get a warning (not an error: samples use PASSWORD=admin).
MIN_SECRET_LENGTH = 16


def masked(key: str, value: object) -> object:
    """``value`` as an error message may show it under ``key``."""
    base = key.split("[", 1)[0]
    if base in SECRET_KEYS and value is not None:
        return f"<hidden: {len(str(value))} characters>"
    if base in _DSN_KEYS and isinstance(value, str):
        return redact_dsn(value)
    return value


def _warn_weak_secrets(values: Mapping[str, object]) -> None:
    for key in ("PASSWORD", "SUBMIT_TOKEN", "SECRET_KEY"):
        value = values.get(KEYS[key][0])
        if isinstance(value, str) and len(value) < MIN_SECRET_LENGTH \
                and not (value.startswith(("scrypt", "pbkdf2")) and value.count("$") == 2):
            log.warning("fmd_profiler: %s is shorter than %d characters; anyone who can reach "
                        "the app can guess a short one: use a long random value, e.g. python -c "
                        "'import secrets; print(secrets.token_urlsafe(24))'", key,
                        MIN_SECRET_LENGTH)


def _settle_fleet(values: dict[str, object], base: Path, environ: Mapping[str, str],
                  source: str) -> None:
    """In fleet mode, build ``lake`` and point ``database`` at the local spool's notional store.

    Config keys win over the environment's ``AWS_*`` variables (the file is the more specific).
    """
    database = values["database"]
    if not isinstance(database, LakeDsn):
        for name in _FLEET_FIELDS:
            if values.get(name) is not None:
                warnings.warn(f"{source}: {name.upper()} is used only in fleet mode "
                              f"(DATABASE = {LAKE_PREFIX}...); ignored", ConfigWarning,
                              stacklevel=4)
        return
    if values.get("data_path") is None:
        raise ConfigError("DATA_PATH", None, "s3://bucket/prefix/ (or a folder every host can "
                          "reach): fleet mode keeps its data there", source=source)
    try:
        data_path = parse_data_path("DATA_PATH", str(values["data_path"]), base)
    except LakeSettingsError as exc:
        raise ConfigError("DATA_PATH", values["data_path"], str(exc), source=source) from None
    s3 = None
    if data_path.startswith("s3://"):
        merged = {key: (values.get(key.lower()) or environ.get(key) or None) for key in S3_KEYS}
        try:
            s3 = s3_settings(merged)  # type: ignore[arg-type]
        except LakeSettingsError as exc:
            raise ConfigError("AWS_ENDPOINT_URL", merged["AWS_ENDPOINT_URL"], str(exc),
                              source=source) from None
    spool = values.get("spool_dir")
    spool_dir = spool if isinstance(spool, Path) else base / DEFAULT_SPOOL_DIR
    host = values.get("host_name") or socket.gethostname()
    values["lake"] = LakeSettings(dsn=str(database), data_path=data_path, host_name=str(host),
                                  spool_dir=spool_dir, s3=s3)
    values["database"] = spool_dir / FLEET_LOCAL_STORE


def _parse_one(key: str, raw: object, base: Path, source: str) -> dict[str, object]:
    spec = KEYS.get(key)
    if spec is None:
        known = ", ".join(sorted(KEYS))
        warnings.warn(f"{source}: unknown key {key} is ignored (known keys: {known})",
                      ConfigWarning, stacklevel=4)
        return {}
    name, parse = spec
    try:
        return {name: parse(key, raw, base)}
    except ConfigError as exc:
        raise ConfigError(exc.key, masked(exc.key, exc.value), exc.expected,
                          source=source) from None


# ---------------------------------------------------------------------------------------------
# The API of Flask-MonitoringDashboard's README.
# ---------------------------------------------------------------------------------------------

_seed_config: Config | None = None


def from_file(path: str | os.PathLike[str] | None) -> Config:
    """Load the configuration for a later :func:`fmd_profiler.bind` call.

    ``from_file(None)`` reads the file named by ``DASHBOARD_CONFIG``; when both are given the
    environment variable wins, as in Flask-MonitoringDashboard. Errors are raised here, at start-up.
    """
    global _seed_config
    _seed_config = load_config(path)
    return _seed_config


def init_from(file: str | os.PathLike[str] | None = None, envvar: str | None = None,
              log_verbose: bool = False) -> Config:
    """Flask-MonitoringDashboard's name for :func:`from_file`.

    ``envvar`` names an environment variable holding the file's path; when it is set it wins
    over ``file``, as in FMD. ``log_verbose`` logs which file was read.
    """
    named = os.environ.get(envvar) if envvar else None
    config = from_file(named or file)
    if log_verbose:
        log.info("fmd_profiler: configuration read from %s", config.source or "the defaults")
    return config


def take_seed_config() -> Config | None:
    """The configuration loaded by :func:`from_file`, if any (used by ``bind``)."""
    return _seed_config
