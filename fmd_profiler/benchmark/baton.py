"""Round-by-round turn taking between the harness and its test processes (``--against``).

Two pytest processes (base and head) are alive together but only one runs a round at a time:
the harness writes ``g`` on a process's pipe to start its next round and reads ``d`` when the
round is over; end-of-file means the process has ended. So base and head rounds interleave on
the same machine at the same moment, and drift (thermal, noisy neighbours) hits both alike.
"""

from __future__ import annotations

import os

GO = b"g"
DONE = b"d"


class ChildBaton:
    """The test process's end, built from the ``--fmd-baton R,W`` descriptors."""

    def __init__(self, spec: str) -> None:
        read_fd, write_fd = (int(part) for part in spec.split(","))
        self._read, self._write = read_fd, write_fd

    def wait_turn(self) -> bool:
        """Block until the harness says go; False when the harness has gone away."""
        return os.read(self._read, 1) == GO

    def end_turn(self) -> None:
        os.write(self._write, DONE)


class ParentBaton:
    """The harness's end for one test process."""

    def __init__(self) -> None:
        self.child_read, self._go = os.pipe()
        self._done, self.child_write = os.pipe()
        self.finished = False

    @property
    def child_spec(self) -> str:
        return f"{self.child_read},{self.child_write}"

    @property
    def child_fds(self) -> tuple[int, int]:
        return self.child_read, self.child_write

    def after_spawn(self) -> None:
        """Close the child's ends here, so end-of-file shows when the child exits."""
        os.close(self.child_read)
        os.close(self.child_write)

    def run_round(self) -> bool:
        """Let the child run one round; False when it has ended instead."""
        if self.finished or self._go < 0:
            return False
        try:
            os.write(self._go, GO)
        except BrokenPipeError:
            self.finished = True
            return False
        if os.read(self._done, 1) != DONE:
            self.finished = True
            return False
        return True

    def close(self) -> None:
        """Idempotent: a descriptor number closed twice might by then belong to someone else."""
        fds, self._go, self._done = (self._go, self._done), -1, -1
        for fd in fds:
            if fd >= 0:
                os.close(fd)
