"""Outlier baselines and redaction of the request data an outlier keeps."""

from __future__ import annotations

import json

from fmd_profiler.profiling.outliers import MIN_REQUESTS, OutlierDetector
from fmd_profiler.profiling.redact import REDACTED, Redactor, snapshot
from fmd_profiler.queries.calltree import WeightedStack, folded_lines, function_weights

HOUR = 3600.0


def test_no_outlier_before_the_baseline_has_enough_requests() -> None:
    detector = OutlierDetector(2.5, per_hour=10)
    # The very first requests of a new endpoint are slow (cold caches): never outliers.
    verdicts = [detector.observe("a", 500.0 if i < 3 else 10.0, 0.0)
                for i in range(MIN_REQUESTS)]
    assert verdicts == [None] * MIN_REQUESTS


def test_a_request_slower_than_constant_times_the_median_is_an_outlier() -> None:
    detector = OutlierDetector(2.5, per_hour=10)
    for i in range(100):
        detector.observe("a", 10.0 + (i % 5), 0.0)  # median 12
    assert detector.observe("a", 29.0, 0.0) is None  # 2.5 x 12 = 30
    verdict = detector.observe("a", 31.0, 0.0)
    assert verdict is not None
    assert verdict.baseline_ms == 12.0 and verdict.threshold_ms == 30.0
    assert detector.observe("b", 1000.0, 0.0) is None  # other endpoints have their own


def test_the_median_is_robust_to_a_burst_of_slow_requests() -> None:
    detector = OutlierDetector(2.0, per_hour=1000)
    for _ in range(200):
        detector.observe("a", 10.0, 0.0)
    flagged = [detector.observe("a", 100.0, 0.0) for _ in range(60)]
    assert all(flagged)  # a mean would have crept up and stopped flagging them


def test_outliers_are_capped_per_endpoint_per_hour() -> None:
    detector = OutlierDetector(2.0, per_hour=3)
    for _ in range(MIN_REQUESTS):
        detector.observe("a", 10.0, 0.0)
    kept = [detector.observe("a", 100.0, 10.0) is not None for _ in range(5)]
    assert kept == [True, True, True, False, False]
    assert detector.observe("a", 100.0, HOUR + 1) is not None  # a new hour


ENVIRON = {
    "REQUEST_METHOD": "POST",
    "SCRIPT_NAME": "",
    "PATH_INFO": "/orders/4111111111111111",
    "QUERY_STRING": "page=2&access_token=abc123&q=shoes&q=red",
    "HTTP_AUTHORIZATION": "Bearer s3cr3t",
    "HTTP_COOKIE": "session=deadbeef",
    "HTTP_X_API_KEY": "k-123",
    "HTTP_USER_AGENT": "curl/8",
    "HTTP_X_CUSTOMER_SSN": "123-45-6789",
    "CONTENT_TYPE": "application/json",
    "wsgi.input": object(),
}


def test_secrets_are_redacted_from_headers_arguments_and_url() -> None:
    snap = snapshot(ENVIRON, Redactor([r"ssn", r"\d{16}"]))
    headers = json.loads(snap.headers)
    assert headers["Authorization"] == REDACTED
    assert headers["Cookie"] == REDACTED
    assert headers["X-Api-Key"] == REDACTED
    assert headers["X-Customer-Ssn"] == REDACTED  # configured name pattern
    assert headers["User-Agent"] == "curl/8"
    assert headers["Content-Type"] == "application/json"
    args = json.loads(snap.args)
    assert args == {"access_token": REDACTED, "page": "2", "q": ["shoes", "red"]}
    assert snap.method == "POST"
    assert "abc123" not in snap.url and "4111111111111111" not in snap.url
    assert snap.url.startswith("/orders/") and "page=2" in snap.url
    everything = snap.url + snap.args + snap.headers
    for secret in ("s3cr3t", "deadbeef", "k-123", "123-45-6789", "abc123"):
        assert secret not in everything


def test_values_are_capped() -> None:
    snap = snapshot({"PATH_INFO": "/", "HTTP_X_BIG": "x" * 10_000}, Redactor())
    assert len(json.loads(snap.headers)["X-Big"]) == 1024


def test_function_weights_count_recursion_once() -> None:
    stacks = [WeightedStack((1, 2, 2, 3), 4.0, 2), WeightedStack((1, 2), 1.0, 1)]
    weights = function_weights(stacks)
    assert weights[2].total_weight == 5.0 and weights[2].self_weight == 1.0
    assert weights[3].self_weight == 4.0 and weights[1].total_weight == 5.0


def test_folded_lines_merge_names_and_scale_to_integers() -> None:
    names = {1: "flask:<dispatch>", 2: "app:view", 3: "app:work"}
    lines = folded_lines([WeightedStack((1, 2, 3), 1.5), WeightedStack((1, 2), 0.25),
                          WeightedStack((1, 2, 3), 0.5)], names.__getitem__, scale=1000)
    assert lines == ["flask:<dispatch>;app:view 250", "flask:<dispatch>;app:view;app:work 2000"]
