"""Benchmark payloads: strict validation, storing in one transaction, baselines and verdicts."""

import json

import pytest

from fmd_profiler.benchmark import benchmark_queries as queries
from fmd_profiler.benchmark.payload import Payload, PayloadError, parse_payload
from fmd_profiler.benchmark.storage import EXISTS, STORED, RunConflictError, store_payload
from fmd_profiler.schema import BENCH_RUNS, BENCH_VERDICTS
from fmd_profiler.store import Database, StoreLocation

T0 = 1_750_000_000.0


def run_payload(run_id, *, label="run", started_at=T0, branch="main", machine="m1",
                test_ms=None, endpoint_ms=None, rounds=6):
    """A run with per-round call durations per test and per-round request durations per
    endpoint (each endpoint hit once per round by the test 'tests/t.py::test_e')."""
    test_ms = test_ms or {}
    endpoint_ms = endpoint_ms or {}
    runs = [(run_id, label, started_at, started_at + 60, "a" * 40, "aaaaaaa", None, branch, None,
             False, T0 - 3600, "1.0", machine, "{}", "3.11.7", "p" * 16, None, None, "host",
             rounds, 1, len(test_ms) + 1, 0, 0, False, "0.1.0")]
    tests = [(run_id, name, r + 1, 0.1, ms, 0.05, "passed")
             for name, values in test_ms.items() for r, ms in enumerate(values)]
    tests += [(run_id, "tests/t.py::test_e", r + 1, 0.1, 1.0, 0.05, "passed")
              for r in range(rounds)]
    requests = [(run_id, "tests/t.py::test_e", r + 1, endpoint, f"/{endpoint}", "GET", 200, ms,
                 ms / 2, started_at + r) for endpoint, values in endpoint_ms.items()
                for r, ms in enumerate(values)]
    return Payload({"bench_runs": tuple(runs), "bench_tests": tuple(tests),
                    "bench_requests": tuple(requests)})


@pytest.fixture
def database(tmp_path):
    return Database(StoreLocation(tmp_path / "bench.duckdb"))


def test_a_payload_survives_json_and_validation_unchanged():
    payload = run_payload("r1", test_ms={"tests/t.py::test_a": [1.0, 2.0]},
                          endpoint_ms={"index": [0.5, 0.6]}, rounds=2)
    parsed = parse_payload(payload.to_json())
    assert parsed.tables == payload.tables
    assert parsed.digest() == payload.digest()


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(format="x"), "format: expected 'fmd_profiler.benchmark', got 'x'"),
    (lambda d: d["tables"].update(secrets={}), "tables: unknown table 'secrets'"),
    (lambda d: d["tables"]["bench_tests"]["rows"][0].__setitem__(4, "slow"),
     "tables.bench_tests.rows[0] (call_ms): expected a number, got 'slow'"),
    (lambda d: d["tables"]["bench_tests"]["rows"][0].__setitem__(6, "meh"),
     "tables.bench_tests.rows[0] (outcome): expected one of error, failed, passed, skipped, "
     "got 'meh'"),
    (lambda d: d["tables"]["bench_tests"]["rows"][1].__setitem__(2, 1),
     "tables.bench_tests.rows[1]: duplicate run_id, test_id, round"),
    (lambda d: d["tables"]["bench_tests"]["rows"][0].__setitem__(0, "other"),
     "tables.bench_tests.rows[0] (run_id): run 'other' is not in tables.bench_runs"),
    (lambda d: d["tables"]["bench_runs"]["rows"][0].__setitem__(0, "a b"),
     "tables.bench_runs.rows[0] (run_id): a run id is 1-64 letters"),
    (lambda d: d["tables"]["bench_runs"]["columns"].append("extra"),
     "tables.bench_runs.columns: unknown column 'extra'"),
    (lambda d: d["tables"].pop("bench_runs"), "tables.bench_runs: at least one run is needed"),
])
def test_malformed_payloads_are_refused_with_the_place_of_the_problem(mutate, message):
    document = json.loads(run_payload("r1", test_ms={"tests/t.py::test_a": [1.0, 2.0]},
                                      rounds=2).to_json())
    mutate(document)
    with pytest.raises(PayloadError) as caught:
        parse_payload(json.dumps(document))
    assert str(caught.value).startswith(message)


def test_not_json_is_refused():
    with pytest.raises(PayloadError, match="the body is not JSON"):
        parse_payload(b"{nope")


def test_a_stored_run_reads_back_through_the_report_queries(database):
    payload = run_payload("r1", test_ms={"tests/t.py::test_a": [9.0, 1.0, 2.0, 3.0]},
                          endpoint_ms={"index": [9.0, 1.0, 3.0, 2.0]}, rounds=4)
    assert store_payload(database, payload, clock=lambda: T0).status == STORED
    with database.read() as con:
        [run] = queries.runs(con)
        tests = {t["test_id"]: t for t in queries.test_medians(con, "r1")}
        [endpoint] = queries.endpoint_medians(con, "r1")
        mapping = queries.test_endpoints(con, "r1")
    assert (run["run_id"], run["tests"], run["regressions"]) == ("r1", 2, 0)
    # Round 1 is the warm-up: 9.0 never counts.
    assert tests["tests/t.py::test_a"]["median_call_ms"] == 2.0
    assert tests["tests/t.py::test_a"]["rounds"] == 3
    assert (endpoint["endpoint"], endpoint["median_ms"], endpoint["hits"]) == ("index", 2.0, 3)
    assert mapping == [{"test_id": "tests/t.py::test_e", "endpoint": "index",
                        "hits_per_round": 1.0, "median_ms": 2.0}]


