"""The level-2 sampler: one daemon thread per process reading the stacks of monitored requests.

Request threads register a :class:`Slot` when a monitored request starts and remove it when it
ends (a dict insert and a pop). Every ``interval`` (with jitter) the thread reads
``sys._current_frames()`` once and, for each slot, the stack of the thread serving it (or the
suspended chain of its coroutine), and reports it with a weight: the real time since the previous
sampling pass. That weight, not the time since the request began, keeps the estimate unbiased
where requests are shorter than the interval: a pass lands inside a 2 ms request with chance
2/interval and then stands for the whole interval, and it lands anywhere in the request alike.
While no slot exists for a while the thread sleeps on an event and costs nothing.

The GIL decides when the thread may look: a thread running Python code gives the GIL to a waiting
one only after the switch interval (5 ms by default), so a sampler would never see the first
5 ms after a request thread got the GIL back (from the network, a database call): a 2 ms
CPU-bound request would be all but invisible. While at most one monitored request runs, the
sampler therefore lowers the interpreter's switch interval to ``switch_interval_s``
(SAMPLER_SWITCH_INTERVAL_MS); with two or more it leaves Python's own (their turns expose them to
the sampler anyway, and a short interval would make them ping-pong), and it restores the setting
when it goes idle.

A request served by the main thread (gunicorn's sync workers, uWSGI without threads, a test
client) is sampled without the thread where the platform allows
(:mod:`fmd_profiler.profiling.timer_signal`): a timer signal interrupts the main thread itself
and the handler reads the stack of the interrupted frame - the same sample, weighed the same way,
but the GIL never changes hands, so a pass costs the request it lands in a fraction of what a
thread's pass costs (figures: docs/performance.md, "What a sampling pass costs"). The handler
only appends to a deque (it may interrupt any code, our own included, so it takes no lock);
:meth:`Sampler.drain` hands the samples on from the writer thread.
The thread sleeps unless a request runs elsewhere (threaded servers, async views).

Under load the passes are paid for by the requests: a :class:`~fmd_profiler.profiling.budget.
CpuBudget` is told what each costs (the thread's CPU clock between two passes, wake-up
included; the handler's run time) and stretches the interval so that they stay within
PROFILER_BUDGET_PCT of the process's CPU.
"""

from __future__ import annotations

import logging
import random
import sys
import threading
from collections import deque
from collections.abc import Callable
from types import FrameType
from typing import Any

from fmd_profiler.profiling import timer_signal
from fmd_profiler.profiling.budget import CpuBudget
from fmd_profiler.profiling.stacks import AWAIT, StackTable
from fmd_profiler.recording.clock import SYSTEM_CLOCK, Clock

log = logging.getLogger("fmd_profiler")

#: Jitter of the sampling interval (uniform factor), so passes do not lock onto periodic work.
JITTER = (0.5, 1.5)
#: How long the thread keeps ticking without monitored requests before it sleeps.
LINGER_S = 1.0
#: Signal samples held for the writer thread at most (~1 s of them is the usual).
MAX_PENDING = 100_000
#: The timer is periodic (arming it is a costly system call on a VM); its phase is drawn again
#: this often.
REPHASE_EVERY = 8


class Slot:
    """One monitored request in flight. Mutable; shared by the observer, sampler and engine."""

    __slots__ = (
        "coroutine",
        "cpu",
        "detail",
        "duration",
        "endpoint",
        "environ",
        "level",
        "method",
        "stacks",
        "tag",
        "thread_id",
        "version",
        "wall0",
    )

    def __init__(self, endpoint: str, version: str, level: int, thread_id: int, wall0: float,
                 method: str | None = None) -> None:
        self.endpoint = endpoint
        self.version = version
        self.level = level
        self.method = method
        self.thread_id = thread_id
        self.coroutine: Any = None  # an async view's coroutine, while one runs
        self.wall0 = wall0
        # Level 3: this request's own samples, stack -> [weight_s, samples], for outliers.
        self.stacks: dict[int, list[float]] | None = {} if level >= 3 else None
        self.detail: Any = None  # a detail recorder when this request is profiled in detail
        self.environ: dict[str, Any] | None = None
        self.tag = 0  # exact-mode tag
        self.duration = 0.0
        self.cpu = 0.0


