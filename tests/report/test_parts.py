"""Small parts of the report and dashboard: paths, colours, formatting, sessions."""

from __future__ import annotations

import pytest

from fmd_profiler.config import load_config
from fmd_profiler.dashboard.auth import (
    ADMIN,
    GUEST,
    Credentials,
    SessionCodec,
    csrf_ok,
    new_session,
)
from fmd_profiler.report.charts import label
from fmd_profiler.report.pages.paths import endpoint_path, endpoint_slug
from fmd_profiler.report.palette import endpoint_colors, stable_color
from fmd_profiler.report.site import format_ms, format_p, format_pct


def test_endpoint_paths_are_safe_and_distinct() -> None:
    names = ["api.items", "api/items", "../../etc/passwd", "<script>", "", "a" * 300]
    slugs = [endpoint_slug(n) for n in names]
    assert len(set(slugs)) == len(names)
    for slug in slugs:
        assert "/" not in slug and not slug.startswith(".")
        assert len(slug) <= 60
    assert endpoint_path("api.items").startswith("endpoints/api.items-")


def test_colours_are_stable_distinct_and_configurable() -> None:
    assert stable_color("api.items") == stable_color("api.items")
    assert stable_color("api.items") != stable_color("api.item")
    names = [f"endpoint_{i}" for i in range(12)]
    colors = endpoint_colors(names, {})
    assert len(set(colors.values())) == 12  # no two endpoints of a store look alike
    assert endpoint_colors(list(reversed(names)), {}) == colors  # order does not matter
    configured = endpoint_colors(names, {"endpoint_3": "#ff0000"})
    assert configured["endpoint_3"] == "#ff0000"
    assert len(set(configured.values())) == 12
    many = endpoint_colors([f"e{i}" for i in range(40)], {})
    assert len(set(many.values())) == 40  # past the palette: colours from the hash


def test_chart_labels_cannot_start_mathtext() -> None:
    assert label("$x$") == r"\$x\$"
    assert len(label("x" * 100)) == 42


@pytest.mark.parametrize(("value", "text"), [(None, "–"), (0.1234, "0.12"), (12.345, "12.3"),
                                             (1234.5, "1,234"), (float("nan"), "–")])
def test_durations_are_formatted_for_reading(value: float | None, text: str) -> None:
    assert format_ms(value) == text


def test_rates_and_p_values() -> None:
    assert format_pct(0.0123) == "1.2 %"
    assert format_pct(0.0) == "0.0 %"
    assert format_pct(0.00001) == "<0.1 %"
    assert format_p(0.00001) == "<0.0001"
    assert format_p(0.04321) == "0.0432"


def test_credentials_check_every_account() -> None:
    config = load_config(None, environ={}, USERNAME="boss", PASSWORD="p1",
                         GUEST_PASSWORD=["g1", "g2"])
    credentials = Credentials(config)
    assert credentials.check("boss", "p1") == ADMIN
    assert credentials.check("guest", "g2") == GUEST
    assert credentials.check("guest", "p1") is None
    assert credentials.check("boss", "g1") is None
    assert not Credentials(load_config(None, environ={})).configured


def test_changing_a_password_signs_everybody_out() -> None:
    session = new_session("boss", ADMIN)
    old = Credentials(load_config(None, environ={}, PASSWORD="old"))
    new = Credentials(load_config(None, environ={}, PASSWORD="new"))
    cookie = SessionCodec("secret", old.fingerprint(), 3600).dumps(session)
    assert SessionCodec("secret", old.fingerprint(), 3600).loads(cookie) == session
    assert SessionCodec("secret", new.fingerprint(), 3600).loads(cookie) is None
    assert SessionCodec("other secret", old.fingerprint(), 3600).loads(cookie) is None
    assert csrf_ok(session, session.csrf_token)
    assert not csrf_ok(session, "")
    assert not csrf_ok(None, session.csrf_token)
