"""How a test and its round travel to the request hooks as one label.

The harness sets :data:`fmd_profiler.recording.current_test.current_test` to ``"<round>:<pytest node
id>"``
around each test; requests made through Flask's test client pick it up in the test's thread, and
live-server tests forward it in an ``X-Test-Id`` header (:func:`test_headers`). Node ids may
contain ':' but never start with a digit run followed by one, so the split is unambiguous.
"""

from __future__ import annotations

from fmd_profiler.recording.current_test import current_test

SEPARATOR = ":"
HEADER = "X-Test-Id"


def test_label(round_no: int, node_id: str) -> str:
    return f"{round_no}{SEPARATOR}{node_id}"


def split_test_label(label: str) -> tuple[int, str] | None:
    """(round, node id) of a label, or None when it was not made by :func:`test_label`."""
    head, sep, node_id = label.partition(SEPARATOR)
    if not sep or not head.isdigit() or not node_id:
        return None
    return int(head), node_id


def test_headers() -> dict[str, str]:
    """Headers a live-server test adds to its requests so the server knows the test.

    ``requests.get(url, headers=test_headers())``; outside a benchmark run this is ``{}``.
    The server honours the header only when started with ``FMD_PROFILER_TEST_RUN`` set, which
    the harness sets for the test process and everything it starts.
    """
    label = current_test.get()
    return {HEADER: label} if label else {}


# pytest collects functions named test_* from modules it imports; these are not tests.
test_label.__test__ = False  # type: ignore[attr-defined]
test_headers.__test__ = False  # type: ignore[attr-defined]
