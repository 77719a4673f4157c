"""The request hooks: time every request and hand one row to the recorder, exactly once.

The clock starts in a ``wsgi_app`` wrapper (before any ``before_request`` can short-circuit us);
the endpoint, user and address are read when Flask has processed the response (a wrapper around
``app.process_response``, after every ``after_request`` function and the session), or for an
unhandled exception in ``got_request_exception``, which Flask sends inside the request context;
when levels 2-3 add observers, a first-in-line ``before_request`` tells them the endpoint while
the view runs. The row is recorded when the response is complete: when ``wsgi_app`` returns, or
for a streamed body when it ends.
The status is the one the server sends (read from ``start_response``). On the request thread this
costs clock reads, a few attribute reads and a tuple append; nothing here ever raises into the app.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from types import CodeType
from typing import Any, Protocol
from urllib.parse import urlsplit

from flask import Flask, Request, Response, current_app, got_request_exception, request
from werkzeug.routing import RequestRedirect, Rule
from werkzeug.wsgi import ClosingIterator

from fmd_profiler import config as config_module
from fmd_profiler.recording.client_ip import Resolver
from fmd_profiler.recording.current_test import TEST_ID_HEADER, current_test
from fmd_profiler.recording.exception_log import exception_name
from fmd_profiler.recording.group_by import FmdGroupBy
from fmd_profiler.recording.levels import is_own_or_static
from fmd_profiler.recording.request_state import ENVIRON_KEY, RequestObserver, RequestState
from fmd_profiler.recording.runtime import Route, Runtime
from fmd_profiler.schema import REQUEST_ROW

log = logging.getLogger("fmd_profiler")

#: The fields of the row ``finish`` builds, in order. The row is a tuple literal (the cheapest
#: thing to build on the request thread), so its order is stated here and checked at import
#: against the one place the columns are named, :data:`fmd_profiler.schema.REQUEST_ROW`.
_ROW_FIELDS = ("endpoint", "rule", "method", "status", "duration_ms", "cpu_ms", "started_at",
               "version", "group_by", "ip", "exception", "test_id")
if _ROW_FIELDS != REQUEST_ROW:
    raise ImportError(f"fmd_profiler: the request hooks build rows of {_ROW_FIELDS} but the "
                      f"requests table's row is {REQUEST_ROW}; change finish() and _ROW_FIELDS "
                      "together with schema.REQUESTS")

MAX_GROUP_BY_LENGTH = 256

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class GroupBySource(Protocol):
    """Where the hooks find the app's ``get_group_by`` (the :class:`~fmd_profiler.Profiler`)."""

    get_group_by: Callable[[], object] | None


