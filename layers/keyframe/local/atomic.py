"""Make moto's DynamoDB apply each request atomically, as DynamoDB does.

moto checks a ``ConditionExpression`` and then applies the write in two Python steps, so two
threads can both pass the check; its ``TransactWriteItems`` snapshots and restores whole tables, so
two threads inside it at once lose each other's writes. Real DynamoDB serialises writes to an item
and isolates transactions, which is what Keyframe's compare-and-set code (refresh rotation, version
numbers, counters) relies on. Serialising *requests* (not our code) keeps exactly that guarantee:
threads still interleave between requests, which is where real races live. The local stack's
emulator and the test fixtures both call :func:`make_dynamodb_atomic`.

It also makes ``TransactWriteItems`` cost what the transaction touches: moto deep-copies every
table a transaction names before applying it (to roll back on a failure), so each write costs time
in proportion to the whole table, stream records included: the local stack and a long test session
slow down as data accumulates (every Keyframe write is a transaction with its activity entry).
Under the one lock the same rollback only needs the items the transaction names and each table's
stream length: :func:`_transact_write_items` keeps those, lets moto apply the transaction with its
whole-table copy turned into a no-op, and puts them back if moto raises.

Other patches that must see each request's outcome under the same lock register a callback with
:func:`after_each_request` (the index maps of :mod:`keyframe.local.dynamodb_queries`) rather than
wrapping moto's handler a second time.
"""

from __future__ import annotations

import copy
import functools
import logging
import threading
from collections.abc import Callable
from typing import Any

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler

log = logging.getLogger(__name__)
_lock = threading.RLock()
_state = {"applied": False}
_after_each: list[Callable[[Any], None]] = []


def after_each_request(callback: Callable[[Any], None]) -> None:
    """Call ``callback(handler)`` after every DynamoDB request, answered or refused, still under the
    lock (idempotent). It must not raise: whatever it raises is logged and dropped, never in the way
    of the answer."""
    if callback not in _after_each:
        _after_each.append(callback)


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
            try:
                return original(self)
            finally:
                for callback in _after_each:
                    try:
                        callback(self)
                    except Exception:
                        log.exception("an after-request callback of the DynamoDB emulator failed")

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    original_transact = DynamoDBBackend.transact_write_items
    dynamodb_models.copy = _TablesNotCopied()  # type: ignore[assignment]

    @functools.wraps(original_transact)
    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        saved = _save(self, transact_items)
        try:
            original_transact(self, transact_items)
        except BaseException:
            _restore(saved)
            raise

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    _state["applied"] = True


class _TablesNotCopied:
    """The ``copy`` module as moto's DynamoDB backend sees it: ``deepcopy`` of a whole ``Table`` (its
    rollback copy in ``transact_write_items``) gives the table itself; every other copy is real."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


_Saved = list[tuple[Table, DynamoType, DynamoType | None, Any, int | None]]


def _save(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> _Saved:
    """(table, hash, range, a copy of the item or None, stream length) of each item a transaction
    names, before it is applied (an operation moto will refuse is skipped: it writes nothing)."""
    saved: _Saved = []
    for entry in transact_items:
        for op_type, op in entry.items():
            table = backend.tables.get(op.get("TableName", "")) if isinstance(op, dict) else None
            if table is None:
                continue
            key = op.get("Item") if op_type == "Put" else op.get("Key")
            try:
                hash_value = DynamoType(key[table.hash_key_attr])
                range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            except (KeyError, TypeError):
                continue
            item = copy.deepcopy(table.get_item(hash_value, range_value))
            length = None if table.stream_shard is None else len(table.stream_shard.items)
            saved.append((table, hash_value, range_value, item, length))
    return saved


def _restore(saved: _Saved) -> None:
    """Put back what :func:`_save` kept (last saved first), and drop the stream records added since."""
    for table, hash_value, range_value, item, stream_length in reversed(saved):
        if range_value is not None:
            if item is None:
                table.items[hash_value].pop(range_value, None)
            else:
                table.items[hash_value][range_value] = item
        elif item is None:
            table.items.pop(hash_value, None)
        else:
            table.items[hash_value] = item
        if stream_length is not None and table.stream_shard is not None:
            del table.stream_shard.items[stream_length:]
