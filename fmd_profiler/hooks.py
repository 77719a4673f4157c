"""The request hooks: time every request and hand one row to the recorder, exactly once.

The clock starts in a ``wsgi_app`` wrapper (before any ``before_request`` can short-circuit us),
the endpoint is resolved by the first ``before_request`` function (so observers such as the
sampler know it while the view runs), the user and address are read at the end of the request
(``after_request``/``teardown_request``, whichever runs first), and the row is recorded when the
response is complete: when ``wsgi_app`` returns, or for a streamed body when the server closes it.
The status is the one the server sends (read from ``start_response``). On the request thread this
costs clock reads, a few attribute reads and a tuple append; nothing here ever raises into the app.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from flask import Flask, Response, request
from werkzeug.wsgi import ClosingIterator

from fmd_profiler import config as config_module
from fmd_profiler.client_ip import Resolver
from fmd_profiler.context import TEST_ID_HEADER, current_test
from fmd_profiler.levels import UNMATCHED, is_own_or_static
from fmd_profiler.runtime import Route, Runtime

if TYPE_CHECKING:
    from fmd_profiler.extension import Profiler

log = logging.getLogger("fmd_profiler")

ENVIRON_KEY = "fmd_profiler.request"
MAX_GROUP_BY_LENGTH = 256

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class RequestState:
    """What is known about one request in flight. Mutable, private to this module and observers."""

    __slots__ = ("t0", "c0", "wall0", "method", "status", "endpoint", "rule", "level",
                 "group_by", "ip", "exception", "test_id", "captured", "streamed", "finished",
                 "thread_id", "extra")

    def __init__(self, t0: float, c0: float, wall0: float, method: str | None) -> None:
        self.t0 = t0
        self.c0 = c0
        self.wall0 = wall0
        self.method = method
        self.status: str | None = None
        self.endpoint = UNMATCHED
        self.rule: str | None = None
        self.level = -1  # not yet known
        self.group_by: str | None = None
        self.ip: str | None = None
        self.exception: str | None = None
        self.test_id: str | None = None
        self.captured = False
        self.streamed = False
        self.finished = False
        self.thread_id = 0
        self.extra: object = None


class RequestObserver(Protocol):
    """Optional per-request work for levels 2 and 3 (the sampler, outlier capture)."""

    def begin(self, state: RequestState) -> None: ...

    def end(self, state: RequestState, duration_s: float, cpu_s: float) -> None: ...


class RequestHooks:
    """The hooks of one app. Built by :class:`fmd_profiler.extension.Profiler`."""

    def __init__(self, runtime: Runtime, profiler: Profiler, version: str,
                 client_ip: Resolver, accept_test_header: bool) -> None:
        self.runtime = runtime
        self.profiler = profiler
        self.version = version
        self.client_ip = client_ip
        self.accept_test_header = accept_test_header
        self.observers: list[RequestObserver] = []
        self._warned: set[str] = set()

    # -- wsgi_app wrapper ----------------------------------------------------------------------

    def wrap(self, wsgi_app: WSGIApp) -> WSGIApp:
        clock = self.runtime.clock
        perf, cpu, wall = clock.perf, clock.thread_cpu, clock.wall
        runtime = self.runtime
        finish = self.finish

        def profiled_wsgi_app(environ: dict[str, Any],
                              start_response: Callable[..., Any]) -> Iterable[bytes]:
            if not runtime.started:
                runtime.ensure_started()
            state = RequestState(perf(), cpu(), wall(), environ.get("REQUEST_METHOD"))
            environ[ENVIRON_KEY] = state

            def capture_status(status: str, headers: Any, exc_info: Any = None) -> Any:
                state.status = status
                return start_response(status, headers, exc_info)

            try:
                app_iter = wsgi_app(environ, capture_status)
            except BaseException as exc:
                # Exceptions propagate out of wsgi_app in testing / PROPAGATE_EXCEPTIONS mode.
                if state.exception is None:
                    state.exception = _exception_name(exc)
                state.status = "500"
                finish(state)
                raise
            if not state.streamed:
                finish(state)
            return app_iter

        profiled_wsgi_app.__wrapped__ = wsgi_app  # type: ignore[attr-defined]
        return profiled_wsgi_app

    def entry_codes(self) -> tuple[Any, ...]:
        """Code objects under which a request's own work runs: the ``wsgi_app`` wrapper and the
        wrapper of streamed bodies. The sampler cuts call stacks there (the server's frames
        above are noise)."""
        return (self.wrap(_no_app).__code__, _finish_after.__code__)

    # -- Flask hooks (run inside the request context) -----------------------------------------

    def after_request(self, response: Response) -> Response:
        try:
            state = request.environ.get(ENVIRON_KEY)
            if state is not None:
                if not state.captured:
                    self._capture(state)
                if not state.finished and _is_streamed(response):
                    # The body is produced after wsgi_app returns: time it until it ends.
                    state.streamed = True
                    if response.direct_passthrough:  # a file: servers close it, often sendfile
                        response.call_on_close(lambda: self.finish(state))
                    else:
                        response.response = _finish_after(response.response, self.finish, state)
        except Exception as exc:  # noqa: BLE001
            self._internal_error("after_request", exc)
        return response

    def teardown_request(self, exc: BaseException | None) -> None:
        try:
            state = request.environ.get(ENVIRON_KEY)
            if state is None:
                return
            if not state.captured:
                self._capture(state)
            if exc is not None and state.exception is None:
                state.exception = _exception_name(exc)
        except Exception as error:  # noqa: BLE001
            self._internal_error("teardown_request", error)

    def before_request(self) -> None:
        """Runs first among before_request functions: the endpoint is known, the view not run."""
        try:
            state = request.environ.get(ENVIRON_KEY)
            if state is not None and state.level == -1:
                self._begin(state)
        except Exception as exc:  # noqa: BLE001
            self._internal_error("before_request", exc)

    def _begin(self, state: RequestState) -> None:
        rule = request.url_rule
        if rule is not None:  # unmatched 404/405s share one bucket: scanners can't blow it up
            state.endpoint = rule.endpoint
            state.rule = rule.rule
        level = self.runtime.levels.of(state.endpoint)
        state.level = level
        if level and self.observers:
            state.thread_id = threading.get_ident()
            for observer in self.observers:
                observer.begin(state)

    def _capture(self, state: RequestState) -> None:
        """Read what the app knows by the end of the request (its user, the client)."""
        state.captured = True
        if state.level == -1:  # before_request did not run (context pushed by other means)
            self._begin(state)
        if state.level == 0:
            return
        environ = request.environ
        state.group_by = self._group_by()
        state.ip = self.client_ip(environ)
        test_id = current_test.get()
        if test_id is None and self.accept_test_header:
            test_id = environ.get(TEST_ID_HEADER)
        state.test_id = test_id

    def _group_by(self) -> str | None:
        fn = self.profiler.get_group_by or config_module.get_group_by
        if fn is None:
            return None
        try:
            value = fn()
            return None if value is None else str(value)[:MAX_GROUP_BY_LENGTH]
        except Exception as exc:  # noqa: BLE001 - the user's function must not break requests
            self._warn_once(f"group_by:{type(exc).__name__}",
                            "fmd_profiler: get_group_by raised %s: %s; these requests are "
                            "recorded without a group", type(exc).__name__, exc)
            return None

    # -- completion ----------------------------------------------------------------------------

    def finish(self, state: RequestState) -> None:
        """Record the request (once, whatever calls it first)."""
        if state.finished:
            return
        state.finished = True
        try:
            clock = self.runtime.clock
            duration = clock.perf() - state.t0
            cpu = clock.thread_cpu() - state.c0
            level = state.level
            if level == -1:  # never reached the request context (a middleware failed first)
                level = state.level = self.runtime.levels.of(state.endpoint)
            if level == 0:
                return
            status = state.status
            self.runtime.requests.add((
                state.endpoint, state.rule, state.method,
                int(status[:3]) if status else 500,
                duration * 1000.0, cpu * 1000.0, state.wall0, self.version,
                state.group_by, state.ip, state.exception, state.test_id))
            if state.thread_id:
                for observer in self.observers:
                    observer.end(state, duration, cpu)
        except Exception as exc:  # noqa: BLE001
            self._internal_error("finish", exc)

    # -- errors ----------------------------------------------------------------------------

    def _internal_error(self, where: str, exc: BaseException) -> None:
        self._warn_once(f"internal:{where}:{type(exc).__name__}",
                        "fmd_profiler: internal error in %s (%s: %s); the request was served "
                        "normally. Please report this.", where, type(exc).__name__, exc)

    def _warn_once(self, key: str, message: str, *args: object) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message, *args)


def _is_streamed(response: Response) -> bool:
    # Error pages built from an HTTPException arrive as a ClosingIterator over a finished body:
    # "streamed" by werkzeug's definition, but complete when wsgi_app returns.
    return response.is_streamed and not isinstance(response.response, ClosingIterator)


def _finish_after(body: Iterable[bytes], finish: Callable[[RequestState], None],
                  state: RequestState) -> Iterator[bytes]:
    """Yield ``body``; record when it is exhausted, closed by the server, or dropped."""
    try:
        yield from body
    finally:
        finish(state)


def _no_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    return []


def _exception_name(exc: BaseException) -> str:
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def list_routes(app: Flask, runtime: Runtime) -> list[Route]:
    """Every URL rule of ``app`` worth listing (static files and the dashboard only if enabled)."""
    routes = []
    for rule in app.url_map.iter_rules():
        endpoint = rule.endpoint
        if is_own_or_static(endpoint) and runtime.levels.of(endpoint) == 0:
            continue
        methods = ",".join(sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}))
        routes.append(Route(endpoint, rule.rule, methods))
    return routes
