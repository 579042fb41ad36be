"""Make moto's DynamoDB apply each request atomically, as DynamoDB does.

moto checks a ``ConditionExpression`` and then applies the write in two Python steps, so two
threads can both pass the check; its ``TransactWriteItems`` snapshots and restores whole tables, so
two threads inside it at once lose each other's writes. Real DynamoDB serialises writes to an item
and isolates transactions, which is what Keyframe's compare-and-set code (refresh rotation, version
numbers, counters) relies on. Serialising *requests* (not our code) keeps exactly that guarantee:
threads still interleave between requests, which is where real races live. The local stack's
emulator and the test fixtures both call :func:`make_dynamodb_atomic`.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from moto.dynamodb.responses import DynamoHandler

_lock = threading.RLock()
_state = {"applied": False}


def serialised() -> threading.RLock:
    """The lock every DynamoDB request holds: ``with serialised():`` reads tables between requests."""
    return _lock


def make_dynamodb_atomic() -> None:
    """Serialise moto's DynamoDB requests behind one lock (idempotent, process-wide)."""
    if _state["applied"]:
        return
    original = DynamoHandler.call_action

    @functools.wraps(original)
    def call_action(self: Any) -> Any:
        with _lock:
            return original(self)

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    _state["applied"] = True
