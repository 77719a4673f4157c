"""Which Flask apps a benchmark run profiles, without the project's code asking for it.

By default every app of the test process: :func:`patch_flask` wraps ``Flask.__call__`` for the
run only, so an app without fmd_profiler gets it on its first request (before that request, when
Flask still accepts setup) - apps that enable it themselves are left as they are. The run's
configuration comes from ``DASHBOARD_CONFIG``, which the harness points at a store of its own.
With ``--app module:name`` only that app is profiled (:func:`enable_named_app`).
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from flask import Flask

from fmd_profiler.errors import SetupError
from fmd_profiler.extension import EXTENSION_KEY, enable_profiler

log = logging.getLogger("fmd_profiler")

_lock = threading.Lock()
_original_call: Callable[..., Any] | None = None


def patch_flask() -> None:
    """Profile every Flask app from its first request on (idempotent)."""
    global _original_call
    with _lock:
        if _original_call is not None:
            return
        original = _original_call = Flask.__call__

        def __call__(app: Flask, environ: dict[str, Any], start_response: Any) -> Any:
            if EXTENSION_KEY not in app.extensions:
                enable_for_run(app)
            return original(app, environ, start_response)

        __call__.__wrapped__ = original  # type: ignore[attr-defined]
        Flask.__call__ = __call__  # type: ignore[method-assign,assignment]


def unpatch_flask() -> None:
    global _original_call
    with _lock:
        if _original_call is not None:
            Flask.__call__ = _original_call  # type: ignore[method-assign]
            _original_call = None


def enable_for_run(app: Flask) -> bool:
    """Enable the profiler on ``app`` if it can be; never raises into the test."""
    with _lock:
        if EXTENSION_KEY in app.extensions:
            return True
        if getattr(app, "_got_first_request", False):
            return False  # Flask refuses setup after the first request; leave it unprofiled
        try:
            enable_profiler(app)
        except Exception as exc:  # the project's tests must run regardless
            log.warning("fmd_profiler: could not profile the Flask app %r for the benchmark "
                        "run (%s: %s); its requests are not attributed", app.name,
                        type(exc).__name__, exc)
            return False
        return True


def split_app_spec(spec: str) -> tuple[str, str]:
    """``module:attribute`` -> (module, attribute); raises SetupError for other forms."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise SetupError(f"--app {spec!r}: write module:name, e.g. --app myproject.wsgi:app")
    return module_name, attribute


def load_app(spec: str) -> Flask:
    """The app named by ``module:attribute`` (attribute may be dotted)."""
    module_name, attribute = split_app_spec(spec)
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise SetupError(f"--app {spec!r}: cannot import {module_name} ({exc}); run the "
                         "harness from the project's folder or install the project") from None
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise SetupError(f"--app {spec!r}: {module_name} has no attribute "
                             f"{attribute!r}") from None
    if not isinstance(target, Flask):
        raise SetupError(f"--app {spec!r} is a {type(target).__name__}, not a Flask app. Name "
                         "the app object; apps built by factories in the tests are profiled "
                         "without --app")
    return target


def enable_named_app(spec: str) -> Flask:
    app = load_app(spec)
    if not enable_for_run(app):
        raise SetupError(f"--app {spec!r}: the app has already served requests before the "
                         "tests started, so it can no longer be profiled")
    return app
