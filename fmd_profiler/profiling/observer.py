"""The request-thread side of the profiler, and its wiring into a Flask app.

:func:`attach_profiler` (called by ``init_app``) appends a :class:`ProfilingObserver` to the app's
request hooks and, once per store and process, creates the
:class:`~fmd_profiler.profiling.engine.ProfilingEngine` and registers its writer sources and start
and stop hooks. On the request thread ``begin`` builds one small record and registers it with the
sampler (a dict insert); ``end`` removes it and queues it (a dict pop and a deque append). Async
views run in an event-loop thread of their own: the app's ``async_to_sync`` is wrapped so that,
while the coroutine runs, the sampler follows that thread and, while it waits, its await chain.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from flask import Flask, has_request_context, request

from fmd_profiler.profiling.engine import ProfilingEngine
from fmd_profiler.profiling.sampler import Slot
from fmd_profiler.recording.current_test import TEST_ID_HEADER, current_test
from fmd_profiler.recording.request_state import ENVIRON_KEY, ObservedRequests, RequestState

if TYPE_CHECKING:
    from fmd_profiler.recording.runtime import Runtime

_engines: weakref.WeakKeyDictionary[Runtime, ProfilingEngine] = weakref.WeakKeyDictionary()
_engines_lock = threading.Lock()


class ProfilingObserver:
    """Begins and ends the profiling of each monitored request of one app (level >= 2)."""

    def __init__(self, engine: ProfilingEngine, hooks: ObservedRequests) -> None:
        self.engine = engine
        self.version = hooks.version
        self.accept_test_header = hooks.accept_test_header

    def begin(self, state: RequestState) -> None:
        level = state.level
        engine = self.engine
        if level < 2 or not engine.enabled:
            return
        slot = Slot(state.endpoint, self.version, level, state.thread_id, state.started_at,
                    state.method)
        state.sampler_slot = slot
        if level >= 3:
            slot.environ = request.environ  # read after the request, only for outliers
            detail = engine.detail
            if detail.enabled and detail.pick(state.endpoint, state.started_at):
                slot.detail = detail.begin()
        exact = engine.exact
        if exact is not None and exact.running:
            slot.tag = exact.enter((state.endpoint, self.version, self._test_id()))
        if slot.detail is None:
            engine.sampler.add(slot)

    def end(self, state: RequestState, duration_s: float, cpu_s: float) -> None:
        slot = state.sampler_slot
        if slot is None:
            return
        state.sampler_slot = None
        engine = self.engine
        engine.sampler.remove(slot)
        if slot.detail is not None:
            engine.detail.end(slot.detail)
        if slot.tag and engine.exact is not None:
            engine.exact.leave()
        slot.duration = duration_s
        slot.cpu = cpu_s
        engine.finished.append(slot)

    def _test_id(self) -> str | None:
        test_id = current_test.get()
        if test_id is None and self.accept_test_header:
            test_id = request.environ.get(TEST_ID_HEADER)
        return test_id


def attach_profiler(app: Flask, hooks: ObservedRequests, runtime: Runtime) -> ProfilingEngine:
    """Profile ``app``'s monitored requests at levels 2 and 3 (and in exact mode)."""
    with _engines_lock:
        engine = _engines.get(runtime)
        if engine is None:
            entries = (*hooks.entry_codes(), _profiled_call.__code__)
            engine = ProfilingEngine(runtime.config, runtime.clock, entries)
            for source in engine.sources():
                runtime.add_source(source)
            runtime.on_start(engine.start)
            runtime.on_stop(engine.stop)
            runtime.add_counters(lambda: {"samples_taken": engine.sampler.samples,
                                          "sampler_passes": engine.sampler.ticks,
                                          "sampler_cpu_seconds": engine.sampler.cost_s})
            _engines[runtime] = engine
            if runtime.started:  # a runtime another app already started: join it now
                engine.start()
    hooks.add_observer(ProfilingObserver(engine, hooks))
    app.async_to_sync = _follow_async(  # type: ignore[method-assign,assignment]
        app.async_to_sync, engine)
    return engine


def engine_of(runtime: Runtime) -> ProfilingEngine | None:
    """The profiler engine of a runtime (tests and the benchmark use it)."""
    return _engines.get(runtime)


AsyncToSync = Callable[[Callable[..., Coroutine[Any, Any, Any]]], Callable[..., Any]]


def _follow_async(async_to_sync: AsyncToSync, engine: ProfilingEngine) -> AsyncToSync:
    """Wrap ``app.async_to_sync`` so the sampler follows async views into their loop thread."""

    @functools.wraps(async_to_sync)
    def profiled_async_to_sync(func: Callable[..., Coroutine[Any, Any, Any]]) -> Any:
        @functools.wraps(func)
        async def run(*args: Any, **kwargs: Any) -> Any:
            return await _profiled_call(engine, func, args, kwargs)

        return async_to_sync(run)

    return profiled_async_to_sync


async def _profiled_call(engine: ProfilingEngine, func: Callable[..., Any], args: Any,
                         kwargs: Any) -> Any:
    """Runs in the event-loop thread; the profiler's entry point for async views."""
    slot = _current_slot()
    coroutine = func(*args, **kwargs)
    if slot is None:
        return await coroutine
    serving = slot.thread_id
    sampler = engine.sampler
    sampled = slot.detail is None  # a detailed request is profiled by its hook, not sampled
    slot.coroutine = coroutine
    if sampled:  # from the main thread's timer signal (if it had it) to the sampler thread
        sampler.move(slot, threading.get_ident())
    else:
        slot.thread_id = threading.get_ident()
    resumed = slot.detail is not None and engine.detail.resume(slot.detail)
    try:
        return await coroutine
    finally:
        slot.coroutine = None
        if sampled:
            sampler.move(slot, serving)
        else:
            slot.thread_id = serving
        if resumed:
            engine.detail.suspend(slot.detail)


def _current_slot() -> Slot | None:
    if not has_request_context():
        return None
    state = request.environ.get(ENVIRON_KEY)
    return state.sampler_slot if isinstance(state, RequestState) else None
