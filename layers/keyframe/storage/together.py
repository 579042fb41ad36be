"""Independent AWS calls of one request in flight at once: the request waits for the slowest of them,
not for their sum.

Each call runs on its own thread (the SDK's clients are thread-safe; a thread mostly waits on the
network) in a copy of the caller's context, so context variables set for the request (its event, the
events left to the outbox, ...) hold in the call as they would inline. X-Ray records a call made on
another thread in the same trace, but not nested under the handler's subsegments: the SDK's Lambda
context keeps its segment per thread and starts each thread's from the trace header.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


def together(*calls: Callable[[], Any]) -> list[Future[Any]]:
    """Run ``calls`` at the same time and wait until every one has returned or raised.

    A pool of ``len(calls)`` threads is made for this one use, so a call may itself use
    :func:`together` without waiting on a thread its caller holds.

    Returns
    -------
    list of Future
        One per call, in the order given, every one done: ``result()`` returns the call's value or
        raises its exception. The caller decides which failure to raise and what to undo for the
        calls that succeeded.
    """
    with ThreadPoolExecutor(max_workers=max(1, len(calls)), thread_name_prefix="keyframe-together") as pool:
        return [pool.submit(contextvars.copy_context().run, call) for call in calls]
