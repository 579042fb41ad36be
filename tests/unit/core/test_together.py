"""keyframe.storage.together: independent calls of one request in flight at once."""

from __future__ import annotations

import threading
from contextvars import ContextVar

import pytest

from keyframe.storage.together import together

_request: ContextVar[str] = ContextVar("test_request", default="none")


def test_the_calls_run_at_the_same_time_and_answer_in_order() -> None:
    # Given three calls that each wait until all three have started (one after another they never would)
    started = threading.Barrier(3, timeout=5)

    def call(value: int) -> int:
        started.wait()
        return value

    # When run together / Then each returns, in the order given
    futures = together(lambda: call(1), lambda: call(2), lambda: call(3))
    assert [f.result() for f in futures] == [1, 2, 3]


def test_a_failing_call_does_not_stop_the_others_and_its_error_is_kept() -> None:
    finished: list[str] = []

    def fails() -> None:
        raise LookupError("no such asset")

    def works() -> str:
        finished.append("works")
        return "created"

    # When one call raises / Then every call was waited for, and the error is the caller's to raise
    failed, worked = together(fails, works)
    assert worked.result() == "created" and finished == ["works"]
    assert isinstance(failed.exception(), LookupError)
    with pytest.raises(LookupError, match="no such asset"):
        failed.result()


def test_each_call_sees_the_callers_context_and_cannot_change_it() -> None:
    # Given a context variable set for the request
    token = _request.set("req-1")
    try:

        def read_then_set() -> str:
            seen = _request.get()
            _request.set("changed in the call")
            return seen

        # When two calls read it on their threads / Then both see the caller's value
        futures = together(read_then_set, read_then_set)
        assert [f.result() for f in futures] == ["req-1", "req-1"]
        # And what a call set stays in its own copy
        assert _request.get() == "req-1"
    finally:
        _request.reset(token)


def test_models_first_used_on_worker_threads_share_the_process_botocore_session() -> None:
    # Given PynamoDB asks for a botocore session on several threads at once (each new thread of
    # together() does, the first time it uses a model)
    from pynamodb.connection import base

    import keyframe.storage.models  # noqa: F401  (every model's module imports it: it binds the session)

    # When they ask / Then they all get the one session of the process (no service model parsed again)
    sessions = [f.result() for f in together(*[base.get_session] * 4)]
    assert all(session is sessions[0] for session in sessions)
    assert base.get_session() is sessions[0]
