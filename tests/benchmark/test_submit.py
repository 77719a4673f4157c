"""Uploads against a real running app with the receiver: token, malformed, too big, duplicate,
retries - and a harness run that uploads, or fails to and keeps its results."""

import gzip
import json
import threading
import urllib.error
import urllib.request

import pytest
from flask import Flask, jsonify, request
from werkzeug.serving import make_server

from fmd_profiler import enable_profiler
from fmd_profiler.benchmark import benchmark_queries as queries
from fmd_profiler.benchmark.submit import UploadError, upload
from fmd_profiler.store import Database, StoreLocation
from tests.benchmark.test_harness import harness, sample_repo
from tests.benchmark.test_storage import run_payload

TOKEN = "s3cret-token"


class Server:
    """A WSGI app served on 127.0.0.1 from a thread, for the length of a test."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join(timeout=10)


@pytest.fixture
def dashboard(tmp_path):
    app = Flask("dashboard")
    app.get("/")(lambda: "home")
    profiler = enable_profiler(app, DATABASE=str(tmp_path / "dash.duckdb"), SUBMIT_TOKEN=TOKEN,
                               SUBMIT_MAX_MB=1)
    with Server(app) as server:
        server.app, server.profiler = app, profiler
        server.database = Database(StoreLocation(tmp_path / "dash.duckdb"))
        yield server


def post(url, body, headers):
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read()), response.headers
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}"), exc.headers


def stored_runs(database):
    with database.read() as con:
        return [r["run_id"] for r in queries.runs(con)]


def test_a_run_with_the_token_is_stored_and_reported(dashboard):
    payload = run_payload("r1", test_ms={"tests/t.py::test_a": [3.0, 1.0, 2.0]},
                          endpoint_ms={"index": [3.0, 1.0, 2.0]}, rounds=3)
    result = upload(f"{dashboard.url}/dashboard", TOKEN, payload.to_json())
    assert (result.status, result.answer["status"], result.attempts) == (201, "stored", 1)
    with dashboard.database.read() as con:
        [run] = queries.runs(con)
        tests = queries.test_medians(con, "r1")
        endpoints = queries.endpoint_medians(con, "r1")
    assert run["run_id"] == "r1"
    assert {t["test_id"]: t["median_call_ms"] for t in tests}["tests/t.py::test_a"] == 1.5
    assert [(e["endpoint"], e["median_ms"]) for e in endpoints] == [("index", 1.5)]


def test_a_repeated_upload_is_accepted_once_and_other_data_under_its_id_refused(dashboard):
    payload = run_payload("r1", test_ms={"tests/t.py::test_a": [1.0, 2.0]}, rounds=2)
    assert upload(dashboard.url + "/dashboard", TOKEN, payload.to_json()).status == 201
    again = upload(dashboard.url + "/dashboard/submit-test-results", TOKEN, payload.to_json())
    assert (again.status, again.answer["status"]) == (200, "exists")
    other = run_payload("r1", test_ms={"tests/t.py::test_a": [1.0, 9.0]}, rounds=2)
    with pytest.raises(UploadError, match="HTTP 409: run r1 is already stored with different"):
        upload(dashboard.url + "/dashboard", TOKEN, other.to_json())
    with dashboard.database.read() as con:
        assert con.execute("SELECT count(*) FROM bench_tests").fetchone()[0] == 4


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", f"Basic {TOKEN}",
                                           f"Bearer {TOKEN}x", "Bearer"])
def test_without_the_right_token_nothing_is_read_or_stored(dashboard, authorization):
    headers = {"Content-Type": "application/json"}
    if authorization:
        headers["Authorization"] = authorization
    body = run_payload("r1", rounds=1).to_json()
    status, answer, response_headers = post(f"{dashboard.url}/dashboard/submit-test-results",
                                            body, headers)
    assert status == 401
    assert "bearer token" in answer["error"]
    assert response_headers["WWW-Authenticate"] == 'Bearer realm="fmd_profiler"'
    assert stored_runs(dashboard.database) == []


@pytest.mark.parametrize("body, message", [
    (b"{not json", "not a valid benchmark run: the body is not JSON"),
    (b"[]", "not a valid benchmark run: the document must be a JSON object"),
    (json.dumps({"format": "fmd_profiler.benchmark", "version": 1, "tables": {
        "bench_runs": {"columns": ["run_id"], "rows": [["r1"]]}}}).encode(),
     "not a valid benchmark run: tables.bench_runs.columns: expected each of run_id, label"),
])
def test_malformed_runs_get_400_with_the_reason(dashboard, body, message):
    status, answer, _ = post(f"{dashboard.url}/dashboard/submit-test-results", body,
                             {"Authorization": f"Bearer {TOKEN}"})
    assert status == 400
    assert answer["error"].startswith(message)
    assert stored_runs(dashboard.database) == []


def test_a_run_with_one_bad_row_stores_nothing(dashboard):
    document = json.loads(run_payload("r1", test_ms={"tests/t.py::test_a": [1.0, 2.0]},
                                      endpoint_ms={"index": [1.0, 2.0]}, rounds=2).to_json())
    document["tables"]["bench_requests"]["rows"][-1][6] = "200"
    status, answer, _ = post(f"{dashboard.url}/dashboard/submit-test-results",
                             json.dumps(document).encode(), {"Authorization": f"Bearer {TOKEN}"})
    assert status == 400
    assert answer["error"].endswith("tables.bench_requests.rows[1] (status): expected a whole "
                                    "number, got '200'")
    assert stored_runs(dashboard.database) == []


def test_too_large_bodies_get_413_compressed_or_not(dashboard):
    url = f"{dashboard.url}/dashboard/submit-test-results"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    status, answer, _ = post(url, b" " * (2 * 2**20), auth)
    assert status == 413
    assert "limit of 1 MB (SUBMIT_MAX_MB)" in answer["error"]
    bomb = gzip.compress(b" " * (8 * 2**20))  # 8 kB on the wire, 8 MB unpacked
    assert len(bomb) < 2**20
    status, _, _ = post(url, bomb, {**auth, "Content-Encoding": "gzip"})
    assert status == 413


def test_the_receiver_exists_only_with_a_token_and_is_not_monitored(dashboard, tmp_path):
    upload(dashboard.url + "/dashboard", TOKEN, run_payload("r1", rounds=1).to_json())
    urllib.request.urlopen(dashboard.url + "/", timeout=10).read()
    dashboard.app.extensions["fmd_profiler"].runtime.flush(ingest=True)
    with dashboard.database.read() as con:
        endpoints = [r[0] for r in con.execute("SELECT DISTINCT endpoint FROM requests "
                                               "ORDER BY 1").fetchall()]
    assert endpoints == ["<lambda>"]
    plain = Flask("plain")
    enable_profiler(plain, DATABASE=str(tmp_path / "plain.duckdb"))
    response = plain.test_client().post("/dashboard/submit-test-results", data=b"{}")
    assert response.status_code == 404


def test_the_client_retries_busy_servers_with_backoff():
    answers = [503, 503, 201]
    seen = []
    flaky = Flask("flaky")

    @flaky.post("/dashboard/submit-test-results")
    def receive():
        seen.append(gzip.decompress(request.get_data()))
        status = answers[len(seen) - 1]
        response = jsonify(status="stored" if status == 201 else None)
        if status == 503:
            response.headers["Retry-After"] = "3"
        return response, status

    sleeps = []
    with Server(flaky) as server:
        result = upload(server.url + "/dashboard", TOKEN, b'{"x": 1}', sleep=sleeps.append)
    assert (result.status, result.attempts) == (201, 3)
    assert seen == [b'{"x": 1}'] * 3
    assert len(sleeps) == 2 and all(s >= 3 for s in sleeps)  # Retry-After is honoured


def test_a_dead_server_fails_after_the_last_attempt():
    with Server(Flask("closing")) as server:
        url = server.url
    sleeps = []
    with pytest.raises(UploadError, match="after 3 attempts"):
        upload(url, TOKEN, b"{}", attempts=3, backoff_s=0.5, timeout_s=2, sleep=sleeps.append)
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0]


def test_the_harness_uploads_and_keeps_the_run_when_the_upload_fails(dashboard, tmp_path):
    repo = sample_repo(tmp_path / "project")
    db = tmp_path / "bench.duckdb"
    common = ["-n", "1", "--db", str(db), "--tests", "tests/test_items.py",
              "--upload", f"{dashboard.url}/dashboard"]
    refused = harness(repo, *common, FMD_PROFILER_SUBMIT_TOKEN="wrong")
    assert refused.returncode == 0, refused.stderr
    assert "upload failed" in refused.stderr and "HTTP 401" in refused.stderr
    [kept] = (tmp_path / "bench.duckdb.uploads").glob("*.json")
    assert stored_runs(dashboard.database) == []
    # What the message tells the user to send later is accepted as it is.
    result = upload(f"{dashboard.url}/dashboard", TOKEN, kept.read_bytes())
    assert result.status == 201
    assert stored_runs(dashboard.database) == [kept.stem]
    accepted = harness(repo, *common, FMD_PROFILER_SUBMIT_TOKEN=TOKEN)
    assert accepted.returncode == 0, accepted.stderr
    assert "(stored)" in accepted.stderr
    assert len(stored_runs(dashboard.database)) == 2
    assert stored_runs(Database(StoreLocation(db))) == stored_runs(dashboard.database)


def hostile(change):
    document = json.loads(run_payload("r1", test_ms={"tests/t.py::test_a": [1.0, 2.0]},
                                      endpoint_ms={"index": [1.0, 2.0]}, rounds=2).to_json())
    change(document)
    return json.dumps(document).encode()


def set_cell(table, column, value):
    def change(document):
        data = document["tables"][table]
        data["rows"][-1][data["columns"].index(column)] = value
    return change


def rename_column(table, new):
    def change(document):
        document["tables"][table]["columns"][0] = new
    return change


@pytest.mark.parametrize("body, reason", [
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "nested too deeply"),
    (hostile(rename_column("bench_tests", ["run_id"])), "unknown column ['run_id']"),
    (hostile(rename_column("bench_tests", {"a": 1})), "unknown column {'a': 1}"),
    (hostile(set_cell("bench_requests", "status", 70000)), "out of range for its column"),
    (hostile(set_cell("bench_tests", "round", 2**40)), "out of range for its column"),
    (hostile(set_cell("bench_requests", "endpoint", "\ud800")), "lone surrogate"),
])
def test_hostile_json_gets_400_with_the_reason(dashboard, body, reason):
    status, answer, _ = post(f"{dashboard.url}/dashboard/submit-test-results", body,
                             {"Authorization": f"Bearer {TOKEN}"})
    assert status == 400, answer
    assert answer["error"].startswith("not a valid benchmark run: ")
    assert reason in answer["error"]
    assert stored_runs(dashboard.database) == []


def test_token_guesses_are_throttled_per_address(dashboard):
    from fmd_profiler.benchmark.receiver import TOKEN_GUESSES

    url = f"{dashboard.url}/dashboard/submit-test-results"
    body = run_payload("r1", rounds=1).to_json()
    for _ in range(TOKEN_GUESSES):
        assert post(url, body, {"Authorization": "Bearer guess"})[0] == 401
    status, answer, headers = post(url, body, {"Authorization": "Bearer guess"})
    assert status == 429 and int(headers["Retry-After"]) > 0
    assert "too many wrong tokens" in answer["error"]
    # even the right token waits: the address cannot tell the two apart by the answer
    assert post(url, body, {"Authorization": f"Bearer {TOKEN}"})[0] == 429
    assert stored_runs(dashboard.database) == []


def test_right_tokens_are_never_throttled(dashboard):
    from fmd_profiler.benchmark.receiver import TOKEN_GUESSES

    for i in range(TOKEN_GUESSES + 2):
        payload = run_payload(f"r{i}", rounds=1).to_json()
        assert upload(dashboard.url + "/dashboard", TOKEN, payload).status == 201


def test_the_default_upload_limit_is_modest():
    from fmd_profiler.config import load_config

    assert load_config().submit_max_mb == 16
