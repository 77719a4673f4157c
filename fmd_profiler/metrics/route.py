"""``GET /<CUSTOM_LINK>/metrics`` (or ``METRICS_PATH``): the merged metrics for scrapers.

A blueprint of its own, ``fmd_profiler_metrics`` (so the profiler does not count its scrapes),
registered by ``init_app`` only when ``PROMETHEUS`` is true. Readers: a scraper sending
``Authorization: Bearer <METRICS_TOKEN>`` (compared in constant time), a user signed in to the
dashboard (its cookie reaches paths under ``/<CUSTOM_LINK>`` only), or anybody when
``METRICS_OPEN`` is true. Everybody else gets 401 saying which of these to use.
"""

from __future__ import annotations

import hmac
import logging
from pathlib import Path

from flask import Blueprint, Response, current_app, request

from fmd_profiler.config import Config
from fmd_profiler.dashboard.auth import Credentials, SessionCodec
from fmd_profiler.dashboard.views import COOKIE, SESSION_MAX_AGE_S
from fmd_profiler.metrics.exposition import CONTENT_TYPE, render
from fmd_profiler.metrics.files import metrics_dir, read_merged

log = logging.getLogger("fmd_profiler")

BLUEPRINT = "fmd_profiler_metrics"


def metrics_path(config: Config) -> str:
    return config.metrics_path or f"/{config.custom_link}/metrics"


def create_metrics_blueprint(config: Config, spool_dir: Path) -> Blueprint:
    folder = metrics_dir(spool_dir)
    token = config.metrics_token.encode() if config.metrics_token else None
    credentials = Credentials(config)
    blueprint = Blueprint(BLUEPRINT, __name__)

    def signed_in() -> bool:
        cookie = request.cookies.get(COOKIE)
        secret = config.secret_key or current_app.secret_key
        if not cookie or not secret or not credentials.configured:
            return False
        codec = SessionCodec(secret, credentials.fingerprint(), SESSION_MAX_AGE_S)
        session = codec.loads(cookie)
        return session is not None and session.signed_in

    @blueprint.get(metrics_path(config))
    def metrics() -> Response:
        if not (config.metrics_open or _bearer_ok(request.headers.get("Authorization", ""),
                                                  token) or signed_in()):
            response = Response(
                "Not signed in: send METRICS_TOKEN as 'Authorization: Bearer <token>', sign in "
                "to the dashboard, or set METRICS_OPEN = true in the [dashboard] config.\n",
                status=401, mimetype="text/plain")
            response.headers["WWW-Authenticate"] = 'Bearer realm="fmd_profiler"'
            return response
        response = Response(render(read_merged(folder)), mimetype=CONTENT_TYPE)
        response.headers["Content-Type"] = CONTENT_TYPE
        response.headers["Cache-Control"] = "no-store"
        return response

    return blueprint


def register_metrics(app: object, config: Config, spool_dir: Path) -> None:
    """Add the metrics route to ``app`` (once)."""
    if BLUEPRINT in app.blueprints:  # type: ignore[attr-defined]
        return
    app.register_blueprint(create_metrics_blueprint(config, spool_dir))  # type: ignore[attr-defined]
    if not (config.metrics_open or config.metrics_token or Credentials(config).configured):
        log.warning("fmd_profiler: PROMETHEUS is on but nobody may read %s: set METRICS_TOKEN "
                    "(and send it as a bearer token), PASSWORD for the dashboard, or "
                    "METRICS_OPEN = true", metrics_path(config))


def _bearer_ok(header: str, token: bytes | None) -> bool:
    if token is None:
        return False
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token)
