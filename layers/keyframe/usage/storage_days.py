"""Storage bytes per UTC day, exact: each day's net change, kept beside the storage counter.

Every change of the storage counter (:func:`keyframe.usage.quotas.reserve` / ``release`` of
``Quota.STORAGE_BYTES``: an upload session opened, aborted, expired or discarded) also adds its
delta to the day's item ``STUDIO#{s}#UPLOAD#USAGE`` / ``DAY#{yyyy-mm-dd}`` (uploads table,
``changeBytes``) and 1 to the counter's ``changes``, **in the same transaction** (:func:`stage`). So
the counter and the day changes always add up: a day's closing balance is the counter now minus the
changes of every later day (:func:`closing_balances`), exact under concurrency, never negative
(the counter never is).

Days before the per-day items were first written (before this module was deployed) show the opening
balance of the first day that has one: their own changes were not recorded.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist

from keyframe import clock
from keyframe.storage.transactions import Transaction
from keyframe.usage.models import StorageCounter, StorageDay, day_sk, storage_pk

LABEL = "quota:storageBytes:day"
"""The label of the day item's update in a :class:`Transaction`."""

READ_ATTEMPTS = 5
"""Reads of the day items repeated at most this many times while changes keep committing meanwhile."""


def today() -> date:
    """The current UTC day (:func:`keyframe.clock.now`)."""
    return clock.now().date()


def stage(tx: Transaction, studio_id: str, delta: int) -> None:
    """Add ``delta`` bytes (negative: a release) to today's change item in ``tx`` (no condition).

    Called by :mod:`keyframe.usage.quotas` beside every change of the storage counter, which also
    counts the change (``changes + 1``) so that :func:`closing_balances` reads a consistent pair.
    """
    item = StorageDay(storage_pk(studio_id), day_sk(today()))
    tx.update(LABEL, item, [StorageDay.change.add(delta)])


def _counter(studio_id: str) -> tuple[int, int]:
    """``(usedBytes, changes)`` of the studio's storage counter (consistent read; 0s when absent)."""
    item = StorageCounter(storage_pk(studio_id))
    try:
        item.refresh(consistent_read=True)
    except DoesNotExist:
        return 0, 0
    return max(0, int(item.used or 0)), int(item.changes or 0)


def _changes_since(studio_id: str, first: date) -> dict[str, int]:
    """``{yyyy-mm-dd: changeBytes}`` of every day item from ``first`` on (one consistent Query)."""
    found: dict[str, int] = {}
    for item in StorageDay.query(
        storage_pk(studio_id),
        StorageDay.sk.between(day_sk(first), day_sk(date.max)),
        consistent_read=True,
    ):
        found[item.sk.removeprefix("DAY#")] = int(item.change or 0)
    return found


def closing_balances(studio_id: str, first: date, last: date) -> list[dict[str, Any]]:
    """The storage bytes at the end of each UTC day ``first..min(last, today)``, with each day's change.

    Reads the counter (GetItem), the day items from ``first`` on (Query), and the counter again
    (uploads table); when a change committed between the two counter reads (``changes`` moved), the
    three reads are made again (at most :data:`READ_ATTEMPTS` times), so the figures are those of one
    moment. A day's balance is ``usedBytes - (changes of the later days)``; today's is the counter now.

    Returns
    -------
    list of dict
        ``[{"date": date, "bytes": int, "changeBytes": int}]`` in day order (empty when ``first``
        is after today); days without a change carry the previous day's balance.
    """
    end = min(last, today())
    if first > end:
        return []
    for _ in range(READ_ATTEMPTS):
        used, seen = _counter(studio_id)
        changes = _changes_since(studio_id, first)
        again = _counter(studio_id)
        if again == (used, seen):
            break
    later = sum(change for day, change in changes.items() if day > end.isoformat())
    balance = used - later
    days: list[dict[str, Any]] = []
    day = end
    while day >= first:
        change = changes.get(day.isoformat(), 0)
        days.append({"date": day, "bytes": max(0, balance), "changeBytes": change})
        balance -= change
        day -= timedelta(days=1)
    days.reverse()
    return days
