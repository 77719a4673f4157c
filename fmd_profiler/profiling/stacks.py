"""Call stacks as interned tuples: read from live frames, cut at the request's entry, hashed.

:meth:`StackTable.stack_of` walks a frame chain (``f_code``, ``f_back``, ``f_globals``) from the
leaf up to the profiler's WSGI entry. Everything above the entry (the server's loop) is dropped;
the framework frames between the entry and the first frame of the app (Flask's dispatch) collapse
into one root node; more than :data:`MAX_DEPTH` frames keep the root end and the leaf end around a
``<cut>`` node. Each distinct stack becomes a small int for the sampler; what is stored are stable
64-bit hashes of the content (:class:`FrameInfo`, :class:`StackInfo`), so processes and hosts merge.
"""

from __future__ import annotations

import gc
import hashlib
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass
from itertools import accumulate, chain, repeat, starmap
from operator import attrgetter, itemgetter
from types import FrameType
from typing import Any

#: The longest stack kept; deeper ones keep HEAD_FRAMES at the root end, a <cut> node, the rest.
MAX_DEPTH = 128
HEAD_FRAMES = 32

#: Modules whose frames right under the entry are "the framework" (collapsed into the root).
FRAMEWORK_PACKAGES = ("flask", "werkzeug", "asgiref")
FRAMEWORK_MODULES = ("fmd_profiler.recording.hooks", "fmd_profiler.profiling.observer")

USER, FRAMEWORK, ENTRY = 0, 1, 2

#: Local indexes of the synthetic nodes every table starts with, and of the root-only stack.
ROOT, CUT, AWAIT = 0, 1, 2
ROOT_STACK = 0


@dataclass(frozen=True)
class FrameInfo:
    """One function as stored: ``function`` is ``module:qualname``; ``line`` its first line."""

    frame_id: int
    function: str
    file: str
    line: int


@dataclass(frozen=True)
class StackInfo:
    """One distinct stack as stored: frame ids from the root to the leaf."""

    stack_id: int
    frames: tuple[int, ...]


SYNTHETIC = (
    # The framework's request handling above the view (Flask/Werkzeug dispatch, our hooks).
    ("flask:<dispatch>", "", 0),
    # Frames removed from the middle of a stack deeper than MAX_DEPTH.
    ("fmd_profiler:<cut>", "", 0),
    # An async view waiting: the coroutine chain is suspended at an await.
    ("asyncio:<await>", "", 0),
)