class RequestHooks:
    """The hooks of one app. Built by :class:`fmd_profiler.extension.Profiler`."""

    def __init__(self, runtime: Runtime, profiler: GroupBySource, version: str,
                 client_ip: Resolver, accept_test_header: bool) -> None:
        self.runtime = runtime
        self.profiler = profiler
        self.version = version
        self.client_ip = client_ip
        self.accept_test_header = accept_test_header
        self.observers: list[RequestObserver] = []
        self._warned: set[str] = set()
        self._app_ref: weakref.ref[Flask] | None = None
        self.begin = self._make_begin()
        self.capture = self._make_capture()
        self.finish = self._make_finish()

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
                    state.exception = exception_name(exc)
                    state.error = exc
                state.status = "500"
                finish(state)
                raise
            if not state.streamed:
                finish(state)
            return app_iter

        profiled_wsgi_app.__wrapped__ = wsgi_app  # type: ignore[attr-defined]
        return profiled_wsgi_app

    def entry_codes(self) -> tuple[CodeType, ...]:
        """Code objects under which a request's own work runs: the ``wsgi_app`` wrapper and the
        wrapper of streamed bodies. The sampler cuts call stacks there (the server's frames
        above are noise)."""
        return (self.wrap(_no_app).__code__, _finish_after.__code__)

    # -- Flask hooks (run inside the request context) -----------------------------------------
    # Each hook resolves the request proxy once: every attribute read through the proxy does
    # a context lookup, a large part of a hook's whole cost.

    def install(self, app: Flask) -> None:
        """Register the hooks on ``app`` (the wsgi_app wrapper is installed by the caller)."""
        # Wrapping process_response (Flask documents it as the method to override for this)
        # rather than adding an after_request function: Flask wraps each of those in
        # ensure_sync and a loop, which costs every request more, and here we see the response
        # every after_request function has made.
        process = app.process_response
        get_request = request._get_current_object  # type: ignore[attr-defined]
        capture, finish, internal_error = self.capture, self.finish, self._internal_error

        def process_response(response: Response) -> Response:
            response = process(response)
            try:
                req = get_request()
                state = req.environ.get(ENVIRON_KEY)
                if state is not None:
                    if not state.captured:
                        capture(state, req)
                    # A list body (every str, bytes and JSON response) is complete: the common
                    # case skips the property calls of the full check.
                    if (not state.finished and type(response.response) is not list
                            and _is_streamed(response)):
                        # The body is produced after wsgi_app returns: time it until it ends.
                        state.streamed = True
                        response.response = _finish_after(response.response, finish, state)
            except Exception as exc:
                internal_error("process_response", exc)
            return response

        process_response.__wrapped__ = process  # type: ignore[attr-defined]
        app.process_response = process_response  # type: ignore[method-assign]
        # Exceptions: Flask sends this inside the request context for every unhandled exception,
        # also when it is about to re-raise it (testing / PROPAGATE_EXCEPTIONS).
        got_request_exception.connect(self.on_exception, app, weak=False)
        self._app_ref = weakref.ref(app)

    def add_observer(self, observer: RequestObserver) -> None:
        """Add level-2/3 work; the first observer also installs the before_request hook that
        tells observers the endpoint before the view runs (level 1 never pays for it)."""
        self.observers.append(observer)
        app = self._app_ref() if self._app_ref is not None else None
        if app is not None and self.before_request not in app.before_request_funcs.get(None, []):
            # First in line, so another extension's before_request cannot run before us.
            app.before_request_funcs.setdefault(None, []).insert(0, self.before_request)

    def before_request(self) -> None:
        try:
            req = request._get_current_object()  # type: ignore[attr-defined]
            state = req.environ.get(ENVIRON_KEY)
            if state is not None and state.level == -1:
                self.begin(state, req)
        except Exception as exc:
            self._internal_error("before_request", exc)

    def on_exception(self, sender: Flask, exception: BaseException, **extra: Any) -> None:
        try:
            req = request._get_current_object()  # type: ignore[attr-defined]
            state = req.environ.get(ENVIRON_KEY)
            if state is not None:
                if state.exception is None:
                    state.exception = exception_name(exception)
                    state.error = exception
                if not state.captured:
                    self.capture(state, req)
        except Exception as exc:
            self._internal_error("got_request_exception", exc)

    def _make_begin(self) -> Callable[[RequestState, Request], int]:
        """``begin(state, req) -> level``: the endpoint, its level, and the observers' start."""
        levels_of = self.runtime.levels.of
        observers = self.observers  # the same list add_observer appends to

        def begin(state: RequestState, req: Request) -> int:
            rule = req.url_rule
            if rule is None and isinstance(req.routing_exception, RequestRedirect):
                rule = _redirect_target(req)
            if rule is not None:  # unmatched 404/405s share one bucket: scanners can't blow it up
                state.endpoint = rule.endpoint
                state.rule = rule.rule
            level = state.level = levels_of(state.endpoint)
            if level and observers:
                state.thread_id = threading.get_ident()
                for observer in observers:
                    observer.begin(state)
            return level

        return begin

    def _make_capture(self) -> Callable[[RequestState, Request], None]:
        """``capture(state, req)``: read what the app knows by the end of the request (its
        endpoint, user and client). A closure over what it reads, as ``finish`` is: this runs
        for every request, and the method calls and attribute lookups it replaced cost more."""
        begin = self.begin
        profiler = self.profiler
        client_ip = self.client_ip
        accept_test_header = self.accept_test_header
        group_by_failed = self._group_by_failed
        get_ip_failed = self._get_ip_failed

        def capture(state: RequestState, req: Request) -> None:
            state.captured = True
            level = state.level
            if level == -1:  # no before_request hook (level 1 only) or it did not run
                level = begin(state, req)
            if level == 0:
                return
            environ = req.environ
            group_by = profiler.get_group_by or config_module.get_group_by
            if group_by is None and config_module.group_by is not None:  # FMD 2.x-5.x's name
                group_by = FmdGroupBy(config_module.group_by)
            if group_by is not None:
                try:
                    value = group_by()
                except Exception as exc:
                    group_by_failed(exc)
                else:
                    # str() and the slice return a short str itself: no copy in the common case.
                    state.group_by = None if value is None else str(value)[:MAX_GROUP_BY_LENGTH]
            state.ip = client_ip(environ)
            custom_ip = config_module.get_ip  # FMD's config.inject_dependencies(get_ip=...)
            if custom_ip is not None:
                try:
                    found = custom_ip()
                except Exception as exc:
                    get_ip_failed(exc)
                else:
                    if found is not None:
                        state.ip = str(found)[:MAX_GROUP_BY_LENGTH]
            test_id = current_test.get()
            if test_id is None and accept_test_header:
                test_id = environ.get(TEST_ID_HEADER)
            state.test_id = test_id

        return capture

    def _get_ip_failed(self, exc: Exception) -> None:
        self._warn_once(f"get_ip:{type(exc).__name__}",
                        "fmd_profiler: the get_ip given to inject_dependencies raised %s: %s; "
                        "these requests keep the address TRUSTED_PROXIES resolves",
                        type(exc).__name__, exc)

    def _group_by_failed(self, exc: Exception) -> None:
        self._warn_once(f"group_by:{type(exc).__name__}",
                        "fmd_profiler: get_group_by raised %s: %s; these requests are "
                        "recorded without a group", type(exc).__name__, exc)

    # -- completion ----------------------------------------------------------------------------

    def _make_finish(self) -> Callable[[RequestState], None]:
        """``finish(state)``: record the request (once, whatever calls it first).

        A closure over everything it reads: it runs for every request, and on a loaded server
        each attribute lookup and call on the request thread shows up in requests/s.
        """
        clock = self.runtime.clock
        perf, cpu = clock.perf, clock.thread_cpu
        levels_of = self.runtime.levels.of
        add = self.runtime.requests.add
        add_exception = self.runtime.exceptions.add
        version = self.version
        observers = self.observers  # the same list add_observer appends to
        internal_error = self._internal_error

        def finish(state: RequestState) -> None:
            if state.finished:
                return
            state.finished = True
            try:
                duration = perf() - state.perf_start
                level = state.level
                if level == -1:  # never reached the request context (a middleware failed first)
                    level = state.level = levels_of(state.endpoint)
                if level == 0:
                    return
                # After the level check: the thread CPU clock is a system call (costlier still
                # under load), and a request at level 0 is not recorded.
                cpu_s = cpu() - state.cpu_start
                status = state.status
                # The columns of schema.REQUEST_ROW, in its order (_ROW_FIELDS, checked below).
                add((state.endpoint, state.rule, state.method,
                     int(status[:3]) if status else 500,
                     duration * 1000.0, cpu_s * 1000.0, state.started_at, version,
                     state.group_by, state.ip, state.exception, state.test_id))
                if state.error is not None:
                    add_exception((state.endpoint, version, state.started_at, state.error))
                    state.error = None  # the frames are the writer's now, not the request's
                if state.thread_id:
                    for observer in observers:
                        observer.end(state, duration, cpu_s)
            except Exception as exc:
                internal_error("finish", exc)

        return finish

    # -- errors ----------------------------------------------------------------------------

    def _internal_error(self, where: str, exc: BaseException) -> None:
        self._warn_once(f"internal:{where}:{type(exc).__name__}",
                        "fmd_profiler: internal error in %s (%s: %s); the request was served "
                        "normally. Please report this.", where, type(exc).__name__, exc)

    def _warn_once(self, key: str, message: str, *args: object) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message, *args)


