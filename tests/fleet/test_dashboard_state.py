"""Dashboard replicas on different pods share their state through the catalog: the sign-in
throttle, sign-outs and the generated session secret (two apps stand for two pods)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fmd_profiler.benchmark.receiver import TOKEN_GUESSES
from fmd_profiler.benchmark.submit import SUBMIT_PATH
from fmd_profiler.dashboard.auth import LOGIN_PER_USER
from fmd_profiler.dashboard.standalone import create_app
from fmd_profiler.dashboard.throttle import Limit
from fmd_profiler.dashboard.views import COOKIE
from fmd_profiler.errors import StoreError
from fmd_profiler.fleet.advisory import connect
from fmd_profiler.fleet.settings import LakeSettings
from fmd_profiler.fleet.state import (
    TABLE,
    CatalogAttemptLog,
    CatalogDocuments,
    CatalogSessionGenerations,
)
from fmd_profiler.store.lake import ensure_lake_schema
from tests.fleet.test_read_dashboard import (
    DSN_PASSWORD,
    add_requests,
    csrf_of,
    fleet_values,  # noqa: F401  (a fixture)
    signed_in,
)


@pytest.fixture
def two_pods(fleet_values: dict[str, Any],  # noqa: F811
             lake_settings: LakeSettings) -> Iterator[tuple[Flask, Flask]]:
    ensure_lake_schema(lake_settings)
    add_requests(lake_settings, "items", 5)
    yield create_app(**fleet_values), create_app(**fleet_values)


def moved(client: FlaskClient, app: Flask) -> FlaskClient:
    """A client of ``app`` carrying ``client``'s session cookie (the balancer chose another
    pod)."""
    cookie = client.get_cookie(COOKIE, path="/dashboard")
    assert cookie is not None
    other = app.test_client()
    other.set_cookie(COOKIE, cookie.value)
    return other


def wrong_sign_in(app: Flask) -> int:
    client = app.test_client()
    token = csrf_of(client.get("/dashboard/login").text)
    return client.post("/dashboard/login", data={"username": "admin", "password": "wrong",
                                                 "csrf_token": token}).status_code


def test_two_pods_share_one_sign_in_throttle(two_pods: tuple[Flask, Flask],
                                             fleet_values: dict[str, Any]) -> None:  # noqa: F811
    first, second = two_pods
    codes = [wrong_sign_in(first if n % 2 else second) for n in range(LOGIN_PER_USER)]
    assert codes == [401] * LOGIN_PER_USER
    # Each pod saw fewer than the limit; together they reached it.
    assert wrong_sign_in(first) == 429
    assert wrong_sign_in(second) == 429
    assert not Path(fleet_values["SPOOL_DIR"]).exists()


def test_a_sign_out_on_one_pod_ends_the_session_on_the_other(
        two_pods: tuple[Flask, Flask], fleet_values: dict[str, Any]) -> None:  # noqa: F811
    first, second = two_pods
    client = signed_in(first)
    elsewhere = moved(client, second)
    assert elsewhere.get("/dashboard/").status_code == 200
    token = csrf_of(client.get("/dashboard/settings").text)
    assert client.post("/dashboard/logout", data={"csrf_token": token}).status_code == 302
    ended = elsewhere.get("/dashboard/")
    assert ended.status_code == 302 and "/dashboard/login" in ended.headers["Location"]
    # A new sign-in on the other pod works again.
    assert signed_in(second).get("/dashboard/").status_code == 200
    assert not Path(fleet_values["SPOOL_DIR"]).exists()


def test_pods_without_a_secret_key_sign_with_one_generated_secret(
        fleet_values: dict[str, Any], lake_settings: LakeSettings,  # noqa: F811
        caplog: pytest.LogCaptureFixture) -> None:
    ensure_lake_schema(lake_settings)
    add_requests(lake_settings, "items", 5)
    values = {k: v for k, v in fleet_values.items() if k != "SECRET_KEY"}
    first, second = create_app(**values), create_app(**values)
    with caplog.at_level(logging.WARNING, logger="fmd_profiler"):
        client = signed_in(first)
        assert moved(client, second).get("/dashboard/").status_code == 200
    made = [r.getMessage() for r in caplog.records if "no SECRET_KEY" in r.getMessage()]
    assert len(made) == 1 and TABLE in made[0]  # made once, by the first pod
    con = connect(lake_settings.dsn)
    try:
        row = con.execute(f"SELECT body->>'key' FROM {TABLE} WHERE name = 'secret'").fetchone()
    finally:
        con.close()
    assert row is not None and len(row[0]) >= 32
    assert row[0] not in caplog.text
    # A cookie signed with another key is not accepted by either pod.
    stranger = create_app(**{**values, "SECRET_KEY": "another-secret-altogether"})
    assert moved(signed_in(stranger), first).get("/dashboard/").status_code == 302
    assert not Path(fleet_values["SPOOL_DIR"]).exists()


def test_parallel_edits_from_two_pods_lose_no_update(lake_settings: LakeSettings) -> None:
    pods = [CatalogDocuments(lake_settings.dsn), CatalogDocuments(lake_settings.dsn)]
    generations = [CatalogSessionGenerations(docs) for docs in pods]
    rounds = 15

    def sign_outs(n: int) -> None:
        for _ in range(rounds):
            generations[n].bump("admin", "admin")

    threads = [threading.Thread(target=sign_outs, args=(n,)) for n in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert generations[0].current("admin", "admin") == 2 * rounds
    assert generations[1].current("viewer", "viewer") == 0
    for docs in pods:
        docs.close()


def test_the_catalog_throttle_counts_across_logs_and_forgets_on_success(
        lake_settings: LakeSettings) -> None:
    first = CatalogAttemptLog(CatalogDocuments(lake_settings.dsn))
    second = CatalogAttemptLog(CatalogDocuments(lake_settings.dsn))
    limits = [Limit("name-key", 2), Limit("address-key", 5)]
    assert first.admit(limits, 100.0, 60.0) == 0
    assert second.admit(limits, 101.0, 60.0) == 0
    assert first.admit(limits, 102.0, 60.0) == pytest.approx(58.0)
    second.forget("name-key")
    assert first.admit(limits, 103.0, 60.0) == 0
    assert first.keys() == 2
    assert second.admit(limits, 170.0, 60.0) == 0  # the window has passed


def test_an_unreachable_catalog_fails_clearly_and_hides_the_password(
        lake_settings: LakeSettings, caplog: pytest.LogCaptureFixture) -> None:
    dsn = f"host=127.0.0.1 port=1 dbname=nowhere user=fmd password={DSN_PASSWORD}"
    docs = CatalogDocuments(dsn)
    with pytest.raises(StoreError) as raised:
        docs.read("sessions")
    assert "password=***" in str(raised.value) and DSN_PASSWORD not in str(raised.value)
    # The throttle still counts, in this process, and says so once.
    log = CatalogAttemptLog(docs)
    with caplog.at_level(logging.WARNING, logger="fmd_profiler"):
        assert log.admit([Limit("k", 1)], 10.0, 60.0) == 0
        assert log.admit([Limit("k", 1)], 11.0, 60.0) > 0
    assert caplog.text.count("throttling per process") == 1
    assert DSN_PASSWORD not in caplog.text


def test_two_upload_pods_share_one_token_throttle(
        lake_env: dict[str, str], lake_settings: LakeSettings, tmp_path: Path) -> None:
    ensure_lake_schema(lake_settings)
    values = {**lake_env, "SPOOL_DIR": str(tmp_path / "spool"), "SUBMIT_TOKEN": "a-right-token",
              "PASSWORD": "boss-pass-1", "SECRET_KEY": "a-session-secret"}
    pods = [create_app(**values).test_client(), create_app(**values).test_client()]

    def guess(n: int) -> int:
        return pods[n % 2].post(f"/dashboard/{SUBMIT_PATH}", data=b"{}",
                                headers={"Authorization": "Bearer a-wrong-token",
                                         "Content-Type": "application/json"}).status_code

    assert [guess(n) for n in range(TOKEN_GUESSES)] == [401] * TOKEN_GUESSES
    assert guess(0) == 429 and guess(1) == 429
    assert not (tmp_path / "spool").exists()
