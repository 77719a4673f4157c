"""Bounded synthetic traffic against a real HTTP server on 127.0.0.1.

:func:`serve` runs a WSGI app in a background thread (werkzeug's threaded server);
:func:`drive` sends a fixed mix of requests from several client threads, stopping at a request
count or a time limit, whichever comes first. Only loopback addresses are ever contacted.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

#: (weight, method, path) of the demo mix; ?outlier and ?fail make a few slow/failing requests.
MIX: tuple[tuple[int, str, str], ...] = (
    (30, "GET", "/api/items"),
    (20, "GET", "/api/items/{n}"),
    (12, "GET", "/page"),
    (12, "GET", "/compute"),
    (8, "GET", "/split"),
    (6, "GET", "/slow"),
    (5, "GET", "/flaky"),
    (4, "GET", "/export.csv"),
    (3, "GET", "/wp-login.php"),  # a scanner: lands in the <unmatched> bucket
)
USERS = tuple(f"user{i}" for i in range(1, 9))


@dataclass(frozen=True)
class TrafficResult:
    sent: int
    by_status: dict[int, int]
    seconds: float


@contextlib.contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve ``app`` on an ephemeral 127.0.0.1 port; yields the base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="demo-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def drive(base_url: str, *, requests: int, clients: int = 4, seconds: float = 60.0,
          seed: int = 1) -> TrafficResult:
    """Send ``requests`` requests (or stop after ``seconds``) from ``clients`` threads."""
    if not base_url.startswith(("http://127.", "http://localhost", "http://[::1]")):
        raise ValueError(f"traffic is only sent to loopback addresses, not {base_url}")
    deadline = time.monotonic() + seconds
    counter = iter(range(requests))
    lock = threading.Lock()
    statuses: Counter[int] = Counter()
    started = time.monotonic()

    def client(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        weights = [w for w, _, _ in MIX]
        while time.monotonic() < deadline:
            with lock:
                n = next(counter, None)
            if n is None:
                return
            _, method, path = rng.choices(MIX, weights)[0]
            path = path.format(n=rng.randrange(0, 520))
            if path == "/slow" and rng.random() < 0.08:
                path += "?outlier=1"
            if path == "/flaky" and rng.random() < 0.2:
                path += "?fail=1"
            req = urllib.request.Request(base_url + path, method=method,
                                         headers={"X-User": rng.choice(USERS)})
            try:
                with urllib.request.urlopen(req, timeout=10) as resp:
                    resp.read()
                    status = resp.status
            except urllib.error.HTTPError as exc:
                status = exc.code
                exc.read()
            with lock:
                statuses[status] += 1

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 15)
    return TrafficResult(sum(statuses.values()), dict(statuses), time.monotonic() - started)