def capture(exception: BaseException) -> None:
    """Record a handled ``exception`` with its traceback against the current request's
    endpoint, as Flask-MonitoringDashboard 5's ``capture(e)`` does. Outside a monitored request,
    or at level 0, it does nothing; it never raises."""
    try:
        req = request._get_current_object()  # type: ignore[attr-defined]
        state = req.environ.get(ENVIRON_KEY)
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        app_state = app.extensions.get("fmd_profiler")
        if state is None or app_state is None:
            return
        rule = req.url_rule
        endpoint = rule.endpoint if rule is not None else state.endpoint
        if app_state.runtime.levels.of(endpoint) == 0:
            return
        app_state.runtime.exceptions.add((endpoint, app_state.version, state.started_at,
                                           exception))
    except Exception:  # no request context, or anything else: never into the app
        return


def _is_streamed(response: Response) -> bool:
    # Error pages built from an HTTPException arrive as a ClosingIterator over a finished body:
    # "streamed" by werkzeug's definition, but complete when wsgi_app returns. Files
    # (direct_passthrough) go to the server as they are, often to sendfile: wrapping them would
    # lose that, so a download is timed until it is handed to the server.
    return (response.is_streamed and not response.direct_passthrough
            and not isinstance(response.response, ClosingIterator))


def _finish_after(body: Iterable[bytes] | Iterable[str], finish: Callable[[RequestState], None],
                  state: RequestState) -> Iterator[bytes] | Iterator[str]:
    """Yield ``body``; record when it is exhausted, closed by the server, or dropped."""
    try:
        yield from body
    finally:
        finish(state)


def _no_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    return []


def _redirect_target(req: Request) -> Rule | None:
    """The rule a routing redirect (``/dashboard`` -> ``/dashboard/``, a merged slash) leads to:
    the redirect belongs to that endpoint, not to the unmatched bucket. Rare, so the second
    match costs nothing on the common path."""
    try:
        adapter = current_app.create_url_adapter(req)
        if adapter is None:
            return None
        new_url = req.routing_exception.new_url  # type: ignore[union-attr]
        path = urlsplit(new_url).path
        script = req.script_root
        if script and path.startswith(script):
            path = path[len(script):] or "/"
        rule, _ = adapter.match(path, req.method, return_rule=True)
        return rule  # type: ignore[no-any-return]
    except Exception:  # a redirect to another host, or no rule: the unmatched bucket
        return None


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
