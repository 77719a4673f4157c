"""Which monitoring level (0-3) applies to an endpoint, looked up once per request.

Precedence: a level set from the dashboard (shared through the store's ``levels.json``) over
``MONITOR_LEVELS`` over ``MONITOR_LEVEL``. Static files and the profiler's own dashboard are not
monitored unless named in ``MONITOR_LEVELS``. Lookups hit a dict cache; changes swap the cache.
"""

from __future__ import annotations

from collections.abc import Mapping

from fmd_profiler.config import Config

STATIC_ENDPOINT = "static"
#: The profiler's own blueprints are named "fmd_profiler_<something>" (the dashboard, the
#: test-results receiver); their endpoints are "fmd_profiler_<something>.<view>".
OWN_BLUEPRINT_PREFIX = "fmd_profiler_"
DASHBOARD_BLUEPRINT = "fmd_profiler_dashboard"


def may_profile(config: Config) -> bool:
    """Whether a process started with ``config`` attaches the profiler (levels 2-3, exact mode).

    A process whose every endpoint starts at level 0 or 1 never pays for the profiler's hooks,
    so raising an endpoint to 2 or 3 later (from the dashboard) records only its timing until
    the processes restart.
    """
    return (config.monitor_level >= 2 or config.exact_mode
            or any(level >= 2 for level in config.monitor_levels.values()))


def is_own_or_static(endpoint: str) -> bool:
    """Endpoints not monitored unless named in MONITOR_LEVELS: static files and our own pages."""
    return endpoint == STATIC_ENDPOINT or (endpoint.startswith(OWN_BLUEPRINT_PREFIX)
                                           and "." in endpoint)


class Levels:
    """Endpoint -> level, honouring config, exclusions and live overrides."""

    def __init__(self, config: Config) -> None:
        self._default = config.monitor_level
        self._configured = dict(config.monitor_levels)
        self._overrides: dict[str, int] = {}
        self._cache: dict[str, int] = {}

    def of(self, endpoint: str) -> int:
        try:
            return self._cache[endpoint]
        except KeyError:
            level = self._resolve(endpoint)
            self._cache[endpoint] = level
            return level

    def _resolve(self, endpoint: str) -> int:
        if endpoint in self._overrides:
            return self._overrides[endpoint]
        if endpoint in self._configured:
            return self._configured[endpoint]
        if is_own_or_static(endpoint):
            return 0
        return self._default

    def set_overrides(self, overrides: Mapping[str, int]) -> bool:
        """Apply dashboard overrides; returns whether anything changed."""
        new = {k: v for k, v in overrides.items() if isinstance(v, int) and 0 <= v <= 3}
        if new == self._overrides:
            return False
        self._overrides = new
        self._cache = {}  # swapped, not cleared: request threads may be reading the old one
        return True

    @property
    def overrides(self) -> dict[str, int]:
        return dict(self._overrides)
