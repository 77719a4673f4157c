"""Stack walking, cutting at the WSGI entry, collapsing the framework, interning."""

from __future__ import annotations

import sys

from fmd_profiler.profiling.stacks import (
    HEAD_FRAMES,
    MAX_DEPTH,
    StackTable,
    frame_id,
    stack_id,
    thread_chain,
)
from tests.fakes import Code, Frame, frames

ENTRY = Code("RequestHooks.wrap.<locals>.profiled_wsgi_app", "/fmd_profiler/hooks.py", 90)
SERVER = Code("WSGIRequestHandler.run_wsgi", "/werkzeug/serving.py", 300)
THREAD = Code("Thread.run", "/threading.py", 970)
FLASK_WSGI = Code("Flask.wsgi_app", "/flask/app.py", 1480)
DISPATCH = Code("Flask.dispatch_request", "/flask/app.py", 880)
VIEW = Code("create_app.<locals>.split", "/app/views.py", 95)
SIXTY = Code("split_sixty", "/app/views.py", 50)
SPIN = Code("spin", "/app/views.py", 40)
JSONIFY = Code("jsonify", "/flask/json/__init__.py", 140)


def request_stack(*inner: tuple[Code, str]) -> Frame:
    return frames((THREAD, "threading"), (SERVER, "werkzeug.serving"),
                  (ENTRY, "fmd_profiler.recording.hooks"), (FLASK_WSGI, "flask.app"),
                  (DISPATCH, "flask.app"), *inner)


def test_cuts_at_the_entry_and_collapses_the_framework_above_the_view() -> None:
    table = StackTable([ENTRY])
    leaf = request_stack((VIEW, "app.views"), (SIXTY, "app.views"), (SPIN, "app.views"))
    stack = table.stack_of(leaf)
    assert table.functions(stack) == ["flask:<dispatch>", "app.views:create_app.<locals>.split",
                                      "app.views:split_sixty", "app.views:spin"]


def test_framework_code_called_by_the_view_is_kept() -> None:
    table = StackTable([ENTRY])
    stack = table.stack_of(request_stack((VIEW, "app.views"), (JSONIFY, "flask.json")))
    assert table.functions(stack) == ["flask:<dispatch>", "app.views:create_app.<locals>.split",
                                      "flask.json:jsonify"]


def test_time_in_the_framework_alone_goes_to_the_root() -> None:
    table = StackTable([ENTRY])
    assert table.functions(table.stack_of(request_stack())) == ["flask:<dispatch>"]


def test_a_stack_without_the_entry_is_credited_to_the_root() -> None:
    table = StackTable([ENTRY])
    leaf = frames((THREAD, "threading"), (SERVER, "werkzeug.serving"))
    assert table.functions(table.stack_of(leaf)) == ["flask:<dispatch>"]


def test_deep_stacks_keep_both_ends_around_a_cut_node() -> None:
    table = StackTable([ENTRY])
    recursion = [(Code(f"level{i}", line=i + 1), "app.deep") for i in range(300)]
    stack = table.stack_of(request_stack(*recursion))
    names = table.functions(stack)
    assert len(names) == MAX_DEPTH
    assert names[0] == "flask:<dispatch>"
    assert names[1:HEAD_FRAMES] == [f"app.deep:level{i}" for i in range(HEAD_FRAMES - 1)]
    assert names[HEAD_FRAMES] == "fmd_profiler:<cut>"
    assert names[-1] == "app.deep:level299"


def test_stacks_are_interned_and_ids_are_stable_content_hashes() -> None:
    first, second = StackTable([ENTRY]), StackTable([ENTRY])
    leaf = request_stack((VIEW, "app.views"), (SPIN, "app.views"))
    a = first.stack_of(leaf)
    assert first.stack_of(request_stack((VIEW, "app.views"), (SPIN, "app.views"))) == a
    b = second.stack_of(leaf)
    assert first.stack(a) == second.stack(b)  # another process computes the same ids
    expected_frames = (frame_id("flask:<dispatch>", 0),
                       frame_id("app.views:create_app.<locals>.split", 95),
                       frame_id("app.views:spin", 40))
    assert first.stack(a).frames == expected_frames
    assert first.stack(a).stack_id == stack_id(expected_frames)


def test_new_frames_and_stacks_are_handed_over_once() -> None:
    table = StackTable([ENTRY])
    table.stack_of(request_stack((VIEW, "app.views")))
    new_frames, new_stacks = table.take_new()
    assert {f.function for f in new_frames} >= {"flask:<dispatch>",
                                                "app.views:create_app.<locals>.split"}
    assert len(new_stacks) == 2  # the root-only stack and this one
    table.stack_of(request_stack((VIEW, "app.views")))
    assert table.take_new() == ([], [])


def test_thread_chain_reads_a_thread_through_the_frames_source() -> None:
    leaf = request_stack((VIEW, "app.views"))
    chain = thread_chain(7, lambda: {7: leaf})
    assert chain[0] is leaf and chain[-1] is None and len(chain) == 7
    assert thread_chain(8, lambda: {7: leaf}) == []  # the thread has gone


def test_stack_of_real_frames_of_this_thread_stops_at_the_entry() -> None:
    def entry(table: StackTable) -> int:
        return view(table)

    def view(table: StackTable) -> int:
        return table.stack_of(sys._getframe())

    table = StackTable([entry.__code__])
    names = table.functions(entry(table))
    assert names[0] == "flask:<dispatch>" and len(names) == 2
    assert names[1].endswith("test_stack_of_real_frames_of_this_thread_stops_at_the_entry"
                             ".<locals>.view")
    assert view(table) == 0  # not under the entry: the root-only stack


def test_a_thread_chain_seen_before_comes_from_the_chain_cache_with_the_same_stack() -> None:
    table = StackTable([ENTRY])
    leaf = request_stack((VIEW, "app.views"), (SIXTY, "app.views"))
    source = {7: leaf}
    first = table.stack_of_thread(7, lambda: source)
    assert first is not None and len(table._chains) == 1
    again = table.stack_of_thread(7, lambda: source)
    assert again == first and len(table._chains) == 1
    # The same code objects in new frame objects (the usual case: the next request) hit too.
    source[7] = request_stack((VIEW, "app.views"), (SIXTY, "app.views"))
    assert table.stack_of_thread(7, lambda: source) == first and len(table._chains) == 1
    # Another path is another entry, and agrees with the frame-by-frame walk.
    source[7] = request_stack((VIEW, "app.views"), (JSONIFY, "flask.json"))
    other = table.stack_of_thread(7, lambda: source)
    assert other != first and len(table._chains) == 2
    assert table.functions(other) == table.functions(table.stack_of(source[7]))
    # The cached entries hold the code objects, so their ids cannot be reused meanwhile.
    assert all(VIEW in codes for _, codes in table._chains.values())


def test_a_chain_with_a_non_frame_object_is_walked_and_dropped_not_cached() -> None:
    table = StackTable([ENTRY])
    leaf = request_stack((VIEW, "app.views"))
    chain = thread_chain(7, lambda: {7: leaf})
    chain.insert(1, object())  # what CPython 3.11 has been seen to hand out from f_back
    assert table._stack_of_chain(chain) is None
    assert table.broken_chains == 1 and table._chains == {}
