"""The current test id, carried from the benchmark harness into the request hooks.

The harness sets :data:`current_test` around each test call; Flask's test client runs the app in
the test's own thread, so the request hooks read it directly. Live-server tests send an
``X-Test-Id`` header instead, honoured only in processes started with :data:`TEST_RUN_ENV` set,
so production traffic cannot label itself.
"""

from __future__ import annotations

import os
from contextvars import ContextVar

current_test: ContextVar[str | None] = ContextVar("fmd_profiler_current_test", default=None)

#: WSGI environ key of the X-Test-Id header.
TEST_ID_HEADER = "HTTP_X_TEST_ID"

#: Environment variable the benchmark harness sets for servers it starts.
TEST_RUN_ENV = "FMD_PROFILER_TEST_RUN"


def test_header_enabled() -> bool:
    """Whether this process honours X-Test-Id (read once, at ``init_app``)."""
    return bool(os.environ.get(TEST_RUN_ENV))
