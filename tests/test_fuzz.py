"""Property tests over the parsers that read what strangers or damage can write.

Segment decoding, the upload payload parser, config parsing and the redactor: no input makes them
raise anything but their own documented error, and no secret-named value survives redaction.
Bounded in examples, not in time: each property runs a fixed number of cases.
"""

from __future__ import annotations

import contextlib
import json
import marshal
import re
import string
import warnings
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fmd_profiler.benchmark.payload import PayloadError, parse_payload
from fmd_profiler.config import KEYS, SECRET_KEYS, ConfigWarning, load_config
from fmd_profiler.errors import ConfigError, ConfigFileError
from fmd_profiler.profiling.redact import REDACTED, Redactor, snapshot
from fmd_profiler.schema import PROFILE_STACKS, REQUESTS, ROUTES
from fmd_profiler.store.segments import MAGIC, SegmentError, decode, encode
from tests.benchmark.test_storage import run_payload
from tests.store.test_segments import request

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

#: Any value marshal can carry (and so any value a damaged segment can hold).
plain_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(-2**80, 2**80)
    | st.floats(allow_nan=True) | st.text(max_size=20) | st.binary(max_size=40),
    lambda inner: st.lists(inner, max_size=5) | st.tuples(inner, inner)
    | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=20)

column_encodings = st.one_of(
    st.tuples(st.sampled_from(["d", "q"]), st.binary(max_size=64)),
    st.tuples(st.just("c"), plain_values),
    st.tuples(st.just("s"), st.lists(plain_values, max_size=4), st.binary(max_size=32)),
    st.tuples(st.just("o"), st.lists(plain_values, max_size=6)),
    plain_values,
)


@st.composite
def segment_payloads(draw: st.DrawFn) -> bytes:
    names = [c.name for c in REQUESTS.columns]
    payload: dict[Any, Any] = {
        "table": draw(st.sampled_from(["requests", "routes"]) | plain_values),
        "host": draw(st.text(max_size=10) | plain_values),
        "pid": draw(st.integers(-2**70, 2**70) | plain_values),
        "rows": draw(st.integers(-3, 12) | st.sampled_from([float("inf"), 10**15, 2**31])
                     | plain_values),
        "columns": draw(st.dictionaries(st.sampled_from(names) | st.text(max_size=5),
                                        column_encodings, max_size=6) | plain_values),
    }
    for key in draw(st.lists(st.sampled_from(list(payload)), max_size=2)):
        payload.pop(key, None)
    return MAGIC + marshal.dumps(payload)


@FUZZ
@given(st.binary(max_size=300) | segment_payloads())
def test_segment_decoding_raises_only_segment_error(data: bytes) -> None:
    for table in (REQUESTS, ROUTES):
        try:
            columns, n = decode(data, table)
        except SegmentError:
            continue
        assert set(columns) == set(table.column_names)
        assert all(len(values) == n for values in columns.values())


@FUZZ
@given(st.lists(st.tuples(st.text(max_size=12), st.one_of(st.text(max_size=12), st.none(),
                                                           plain_values)), min_size=1,
                max_size=5))
def test_encoded_segments_decode_to_their_row_count(values: list[tuple[Any, Any]]) -> None:
    rows = [request(endpoint) for endpoint, _ in values]
    rows = [(*row[:8], group, *row[9:]) for row, (_, group) in zip(rows, values, strict=True)]
    columns, n = decode(encode(REQUESTS, rows, "h", 1), REQUESTS)
    assert n == len(rows)
    for text in columns["endpoint"]:
        text.encode("utf-8")  # never a lone surrogate
    decode(encode(PROFILE_STACKS, [(1, [1, 2], 0.0)], "h", 1), PROFILE_STACKS)


# -- the upload payload ---------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=15)

VALID = json.loads(run_payload("r1", test_ms={"tests/t.py::test_a": [1.0, 2.0]},
                               endpoint_ms={"index": [1.0, 2.0]}, rounds=2).to_json())


@st.composite
def mutated_documents(draw: st.DrawFn) -> bytes:
    document = json.loads(json.dumps(VALID))
    for _ in range(draw(st.integers(1, 3))):
        table = document["tables"][draw(st.sampled_from(sorted(document["tables"])))]
        rows, columns = table.get("rows"), table.get("columns")
        where = draw(st.sampled_from(["cell", "column", "row", "table"]))
        if where == "cell" and isinstance(rows, list) and rows and isinstance(rows[0], list):
            row = rows[draw(st.integers(0, len(rows) - 1))]
            if isinstance(row, list) and row:
                row[draw(st.integers(0, len(row) - 1))] = draw(
                    json_values | st.integers(-2**70, 2**70)
                    | st.sampled_from(["\ud800", 2**40, 70000]))
        elif where == "column" and isinstance(columns, list) and columns:
            columns[draw(st.integers(0, len(columns) - 1))] = draw(json_values)
        elif where == "row" and isinstance(rows, list):
            rows.append(draw(json_values))
        elif where == "table":
            table[draw(st.sampled_from(["columns", "rows"]))] = draw(json_values)
    return json.dumps(document).encode()