class _SwitchInterval:
    """Lowers ``sys.setswitchinterval`` while any sampler needs it; restores it after the last.

    A value changed by someone else in between is left as they set it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._saved: float | None = None
        self._ours: float | None = None

    def lower(self, seconds: float) -> None:
        with self._lock:
            self._users += 1
            current = sys.getswitchinterval()
            if self._users == 1 and current > seconds:
                self._saved, self._ours = current, seconds
                sys.setswitchinterval(seconds)

    def restore(self) -> None:
        with self._lock:
            self._users = max(0, self._users - 1)
            if self._users == 0 and self._saved is not None:
                if self._ours is not None and abs(sys.getswitchinterval() - self._ours) < 1e-7:
                    sys.setswitchinterval(self._saved)
                self._saved = self._ours = None


SWITCH_INTERVAL = _SwitchInterval()

SampleSink = Callable[[Slot, int, float, float], None]
FramesSource = Callable[[], dict[int, Any]]
TimerFactory = Callable[[Callable[[FrameType | None], None]], Any]


class Sampler:
    """Samples the stacks of the registered slots; :meth:`tick` is one pass (tests call it)."""

    def __init__(self, stacks: StackTable, sink: SampleSink, *, interval_s: float,
                 clock: Clock = SYSTEM_CLOCK, frames: FramesSource = sys._current_frames,
                 rng: random.Random | None = None, linger_s: float = LINGER_S,
                 switch_interval_s: float = 0.0, signal_timer: bool = False,
                 timer_factory: TimerFactory = timer_signal.MainThreadTimer,
                 budget: CpuBudget | None = None) -> None:
        self.stacks = stacks
        self.interval_s = interval_s
        # Measures what the passes cost; with a budget of 0 it keeps the interval as it is.
        self.budget = budget
        self.switch_interval_s = switch_interval_s
        self._lowered = False
        self._warned_broken = False
        self.active: dict[int, Slot] = {}
        self.idle = True
        self.ticks = 0
        self.samples = 0
        self._sink = sink
        self._clock = clock
        self._frames = frames
        self._rng = rng or random.Random()
        self._linger_s = linger_s
        self._last_tick: float | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # The main thread's request, when a timer signal samples it (see the module docstring).
        self.main_slot: Slot | None = None
        self.pending: deque[tuple[Slot, int, float, float]] = deque(maxlen=MAX_PENDING)
        self.dropped = 0  # signal samples skipped: the stack table was busy in the main thread
        self._main_ident = threading.main_thread().ident
        self._want_timer = signal_timer
        self._may_try_timer = False  # set by start(): tests that only tick never install one
        self._timer_factory = timer_factory
        self._timer: Any = None
        self._armed = False
        self._until_rephase = 0
        self._in_signal = False
        self._signal_last: float | None = None
        self._signal_idle_since: float | None = None

    # -- request threads: O(1) -------------------------------------------------------------

    def add(self, slot: Slot) -> None:
        if slot.thread_id == self._main_ident:
            timer = self._timer
            if timer is None and self._may_try_timer:
                timer = self._start_timer()
            if timer is not None:
                self.main_slot = slot
                if not self._armed:
                    self._arm_after_idle()
                return
        self.active[id(slot)] = slot
        if self.idle:
            self._wake.set()

    def remove(self, slot: Slot) -> None:
        if self.main_slot is slot:
            self.main_slot = None
            return
        self.active.pop(id(slot), None)

    def move(self, slot: Slot, thread_id: int) -> None:
        """``slot`` now runs in ``thread_id`` (an async view enters or leaves its loop thread):
        hand it to whoever samples that thread."""
        self.remove(slot)
        slot.thread_id = thread_id
        self.add(slot)
        if self.main_slot is slot:
            # Back from the loop thread. The main thread waited meanwhile, and a wait that the
            # kernel restarts runs no signal handler: a signal that fired then is handled only
            # now and would credit the loop thread's time (already sampled there) to the wait.
            self._signal_last = self._clock.perf()

    # -- one sampling pass -----------------------------------------------------------------

    def tick(self) -> int:
        """Sample every registered slot once; returns how many samples were taken."""
        now = self._clock.perf()
        previous, self._last_tick = self._last_tick, now
        slots = tuple(self.active.values())  # one C call: a consistent snapshot
        if previous is None or not slots:
            return 0
        weight = now - previous
        wall = self._clock.wall()
        current_frames = self._frames
        stacks = self.stacks
        sink = self._sink
        taken = 0
        for slot in slots:
            coroutine = slot.coroutine
            if coroutine is not None and not coroutine.cr_running:
                stack: int | None = stacks.stack_of_chain(_suspended_chain(coroutine), AWAIT)
            else:
                stack = stacks.stack_of_thread(slot.thread_id, current_frames)
            if stack is None:  # the thread has gone, or its frame chain could not be read
                continue
            sink(slot, stack, weight, wall)
            taken += 1
        self.ticks += 1
        self.samples += taken
        if stacks.broken_chains and not self._warned_broken:
            self._warned_broken = True
            log.warning("fmd_profiler: a thread's frame chain could not be read (CPython 3.11 "
                        "returned a non-frame object); such samples are dropped")
        return taken

    @property
    def cost_s(self) -> float:
        """CPU seconds the passes took, as the budget measured them (0 without one)."""
        return self.budget.cost if self.budget is not None else 0.0

    def restart_clock(self) -> None:
        """The next pass measures from now (after sleeping idle, or in tests)."""
        self._last_tick = self._clock.perf()

    # -- the main thread: a timer signal ---------------------------------------------------

    def _start_timer(self) -> Any:
        """Install the timer on the first request in the main thread; None where it cannot be
        (not Linux, the signal already taken, not the main thread) - the thread samples then."""
        if threading.get_ident() != self._main_ident:
            return None  # an async view's slot coming back: try on the next request instead
        self._may_try_timer = False
        reason = timer_signal.unavailable_reason()
        if reason is None:
            try:
                self._timer = self._timer_factory(self._on_signal)
            except (OSError, ValueError, AttributeError) as exc:
                reason = str(exc)
        if reason is not None:
            log.info("fmd_profiler: requests in the main thread are sampled by the sampler "
                     "thread (%s)", reason)
        return self._timer

    def _arm_after_idle(self) -> None:
        timer = self._timer
        if not timer.owns_signal():
            # Someone installed a handler for the signal since: theirs now, the thread samples.
            log.warning("fmd_profiler: %s was taken over by another handler; requests in the "
                        "main thread are sampled by the sampler thread from now on",
                        timer_signal.SIGNAL.name)
            self._close_timer()
            return
        # The clock first: the handler can run between any two of these lines, but a signal
        # can only come once the timer is armed, on the last.
        self._signal_idle_since = None
        self._signal_last = self._clock.perf()
        self._armed = True
        self._rephase(timer)

    def _rephase(self, timer: Any) -> None:
        # A periodic timer at a phase drawn at random (the jitter of the thread's passes, paid
        # for once per REPHASE_EVERY passes): periodic work in the app cannot lock onto it.
        self._until_rephase = REPHASE_EVERY
        low, high = JITTER
        timer.arm(self.interval_s * self._rng.uniform(low, high), self.interval_s)

    def _on_signal(self, frame: FrameType | None) -> None:
        # It may interrupt anything on the main thread, this handler and our own hooks included:
        # never re-entered, never an exception, no lock taken.
        if self._in_signal or self._timer is None:
            return
        self._in_signal = True
        perf = self._clock.perf
        start = perf()
        try:
            self.signal_pass(frame)
            budget = self.budget
            if budget is not None:
                # The handler runs on the main thread without blocking: its run time is its CPU.
                budget.add_signal_cost(perf() - start)
                self._follow_budget(budget.update(), in_handler=True)
        except Exception:
            log.exception("fmd_profiler: error in the sampler's signal handler")
        finally:
            self._in_signal = False

    def signal_pass(self, frame: Any) -> bool:
        """One pass over the main thread's request, interrupted at ``frame``: queue a sample
        (after ``linger_s`` without requests, stop the timer)."""
        now = self._clock.perf()
        previous, self._signal_last = self._signal_last, now
        slot = self.main_slot
        timer = self._timer
        if slot is None:
            since = self._signal_idle_since
            if since is None:
                self._signal_idle_since = now
            elif now - since >= self._linger_s:
                self._armed = False  # the next request in the main thread arms it again
                timer.arm(0.0)
                return False
        else:
            self._signal_idle_since = None
        self._until_rephase -= 1
        if self._until_rephase <= 0:
            self._rephase(timer)
        if slot is None or previous is None or frame is None:
            return False
        stacks = self.stacks
        if stacks.busy():  # interrupted while this thread holds the table's lock
            self.dropped += 1
            return False
        self.pending.append((slot, stacks.stack_of(frame), now - previous, self._clock.wall()))
        self.ticks += 1
        self.samples += 1
        return True

    def _follow_budget(self, interval_s: float, *, in_handler: bool = False) -> None:
        """Sample every ``interval_s`` from now (the budget's decision)."""
        if interval_s == self.interval_s:
            return
        self.interval_s = interval_s
        timer = self._timer
        if in_handler and timer is not None and self._armed:
            # The periodic timer takes the new period at once (from the thread it would at
            # its next rephase: only the handler touches the timer while it is armed).
            self._rephase(timer)

    def drain(self) -> int:
        """Hand the signal handler's samples to the sink (the writer thread calls this)."""
        pending, sink, taken = self.pending, self._sink, 0
        while pending:
            sink(*pending.popleft())
            taken += 1
        return taken

    def _close_timer(self) -> None:
        timer, self._timer = self._timer, None
        self._armed = False
        slot, self.main_slot = self.main_slot, None
        if slot is not None:  # the request in flight goes on with the thread
            self.add(slot)
        if timer is not None:
            timer.close()

    # -- the thread ------------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self._may_try_timer = self._want_timer and self._timer is None
        # Without a timer the thread starts ticking, not asleep: while `idle` stayed True from
        # __init__, every monitored request signalled the wake event for nothing (a lock and a
        # notify each). With one, it sleeps until a request runs outside the main thread.
        self.idle = self._may_try_timer
        self._thread = threading.Thread(target=self._run, name="fmd_profiler-sampler",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._may_try_timer = False
        self._close_timer()
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5.0)
        self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            self._set_lowered(False)

    def _set_lowered(self, lowered: bool) -> None:
        if not self.switch_interval_s or lowered == self._lowered:
            return
        self._lowered = lowered
        if lowered:
            SWITCH_INTERVAL.lower(self.switch_interval_s)
        else:
            SWITCH_INTERVAL.restore()

    def adjust_switch_interval(self) -> None:
        """Lower the switch interval only while at most one monitored request runs.

        A lowered interval makes CPU-bound threads take turns that much more often: free while
        one request runs (only the sampler takes turns with it), but with two or more they would
        ping-pong at every lowered interval and lose throughput to the switches. With two or
        more they already hand the GIL to each other at arbitrary points every switch interval,
        and the sampler gets its turn among them.
        """
        self._set_lowered(len(self.active) <= 1)

    def _loop(self) -> None:
        stop, perf = self._stop, self._clock.perf
        low, high = JITTER
        empty_since: float | None = None
        budget = self.budget
        thread_cpu = self._clock.thread_cpu
        if self.idle:
            self._sleep_until_needed()
        else:
            self._set_lowered(True)
        cpu_mark = thread_cpu() if budget is not None else 0.0
        while not stop.is_set():
            if not self.active:
                now = perf()
                if empty_since is None:
                    empty_since = now
                elif now - empty_since >= self._linger_s:
                    self._sleep_until_needed()
                    empty_since = None
                    if budget is not None:
                        budget.restart()
                        cpu_mark = thread_cpu()
                    continue
            else:
                empty_since = None
            self.adjust_switch_interval()
            if stop.wait(self.interval_s * self._rng.uniform(low, high)):
                return
            try:
                self.tick()
                if budget is not None:
                    # The thread's CPU since the previous pass: the pass, and waking up for it.
                    cpu = thread_cpu()
                    budget.add_thread_cost(cpu - cpu_mark)
                    cpu_mark = cpu
                    self._follow_budget(budget.update())
            except Exception:  # the sampler must outlive any surprise
                log.exception("fmd_profiler: error in the sampler thread")

    def _sleep_until_needed(self) -> None:
        # Order matters: announce idleness, then look again, then wait. A request thread adds
        # its slot and then reads `idle`, so one of the two always sees the other.
        self._wake.clear()
        self.idle = True
        if not self.active:
            self._set_lowered(False)
            self._wake.wait()
            self._set_lowered(True)
        self.idle = False
        self.restart_clock()


def _suspended_chain(coroutine: Any) -> list[Any]:
    """The frames of a suspended coroutine and of everything it awaits, outermost first."""
    frames = []
    obj = coroutine
    for _ in range(256):
        frame = getattr(obj, "cr_frame", None) or getattr(obj, "gi_frame", None)
        if frame is None:
            break
        frames.append(frame)
        obj = getattr(obj, "cr_await", None) or getattr(obj, "gi_yieldfrom", None)
        if obj is None:
            break
    return frames
