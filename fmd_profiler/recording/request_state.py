"""What is known about one request in flight, and the contract between the hooks and observers.

The request hooks create a :class:`RequestState` per request and keep it in the WSGI environ
under :data:`ENVIRON_KEY`; at levels 2-3 they call each :class:`RequestObserver` when the
endpoint is known and when the request ends. An observer (the profiler) is added through
:class:`ObservedRequests` and never needs the hooks' module itself.
"""

from __future__ import annotations

from types import CodeType
from typing import TYPE_CHECKING, Protocol

from fmd_profiler.schema import UNMATCHED

if TYPE_CHECKING:
    from fmd_profiler.profiling.sampler import Slot

#: Where a request's :class:`RequestState` lives in its WSGI environ.
ENVIRON_KEY = "fmd_profiler.request"


class RequestState:
    """One request in flight. Mutable, private to the hooks and their observers."""

    __slots__ = (
        "captured",
        "cpu_start",
        "endpoint",
        "error",
        "exception",
        "finished",
        "group_by",
        "ip",
        "level",
        "method",
        "perf_start",
        "rule",
        "sampler_slot",
        "started_at",
        "status",
        "streamed",
        "test_id",
        "thread_id",
    )

    def __init__(self, perf_start: float, cpu_start: float, started_at: float,
                 method: str | None) -> None:
        self.perf_start = perf_start  # the monotonic clock when the request arrived
        self.cpu_start = cpu_start  # the thread's CPU clock then
        self.started_at = started_at  # wall time (epoch seconds): the row's started_at
        self.method = method
        self.status: str | None = None
        self.endpoint = UNMATCHED
        self.rule: str | None = None
        self.level = -1  # not yet known
        self.group_by: str | None = None
        self.ip: str | None = None
        self.exception: str | None = None
        self.error: BaseException | None = None  # formatted later, by the writer thread
        self.test_id: str | None = None
        self.captured = False
        self.streamed = False
        self.finished = False
        self.thread_id = 0
        self.sampler_slot: Slot | None = None  # the profiler's record of this request (level 2+)


class RequestObserver(Protocol):
    """Optional per-request work for levels 2 and 3 (the sampler, outlier capture)."""

    def begin(self, state: RequestState) -> None: ...

    def end(self, state: RequestState, duration_s: float, cpu_s: float) -> None: ...


class ObservedRequests(Protocol):
    """What an observer is given of an app's request hooks."""

    version: str
    accept_test_header: bool

    def entry_codes(self) -> tuple[CodeType, ...]:
        """Code objects under which a request's own work runs (where stacks are cut)."""
        ...

    def add_observer(self, observer: RequestObserver) -> None: ...
