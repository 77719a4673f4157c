"""The dashboard side of uploads: ``POST /<CUSTOM_LINK>/submit-test-results``.

A blueprint of its own, named ``fmd_profiler_submit`` (so the profiler does not monitor it),
registered by ``init_app`` only when ``SUBMIT_TOKEN`` is set. Answers: 401 without the right
bearer token (compared in constant time), 429 after :data:`TOKEN_GUESSES` wrong tokens from one
address in five minutes (counted in the store's folder, so for every worker together), 413
above ``SUBMIT_MAX_MB`` (compressed or not), 400 naming the first problem of a malformed run,
409 for a known run id with other data, 201 when stored, 200 when that run was already stored
(uploads retry), 503 when the store is busy. A run is stored in one transaction: whole or not at
all; in fleet mode into the lake.
"""

from __future__ import annotations

import hmac
import logging
import zlib
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from fmd_profiler.benchmark.payload import PayloadError, parse_payload
from fmd_profiler.benchmark.submit import SUBMIT_PATH
from fmd_profiler.config import Config
from fmd_profiler.dashboard.throttle import AttemptLog, FileAttemptLog, Throttle
from fmd_profiler.errors import StoreError
from fmd_profiler.recording.client_ip import make_resolver
from fmd_profiler.store import StoreLocation
from fmd_profiler.store.factory import open_store

log = logging.getLogger("fmd_profiler")

BLUEPRINT = "fmd_profiler_submit"
#: Wrong tokens one address may send in :data:`TOKEN_WINDOW_S` before it has to wait.
TOKEN_GUESSES = 10
TOKEN_WINDOW_S = 300.0


def _attempt_log(config: Config, location: StoreLocation) -> AttemptLog:
    """The store folder's log; in fleet mode the catalog's, shared with every pod (an upload
    pod then needs no local folder for it)."""
    if config.lake is None:
        return FileAttemptLog(location.attempts_path)
    from fmd_profiler.fleet.state import CatalogAttemptLog, CatalogDocuments

    return CatalogAttemptLog(CatalogDocuments(config.lake.dsn))


def create_receiver(config: Config) -> Blueprint:
    """The blueprint for ``config`` (which must have a SUBMIT_TOKEN)."""
    if not config.submit_token:
        raise ValueError("the receiver needs SUBMIT_TOKEN")
    token = config.submit_token.encode()
    limit = config.submit_max_mb * 2**20
    location = StoreLocation(Path(config.database))
    database = open_store(config)  # the lake in fleet mode
    client_ip = make_resolver(config.trusted_proxies)
    throttle = Throttle(_attempt_log(config, location), scope="submit",
                        per_name=TOKEN_GUESSES, per_address=TOKEN_GUESSES,
                        window_s=TOKEN_WINDOW_S)
    blueprint = Blueprint(BLUEPRINT, __name__, url_prefix=f"/{config.custom_link}")

    @blueprint.post(f"/{SUBMIT_PATH}")
    def submit_test_results() -> tuple[Response, int]:
        # Counted before the token is compared, so parallel guesses cannot all get through.
        admission = throttle.admit(client_ip(request.environ))
        if admission.wait_s:
            response = jsonify(error=f"too many wrong tokens from this address; try again in "
                                     f"{admission.wait_s} s")
            response.headers["Retry-After"] = str(admission.wait_s)
            return response, 429
        if not _authorized(request.headers.get("Authorization", ""), token):
            response = jsonify(error="missing or wrong bearer token: send the dashboard's "
                                     "SUBMIT_TOKEN as 'Authorization: Bearer <token>'")
            response.headers["WWW-Authenticate"] = 'Bearer realm="fmd_profiler"'
            return response, 401
        throttle.succeeded(admission)
        body = _read_body(limit)
        if isinstance(body, tuple):
            return body
        try:
            payload = parse_payload(body)
        except PayloadError as exc:
            return jsonify(error=f"not a valid benchmark run: {exc}"), 400
        # Imported here: storing pulls in scipy, which a serving worker should not carry
        # until a run actually arrives.
        from fmd_profiler.benchmark.storage import STORED, RunConflictError, store_payload

        try:
            result = store_payload(database, payload)
        except RunConflictError as exc:
            return jsonify(error=str(exc)), 409
        except StoreError as exc:
            log.warning("fmd_profiler: an uploaded run could not be stored: %s", exc)
            response = jsonify(error=f"the store is busy or unavailable ({exc}); retry later")
            response.headers["Retry-After"] = "5"
            return response, 503
        regressions = sum(1 for row in result.payload.rows("bench_verdicts")
                          if row[-1] == "regression")
        status = 201 if result.status == STORED else 200
        return jsonify(status=result.status, run_ids=payload.run_ids,
                       regressions=regressions), status

    return blueprint


def _authorized(header: str, token: bytes) -> bool:
    scheme, _, given = header.partition(" ")
    # compare_digest on bytes of both: constant time in the token's content.
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token)


def _read_body(limit: int) -> bytes | tuple[Response, int]:
    too_big = (jsonify(error=f"the run is larger than the receiver's limit of "
                             f"{limit // 2**20} MB (SUBMIT_MAX_MB)"), 413)
    if request.content_length is not None and request.content_length > limit:
        return too_big  # refused before reading a byte of it
    request.max_content_length = limit  # bodies without a length: werkzeug stops at the limit
    try:
        data = request.get_data(cache=False)
    except RequestEntityTooLarge:
        return too_big
    encoding = request.headers.get("Content-Encoding", "identity").lower()
    if encoding == "identity":
        return data
    if encoding != "gzip":
        return jsonify(error=f"unsupported Content-Encoding {encoding!r}: send gzip or "
                             "nothing"), 415
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        plain = inflater.decompress(data, limit + 1)  # bounded: a zip bomb stops here
    except zlib.error as exc:
        return jsonify(error=f"the gzip body is corrupt: {exc}"), 400
    if len(plain) > limit or inflater.unconsumed_tail:
        return too_big
    return plain


def register_receiver(app: Any, config: Config) -> None:
    """Add the receiver to ``app`` (``init_app`` calls this when SUBMIT_TOKEN is set)."""
    app.register_blueprint(create_receiver(config))