@FUZZ
@given(st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode())
       | mutated_documents()
       | st.integers(1, 5000).map(lambda n: b"[" * n + b"]" * n))
def test_the_payload_parser_raises_only_payload_error(body: bytes) -> None:
    try:
        payload = parse_payload(body)
    except PayloadError:
        return
    assert payload.run_ids


# -- config --------------------------------------------------------------------------------------

SECRET_MARK = "Zx7q"


@FUZZ
@given(st.sampled_from(sorted(KEYS)), st.text(max_size=30) | json_values.map(repr)
       | plain_values)
def test_config_values_raise_only_config_error(key: str, value: Any) -> None:
    # A ConfigWarning is documented too (a fleet-only key outside fleet mode): not an error.
    with contextlib.suppress(ConfigError), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigWarning)
        load_config(environ={}, **{key: value})


@FUZZ
@given(st.sampled_from(sorted(SECRET_KEYS & set(KEYS))),
       st.text(string.ascii_letters + string.digits + "[]',%{}() ", min_size=3, max_size=20)
       | st.lists(st.integers(), max_size=3).map(str))
def test_a_bad_secret_is_never_echoed(key: str, tail: str) -> None:
    value = SECRET_MARK + tail
    for given_value in (value, [value, 1], {"x": value}):
        try:
            load_config(environ={}, **{key: given_value})
        except ConfigError as exc:
            assert SECRET_MARK not in str(exc)


@FUZZ
@given(st.text(max_size=200))
def test_config_files_raise_only_config_errors(body: str) -> None:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.cfg"
        path.write_text("[dashboard]\n" + body, encoding="utf-8", errors="surrogatepass")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConfigWarning)  # an unknown key: documented
                load_config(path, environ={})
        except (ConfigError, ConfigFileError):
            pass


# -- the redactor ---------------------------------------------------------------------------------

SECRET_WORDS = ["token", "secret", "password", "passwd", "key", "pwd", "pass", "code", "sig",
                "jwt", "sid", "session", "auth", "cookie", "csrf", "signature", "credential",
                "apikey", "dpop"]
separators = st.sampled_from(["-", "_", ".", ""])
secret_names = st.builds(
    lambda prefix, sep, word, upper, sep2, suffix: (
        prefix + sep + (word.upper() if upper else word.capitalize() if sep == "" and prefix
                        else word)
        # a suffix joins without a separator only as a capitalised word after a lower-case one
        + (sep2 + suffix if sep2 or not suffix else ("_" if upper else "") + suffix.capitalize())),
    st.sampled_from(["", "x", "client", "X-Api", "access", "refresh", "ocp-apim-subscription"]),
    separators, st.sampled_from(SECRET_WORDS), st.booleans(),
    st.sampled_from(["", "-", "_"]), st.sampled_from(["", "id", "value", "v2"]))
secret_values = st.text(string.ascii_letters + string.digits + "-._~+/", min_size=8,
                        max_size=24).map(lambda v: "S3c" + v)


@FUZZ
@given(st.lists(st.tuples(secret_names, secret_values), min_size=1, max_size=4),
       st.sampled_from(["Referer", "X-Original-Url", "User-Agent", "X-Debug"]))
def test_no_secret_named_value_survives(pairs: list[tuple[str, str]], carrier: str) -> None:
    query = "&".join(f"{n}={v}" for n, v in pairs)
    environ = {"PATH_INFO": "/p;" + ";".join(f"{n}={v}" for n, v in pairs),
               "QUERY_STRING": query,
               "HTTP_" + carrier.upper().replace("-", "_"): f"https://h.example/x?{query}"}
    for name, value in pairs:
        # a header name carries no case: its words are spelled apart (X-Key-Id, not X-KeyId)
        words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name)
        environ["HTTP_" + re.sub(r"[^A-Za-z0-9]", "_", words).upper()] = value
    snap = snapshot(environ, Redactor())
    stored = snap.url + snap.args + snap.headers
    for _, value in pairs:
        assert value not in stored
    assert REDACTED in snap.args


@FUZZ
@given(st.dictionaries(st.text(max_size=12), st.text(max_size=40) | plain_values, max_size=8),
       st.text(max_size=60), st.text(max_size=60), st.none() | st.text(max_size=30))
def test_snapshot_never_raises(extra: dict[str, Any], path: str, query: str,
                               rule: str | None) -> None:
    environ = {**extra, "PATH_INFO": path, "QUERY_STRING": query}
    snap = snapshot(environ, Redactor([r"\d{16}"]), rule)
    json.loads(snap.args)
    json.loads(snap.headers)
