"""The in-memory buffer between request threads and the background writer.

A request thread's only work is :meth:`Recorder.add`: one length check and one ``deque.append``
(atomic under the GIL, no lock). The buffer is bounded; what does not fit is counted, never
silently lost, and the count is stored and shown in reports.
"""

from __future__ import annotations

import threading
from collections import deque


class Recorder:
    """A bounded, thread-safe FIFO of row tuples for one table."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._rows: deque[tuple[object, ...]] = deque()
        self._drop_lock = threading.Lock()
        self.dropped = 0  # rows refused because the buffer was full (cumulative)
        self.recorded = 0  # rows handed to the writer (cumulative)

    def add(self, row: tuple[object, ...]) -> None:
        rows = self._rows
        if len(rows) < self.capacity:
            rows.append(row)
        else:
            with self._drop_lock:  # rare path: a lock keeps the count exact
                self.dropped += 1

    def drain(self) -> list[tuple[object, ...]]:
        """Take every buffered row, oldest first."""
        rows = self._rows
        out = []
        pop = rows.popleft
        try:
            while True:
                out.append(pop())
        except IndexError:
            pass
        self.recorded += len(out)
        return out

    def __len__(self) -> int:
        return len(self._rows)

    def clear(self) -> None:
        """Forget everything (a forked child must not write its parent's rows)."""
        self._rows.clear()
        self.dropped = 0
        self.recorded = 0