def test_storing_the_same_run_twice_is_a_no_op_and_other_data_is_a_conflict(database):
    payload = run_payload("r1", test_ms={"tests/t.py::test_a": [1.0, 2.0]}, rounds=2)
    assert store_payload(database, payload).status == STORED
    assert store_payload(database, payload).status == EXISTS
    changed = run_payload("r1", test_ms={"tests/t.py::test_a": [1.0, 5.0]}, rounds=2)
    with pytest.raises(RunConflictError, match="already stored with different data"):
        store_payload(database, changed)
    with database.read() as con:
        assert con.execute("SELECT count(*) FROM bench_tests").fetchone()[0] == 4


def test_a_failure_while_storing_leaves_nothing_behind(database):
    good = run_payload("r1", test_ms={"tests/t.py::test_a": [1.0, 2.0]}, rounds=2)
    # Built without validation: a duplicated primary key makes the last insert fail.
    tests = good.rows("bench_tests")
    broken = good.with_rows("bench_tests", (*tests, tests[0]))
    with pytest.raises(Exception, match=r"(?i)constraint"):
        store_payload(database, broken)
    with database.read() as con:
        counts = [con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in ("bench_runs", "bench_tests", "bench_requests", "bench_submissions")]
    assert counts == [0, 0, 0, 0]


def test_the_baseline_is_the_last_run_of_the_branch_on_the_same_machine(database):
    steady = [5.0] * 8
    slower = [5.0] + [6.5 + 0.01 * i for i in range(7)]
    runs = [run_payload("old", started_at=T0, test_ms={"tests/t.py::test_a": steady},
                        endpoint_ms={"index": steady}, rounds=8),
            run_payload("other-machine", started_at=T0 + 10, machine="m2",
                        test_ms={"tests/t.py::test_a": slower}, rounds=8),
            run_payload("other-branch", started_at=T0 + 20, branch="dev",
                        test_ms={"tests/t.py::test_a": slower}, rounds=8)]
    for payload in runs:
        store_payload(database, payload)
    head = run_payload("new", started_at=T0 + 30, test_ms={"tests/t.py::test_a": slower},
                       endpoint_ms={"index": slower}, rounds=8)
    stored = store_payload(database, head)
    verdicts = {(row[2], row[3]): row for row in stored.payload.rows("bench_verdicts")}
    assert {row[1] for row in verdicts.values()} == {"old"}
    assert verdicts["test", "tests/t.py::test_a"][-1] == "regression"
    assert verdicts["endpoint", "index"][-1] == "regression"
    assert verdicts["test", "tests/t.py::test_e"][-1] == "ok"  # 1.0 ms in both runs
    with database.read() as con:
        flagged = [v["name"] for v in queries.verdicts(con, "new") if v["verdict"] == "regression"]
        [new_run] = [r for r in queries.runs(con) if r["run_id"] == "new"]
    assert sorted(flagged) == ["index", "tests/t.py::test_a"]
    assert (new_run["regressions"], new_run["baseline_run_id"]) == (2, "old")


def test_an_against_payload_compares_its_head_with_its_base(database):
    # An earlier plain run of the branch as slow as the head: compared with it, the head would
    # be ok; compared with its own base, it is a regression.
    slow = [8.0 + 0.01 * i for i in range(8)]
    store_payload(database, run_payload("old", started_at=T0 - 100,
                                        test_ms={"tests/t.py::test_a": slow},
                                        endpoint_ms={"index": slow}, rounds=8))
    base = run_payload("base", label="base", test_ms={"tests/t.py::test_a": [5.0] * 8},
                       endpoint_ms={"index": [5.0 + 0.01 * i for i in range(8)]}, rounds=8)
    head = run_payload("head", label="head", test_ms={"tests/t.py::test_a": slow},
                       endpoint_ms={"index": slow}, rounds=8)
    both = Payload({name: base.rows(name) + head.rows(name) for name in base.tables})
    stored = store_payload(database, both)
    verdicts = {(row[2], row[3]): (row[1], row[-1]) for row in stored.payload.rows(
        "bench_verdicts")}
    assert verdicts == {("test", "tests/t.py::test_a"): ("base", "regression"),
                        ("endpoint", "index"): ("base", "regression"),
                        ("test", "tests/t.py::test_e"): ("base", "ok")}
    with database.read() as con:
        # The store's own rule would have picked the old run; base runs are never baselines.
        assert queries.find_baseline(con, "head") == "old"
        history = queries.endpoint_history(con, "index")
    assert [(h["run_id"], h["label"]) for h in history] == [("old", "run"), ("base", "base"),
                                                            ("head", "head")]
    assert stored.payload.rows(BENCH_RUNS.name)[0][0] == "base"


def test_verdicts_from_an_older_harness_without_the_set_aside_columns_are_read_as_none():
    base = run_payload("base", label="base", test_ms={"tests/t.py::test_a": [5.0] * 4}, rounds=4)
    row = ["head", "base", "test", "tests/t.py::test_a", 3, 3, 5.0, 5.0, 1.0, 0.9, 1.1, 0.5,
           0.5, 1.3, "ok"]
    document = json.loads(base.to_json())
    document["tables"]["bench_verdicts"] = {
        "columns": [c for c in BENCH_VERDICTS.column_names
                    if c not in ("base_set_aside", "head_set_aside")],
        "rows": [row]}
    runs = document["tables"]["bench_runs"]["rows"]
    runs.append(["head", "head", *runs[0][2:]])  # the verdict's run
    [verdict] = parse_payload(json.dumps(document)).rows("bench_verdicts")
    assert verdict == (*row[:14], None, None, "ok")
    document["tables"]["bench_verdicts"]["columns"].remove("ratio")
    with pytest.raises(PayloadError, match="missing 'ratio'"):
        parse_payload(json.dumps(document))