def hash64(text: str) -> int:
    """A stable signed 64-bit hash (DuckDB BIGINT); Python's hash() changes per process."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"),
                                          digest_size=8).digest(), "big", signed=True)


def frame_id(function: str, line: int) -> int:
    """The id of a function: its name and first line (lambdas of one scope differ by line)."""
    return hash64(f"{function}\0{line}")


def stack_id(frame_ids: Sequence[int]) -> int:
    return hash64(",".join(map(str, frame_ids)))


def classify(module: str) -> int:
    """USER or FRAMEWORK for a module name (the entry is recognised by its code object)."""
    package = module.partition(".")[0]
    if package in FRAMEWORK_PACKAGES or module in FRAMEWORK_MODULES:
        return FRAMEWORK
    return USER


def module_of(code: Any, f_globals: dict[str, Any] | None) -> str:
    name = f_globals.get("__name__") if f_globals is not None else None
    if isinstance(name, str) and name:
        return name
    return os.path.splitext(os.path.basename(code.co_filename))[0] or "?"


#: Frames followed from a leaf towards the thread's root at most (beyond: no entry found).
MAX_WALK = 1200
#: Distinct frame chains remembered (with their code objects) before the cache starts afresh.
MAX_CHAINS = 20_000
_F_CODE = attrgetter("f_code")


def thread_chain(thread_id: int, current_frames: Callable[[], dict[int, Any]]) -> list[Any]:
    """The stack of another thread, leaf first, then None at the root; [] if it is gone.

    Reading another thread's frames is only safe while that thread cannot run: a frame object
    taken from ``sys._current_frames()`` whose thread then moved on can lead ``f_back`` into
    reused memory on CPython 3.11 (seen as unrelated objects, once as a crash). So the frames are
    read and followed in one C-level pass - ``current_frames()``, the thread's leaf, then
    ``getattr(f, "f_back")`` until None - during which no Python bytecode runs and the GIL is
    never given up. The frame objects collected can be read safely afterwards.

    One thing could still run Python code in the middle of the pass: the cyclic garbage
    collector, started by an allocation (each ``f_back`` creates a frame object), running
    ``__del__`` methods and weakref callbacks, which may give up the GIL. So it is paused for
    the pass (unless the app has switched it off itself).
    """
    leaf = map(itemgetter(thread_id), starmap(current_frames, ((),)))
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        return _consume(accumulate(chain(leaf, repeat("f_back", MAX_WALK)), getattr))
    finally:
        if paused:
            gc.enable()


def _consume(frames: Iterator[Any]) -> list[Any]:
    out: list[Any] = []
    # getattr(None, "f_back") ends a complete walk; KeyError: the thread has gone.
    with suppress(AttributeError, KeyError):
        deque(map(out.append, frames), maxlen=0)  # drives the iterators without bytecode
    return out


class StackTable:
    """Interns frames and stacks of one process. Thread-safe; the fast path takes no lock.

    ``entry_codes`` are the code objects where a request starts for us (the WSGI wrapper, the
    streamed-body wrapper, the async-view wrapper). New frames and stacks are queued for the
    store (:meth:`take_new`).
    """

    def __init__(self, entry_codes: Iterable[Any] = ()) -> None:
        self._entry_codes = frozenset(entry_codes)
        self._lock = threading.Lock()
        # id(code) -> (code, local frame index, kind). The code object is kept so that an id
        # reused after garbage collection is recognised (entry[0] is not code).
        self._codes: dict[int, tuple[Any, int, int]] = {}
        self._frames: list[FrameInfo] = []
        self._frame_index: dict[int, int] = {}  # frame_id -> local index
        self._stacks: dict[tuple[int, ...], int] = {}
        # ids of a whole chain's code objects (leaf to root) -> (stack index, the code objects)
        self._chains: dict[tuple[int, ...], tuple[int, tuple[Any, ...]]] = {}
        self._stack_infos: list[StackInfo] = []
        self._new_frames: list[FrameInfo] = []
        self._new_stacks: list[StackInfo] = []
        self.broken_chains = 0  # samples dropped because a frame chain held a non-frame
        for function, file, line in SYNTHETIC:
            self._add_frame(FrameInfo(frame_id(function, line), function, file, line))
        self._intern([])  # ROOT_STACK

    # -- the hot path (sampler thread, detail hooks) -----------------------------------------

    def stack_of(self, frame: Any) -> int:
        """The local index of the stack whose leaf is ``frame``, a frame of this thread.

        Its own frames cannot change under the reader, so they are followed one by one and only
        up to the entry (each ``f_back`` may allocate a frame object: the server's frames above
        the entry are not worth it; in a signal handler this walk is most of the cost). The loop
        repeats :meth:`_stack_of_chain`'s on purpose: feeding that one a lazy generator, or a
        helper per frame, costs measurably more per stack.
        """
        codes = self._codes
        infos: list[tuple[Any, int, int]] = []
        f = frame
        for _ in range(MAX_WALK):
            if f is None:
                return ROOT_STACK  # no entry on this stack: credit the root
            code = f.f_code
            info = codes.get(id(code))
            if info is None or info[0] is not code:
                info = self._learn_code(code, f.f_globals)
            if info[2] == ENTRY:
                break
            infos.append(info)
            f = f.f_back
        return self._intern(infos)

    def stack_of_thread(self, thread_id: int, current_frames: Callable[[], dict[int, Any]]
                        ) -> int | None:
        """The stack another thread is in now; None when the thread has gone or its frame
        chain could not be read (see :data:`broken_chains`)."""
        frames = thread_chain(thread_id, current_frames)
        return self._stack_of_chain(frames) if frames else None

    def _stack_of_chain(self, frames: list[Any]) -> int | None:
        """The stack of a chain read by :func:`thread_chain`: from the chain cache when the same
        code objects were seen before (the usual case: a busy endpoint repeats a few stacks),
        else by a walk frame by frame."""
        try:
            # Every step is a C call: the chain's code objects, their ids, one dict lookup.
            codes = tuple(map(_F_CODE, frames[:-1] if frames[-1] is None else frames))
        except AttributeError:  # not a frame (see _walk_chain): the walk decides
            return self._walk_chain(frames)
        key = tuple(map(id, codes))
        found = self._chains.get(key)
        if found is not None:
            return found[0]
        index = self._walk_chain(frames)
        if index is not None:
            if len(self._chains) >= MAX_CHAINS:
                self._chains.clear()
            # The code objects stay referenced by the entry, so no id in its key can be reused
            # by another code object while the entry exists.
            self._chains[key] = (index, codes)
        return index

    def _walk_chain(self, frames: list[Any]) -> int | None:
        codes = self._codes
        infos: list[tuple[Any, int, int]] = []
        for f in frames:
            if f is not None and type(f) is not FrameType and not hasattr(f, "f_code"):
                # CPython 3.11 can hand out a non-frame object from another thread's f_back
                # (seen under load, also within one GIL-held pass). The sample is dropped.
                self.broken_chains += 1
                return None
            if f is None:
                # No entry on this stack: the thread is not (or no longer) inside the request's
                # code, e.g. between our finish and the server's next read. Credit the root.
                infos = []
                break
            code = f.f_code
            info = codes.get(id(code))
            if info is None or info[0] is not code:
                info = self._learn_code(code, f.f_globals)
            if info[2] == ENTRY:
                break
            infos.append(info)
        return self._intern(infos)

    def stack_of_chain(self, frames: Sequence[Any], leaf: int | None = None) -> int:
        """A stack from frames listed root first (a suspended coroutine chain), plus ``leaf``."""
        infos = []
        for f in reversed(frames):
            code = f.f_code
            info = self._codes.get(id(code))
            if info is None or info[0] is not code:
                info = self._learn_code(code, f.f_globals)
            if info[2] != ENTRY:
                infos.append(info)
        return self._intern(infos, leaf)

    def _intern(self, infos: list[tuple[Any, int, int]], leaf: int | None = None) -> int:
        n = len(infos)
        while n and infos[n - 1][2] == FRAMEWORK:  # framework frames right under the entry
            n -= 1
        key = [ROOT]
        key.extend(infos[i][1] for i in range(n - 1, -1, -1))
        if leaf is not None:
            key.append(leaf)
        if len(key) > MAX_DEPTH:
            key = [*key[:HEAD_FRAMES], CUT, *key[len(key) - (MAX_DEPTH - HEAD_FRAMES - 1):]]
        stack = tuple(key)
        index = self._stacks.get(stack)
        if index is None:
            index = self._learn_stack(stack)
        return index

    def busy(self) -> bool:
        """True while a thread holds the table's lock: a signal handler that interrupted the
        holder must not wait for it (it would wait for itself)."""
        return self._lock.locked()

    # -- the slow path ---------------------------------------------------------------------

    def _learn_code(self, code: Any, f_globals: dict[str, Any] | None) -> tuple[Any, int, int]:
        with self._lock:
            info = self._codes.get(id(code))
            if info is not None and info[0] is code:
                return info
            if code in self._entry_codes:
                info = (code, -1, ENTRY)
            else:
                module = module_of(code, f_globals)
                function = f"{module}:{code.co_qualname}"
                frame = FrameInfo(frame_id(function, code.co_firstlineno), function,
                                  code.co_filename, code.co_firstlineno)
                info = (code, self._add_frame(frame), classify(module))
            if len(self._codes) > 200_000:  # generated code (templates per request...) : restart
                self._codes = {}
            self._codes[id(code)] = info
            return info

    def _add_frame(self, frame: FrameInfo) -> int:
        index = self._frame_index.get(frame.frame_id)
        if index is None:
            index = len(self._frames)
            self._frames.append(frame)
            self._frame_index[frame.frame_id] = index
            self._new_frames.append(frame)
        return index

    def _learn_stack(self, stack: tuple[int, ...]) -> int:
        with self._lock:
            index = self._stacks.get(stack)
            if index is None:
                ids = tuple(self._frames[i].frame_id for i in stack)
                info = StackInfo(stack_id(ids), ids)
                index = len(self._stack_infos)
                self._stack_infos.append(info)
                self._stacks[stack] = index
                self._new_stacks.append(info)
            return index

    # -- reading ---------------------------------------------------------------------------

    def stack(self, index: int) -> StackInfo:
        return self._stack_infos[index]

    def frame(self, frame_id_: int) -> FrameInfo:
        return self._frames[self._frame_index[frame_id_]]

    def functions(self, index: int) -> list[str]:
        """The ``module:qualname`` names of a stack, root first (tests and debugging)."""
        return [self.frame(f).function for f in self._stack_infos[index].frames]

    def take_new(self) -> tuple[list[FrameInfo], list[StackInfo]]:
        """Frames and stacks seen since the last call (each is stored once per process)."""
        with self._lock:
            frames, self._new_frames = self._new_frames, []
            stacks, self._new_stacks = self._new_stacks, []
        return frames, stacks

    def requeue(self, frames: list[FrameInfo], stacks: list[StackInfo]) -> None:
        """Put back what could not be handed over (so names are never lost)."""
        with self._lock:
            self._new_frames[:0] = frames
            self._new_stacks[:0] = stacks
