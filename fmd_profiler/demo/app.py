"""The example service: a JSON API over SQLite, a template-heavy page, a call-heavy endpoint,
an endpoint whose time splits 60/30/10 over three known functions, occasional slow requests and
errors, a streamed download and a route nobody calls.

``create_app(profile=False)`` gives the bare app (the benchmark baseline); otherwise the profiler
is enabled with ``overrides`` as its settings.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import weakref
from typing import Any

from flask import Flask, abort, g, jsonify, render_template, request
from jinja2 import DictLoader

from fmd_profiler.recording.clock import SYSTEM_CLOCK, Clock

PAGE = """<!doctype html><title>{{ title }}</title>
<h1>{{ title }}</h1>
<table>{% for row in rows %}
<tr class="{{ loop.cycle('odd', 'even') }}"><td>{{ row.id }}</td>
<td>{{ row.name | title }}</td><td>{{ '%.2f' | format(row.price) }}</td>
<td>{% for tag in row.tags %}<i>{{ tag }}</i>{% endfor %}</td></tr>
{% endfor %}</table>"""

class Catalogue:
    """A small SQLite table the request threads read concurrently, each through its own
    connection, as a connection pool would give them (one shared connection would need a lock,
    and a lock every request queues on is not what a database-backed endpoint looks like).

    Every connection is closed explicitly: the anchor when the catalogue is collected, a
    thread's own when that thread ends (Python 3.13 warns about connections left to the garbage
    collector, and the tests turn warnings into errors).
    """

    def __init__(self) -> None:
        self._uri = f"file:fmd-demo-{id(self)}?mode=memory&cache=shared"
        anchor = sqlite3.connect(self._uri, uri=True, check_same_thread=False)
        weakref.finalize(self, anchor.close)
        anchor.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price REAL)")
        anchor.executemany("INSERT INTO items VALUES (?, ?, ?)",
                           [(i, f"item {i}", i * 1.25) for i in range(500)])
        anchor.commit()  # the shared in-memory database lives as long as this connection
        self._local = threading.local()

    def query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        holder = getattr(self._local, "holder", None)
        if holder is None:
            holder = self._local.holder = _ThreadConnection(self._uri)
        return holder.con.execute(sql, params).fetchall()


class _ThreadConnection:
    """One thread's connection; only that thread's ``threading.local`` refers to the holder,
    so the holder goes when the thread does, and its finalizer closes the connection."""

    __slots__ = ("__weakref__", "con")

    def __init__(self, uri: str) -> None:
        # Used by one thread only; the finalizer may run in another (the one that collects).
        self.con = sqlite3.connect(uri, uri=True, check_same_thread=False)
        weakref.finalize(self, self.con.close)


def spin(seconds: float) -> int:
    """Burn ``seconds`` of this thread's CPU time in pure Python, like real application code.

    A fixed amount of work, not a loop until a wall-clock deadline. Python hands the GIL to a
    waiting sampler at a loop's back-edge or at a function's entry. When the OS pauses the
    thread (a busy host) across such a deadline, the loop ends without another back-edge, so
    the sampler's pending look lands at the entry of the *next* function, which is credited
    with the pause: the 60/30/10 split then came out with the middle function far too big. Real
    code keeps looping after a pause, as this does.
    """
    end = time.thread_time() + seconds
    n = 0
    while time.thread_time() < end:
        n += 1
    return n


def split_sixty(total: float) -> int:
    return spin(total * 0.6)


def split_thirty(total: float) -> int:
    return spin(total * 0.3)


def split_ten(total: float) -> int:
    return spin(total * 0.1)


def fib(n: int) -> int:
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def create_app(profile: bool = True, *, release: str = "1.0", clock: Clock = SYSTEM_CLOCK,
               **overrides: Any) -> Flask:
    """``release="1.1"`` makes /compute about 60 % slower (1.2 fixes it), for the versions page.

    ``clock`` is handed to the profiler (the demo gives it a simulated date).
    """
    app = Flask("fmd_demo")
    app.jinja_loader = DictLoader({"page.html": PAGE})
    fib_n = 21 if release == "1.1" else 20
    catalogue = Catalogue()

    @app.route("/api/items")
    def items() -> Any:
        limit = min(int(request.args.get("limit", 20)), 100)
        rows = catalogue.query("SELECT id, name, price FROM items WHERE price > ? ORDER BY id "
                               "LIMIT ?", (limit / 10, limit))
        return jsonify([{"id": i, "name": n, "price": p} for i, n, p in rows])

    @app.route("/api/items/<int:item_id>")
    def item(item_id: int) -> Any:
        found = catalogue.query("SELECT id, name, price FROM items WHERE id = ?", (item_id,))
        if not found:
            abort(404)
        return jsonify({"id": found[0][0], "name": found[0][1], "price": found[0][2]})

    @app.route("/page")
    def page() -> str:
        rows = [{"id": i, "name": f"item {i}", "price": i * 1.25, "tags": ["a", "b", "c"]}
                for i in range(150)]
        return render_template("page.html", title="Catalogue", rows=rows)

    @app.route("/compute")
    def compute() -> Any:
        return jsonify(fib=fib(fib_n))

    @app.route("/split")
    def split() -> Any:
        """60/30/10 over three functions; ~10 ms by default, ?ms= to change it."""
        total = float(request.args.get("ms", 10)) / 1000
        return jsonify(a=split_sixty(total), b=split_thirty(total), c=split_ten(total))

    @app.route("/slow")
    def slow() -> str:
        if request.args.get("outlier"):
            time.sleep(0.25)
        time.sleep(0.005)
        return "done"

    @app.route("/flaky")
    def flaky() -> str:
        if request.args.get("fail"):
            raise RuntimeError("the flaky endpoint failed, as asked")
        return "ok"

    @app.route("/export.csv")
    def export() -> Any:
        def rows() -> Any:
            yield "id,name\n"
            for i in range(200):
                yield f"{i},item {i}\n"
        return app.response_class(rows(), mimetype="text/csv")

    @app.route("/admin/rebuild-index", methods=["POST"])
    def rebuild_index() -> str:  # never called by the traffic: shows up as unused
        return "rebuilt"

    @app.before_request
    def remember_user() -> None:
        g.user = request.headers.get("X-User")

    if profile:
        from fmd_profiler import Profiler

        profiler = Profiler(app, clock=clock, **overrides)
        profiler.get_group_by = lambda: g.get("user")
    return app
