"""Redaction of what an outlier keeps: secret names as words, secrets inside values, URL rules."""

from __future__ import annotations

import json

import pytest
from flask import Flask

from fmd_profiler.profiling.engine import _matched_rule
from fmd_profiler.profiling.redact import REDACTED, Redactor, snapshot

SECRET = "s3cr3t-VALUE"


@pytest.mark.parametrize("name", [
    "X-Functions-Key", "Ocp-Apim-Subscription-Key", "X-Private-Key", "key", "pwd", "pass",
    "code", "sig", "jwt", "sid", "client_secret", "Dpop", "X-Api-Key", "apiKey", "accessToken",
    "Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "X-Csrf-Token", "password",
    "jsessionid", "X-Amz-Signature", "refresh_token",
])
def test_secret_names_lose_their_values(name: str) -> None:
    snap = snapshot({"PATH_INFO": "/", "QUERY_STRING": f"{name}={SECRET}",
                     "HTTP_" + name.upper().replace("-", "_"): SECRET}, Redactor())
    assert SECRET not in snap.url + snap.args + snap.headers, name
    assert REDACTED in snap.args and REDACTED in snap.headers


@pytest.mark.parametrize("name", ["page", "q", "User-Agent", "Accept", "Keep-Alive", "Host",
                                  "passenger", "monkey_count"])
def test_harmless_names_keep_their_values(name: str) -> None:
    assert Redactor().value(name, "visible") == "visible"


def test_secret_arguments_inside_harmless_headers_are_removed() -> None:
    snap = snapshot({"PATH_INFO": "/cb",
                     "HTTP_REFERER": f"https://app.example/cb?state=ok&access_token={SECRET}",
                     "HTTP_X_ORIGINAL_URL": f"/login?next=/x&code={SECRET}#sig={SECRET}"},
                    Redactor())
    headers = json.loads(snap.headers)
    assert SECRET not in snap.headers
    assert headers["Referer"] == f"https://app.example/cb?state=ok&access_token={REDACTED}"
    assert headers["X-Original-Url"].startswith("/login?next=/x&code=")


def test_session_ids_in_unmatched_paths_are_removed() -> None:
    snap = snapshot({"PATH_INFO": f"/shop;jsessionid={SECRET}/cart"}, Redactor())
    assert SECRET not in snap.url and snap.url.startswith("/shop;jsessionid=")


def test_the_matched_rule_is_stored_not_the_path() -> None:
    app = Flask(__name__)

    @app.route("/reset-password/<token>")
    def reset(token: str) -> str:
        return token

    with app.test_request_context(f"/reset-password/{SECRET}?lang=en"):
        from flask import request

        environ = request.environ
        rule = _matched_rule(environ)
    assert rule == "/reset-password/<token>"
    snap = snapshot(environ, Redactor(), rule)
    assert SECRET not in snap.url
    assert snap.url == "/reset-password/<token>?lang=en"
    with app.test_request_context("/no/such/route"):
        from flask import request

        assert _matched_rule(request.environ) is None


def test_a_secret_name_cut_by_the_length_cap_is_still_secret() -> None:
    name = "x" * 200 + "_token"
    snap = snapshot({"PATH_INFO": "/", "QUERY_STRING": f"{name}={SECRET}"}, Redactor())
    assert SECRET not in snap.args and SECRET not in snap.url
