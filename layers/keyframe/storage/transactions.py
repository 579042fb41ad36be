"""A labelled DynamoDB transaction and the one retry policy: how Keyframe writes several items atomically.

:class:`Transaction` collects puts, updates, deletes and condition checks, each under a label, and
commits them with one ``TransactWriteItems`` (items may live in different tables). Each commit sends
its own ``ClientRequestToken``, so when the SDK re-sends the same request (a timeout, a dropped
connection) DynamoDB applies it at most once. When DynamoDB cancels it, :class:`Cancelled` says which
labels failed their condition (``"email"``, ``"studio"`` …) and whether a concurrent transaction
conflicted, so services answer precisely ("e-mail taken", "someone changed the asset") instead of
reading error text.

:func:`retrying` is the one retry policy for cancelled transactions: a bounded number of attempts,
each building its transaction afresh (new reads, new token), with a jittered exponential pause.

A change that users see is committed with its activity entry by
:func:`keyframe.storage.activity.record` (every domain: identity aside, the catalog, uploads,
renders, reviews), and with the outbox items of its domain events: a service stages each event on the
transaction (:func:`keyframe.events.publisher.stage` adds the outbox put and an
:meth:`Transaction.after_commit` callback that announces it), so the change and its events are stored
together or not at all.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.models import Model

MAX_TRANSACTION_ITEMS = 100
DEFAULT_ATTEMPTS = 5
"""Attempts :func:`retrying` makes unless told otherwise."""
BACKOFF_BASE_SECONDS = 0.005
BACKOFF_CAP_SECONDS = 0.1
T = TypeVar("T")
_RETRYABLE_REASONS = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
)


class Cancelled(Exception):
    """DynamoDB cancelled the transaction.

    Attributes
    ----------
    failed:
        Labels of the operations whose condition failed (``ConditionalCheckFailed``).
    conflict:
        True when another transaction was touching the same items (``TransactionConflict``);
        retrying is the answer.
    """

    def __init__(self, failed: set[str], conflict: bool) -> None:
        super().__init__(f"transaction cancelled: failed={sorted(failed)} conflict={conflict}")
        self.failed = failed
        self.conflict = conflict


@dataclass
class Transaction:
    """Operations to commit atomically with one ``TransactWriteItems`` (at most 100)."""

    _checks: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _deletes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _puts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _updates: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _connection_of: type[Model] | None = None
    _after_commit: list[Callable[[], object]] = field(default_factory=list)

    def _remember(self, model_cls: type[Model]) -> None:
        if self._connection_of is None:
            self._connection_of = model_cls

    def check(
        self, label: str, model_cls: type[Model], hash_key: str, range_key: str | None, condition: Condition
    ) -> Transaction:
        """Require ``condition`` on an item without writing it."""
        self._remember(model_cls)
        kwargs = model_cls.get_operation_kwargs_from_class(hash_key, range_key=range_key, condition=condition)
        self._checks.append((label, kwargs))
        return self

    def put(self, label: str, item: Model, condition: Condition | None = None) -> Transaction:
        """Write ``item`` whole (with ``condition``)."""
        self._remember(type(item))
        self._puts.append((label, item.get_save_kwargs_from_instance(condition=condition)))
        return self

    def update(
        self, label: str, item: Model, actions: list[Any], condition: Condition | None = None
    ) -> Transaction:
        """Apply update ``actions`` to the item keyed like ``item`` (with ``condition``)."""
        self._remember(type(item))
        self._updates.append(
            (label, item.get_update_kwargs_from_instance(actions=actions, condition=condition))
        )
        return self

    def delete(self, label: str, item: Model, condition: Condition | None = None) -> Transaction:
        """Delete the item keyed like ``item`` (with ``condition``)."""
        self._remember(type(item))
        self._deletes.append((label, item.get_delete_kwargs_from_instance(condition=condition)))
        return self

    def after_commit(self, callback: Callable[[], object]) -> Transaction:
        """Call ``callback()`` once this transaction committed (in the order added; not on cancellation).

        The callbacks announce what was stored (the domain events staged on the transaction); they
        must not raise: the change is stored whatever they do.
        """
        self._after_commit.append(callback)
        return self

    def __len__(self) -> int:
        return len(self._checks) + len(self._deletes) + len(self._puts) + len(self._updates)

    def commit(self) -> None:
        """Send the transaction (with a fresh ``ClientRequestToken``: SDK re-sends apply once), then call
        its :meth:`after_commit` callbacks.

        Raises
        ------
        Cancelled
            When a condition failed or another transaction conflicted.
        ValueError
            Empty or more than 100 operations (a programming error).
        """
        if not len(self) or len(self) > MAX_TRANSACTION_ITEMS:
            raise ValueError(f"a transaction holds 1..{MAX_TRANSACTION_ITEMS} operations, not {len(self)}")
        assert self._connection_of is not None
        connection: Connection = self._connection_of._get_connection().connection
        # PynamoDB sends checks, deletes, puts, updates in that order; reasons come back in it.
        labels = [
            label for group in (self._checks, self._deletes, self._puts, self._updates) for label, _ in group
        ]
        try:
            connection.transact_write_items(
                condition_check_items=[kw for _, kw in self._checks],
                delete_items=[kw for _, kw in self._deletes],
                put_items=[kw for _, kw in self._puts],
                update_items=[kw for _, kw in self._updates],
                client_request_token=uuid.uuid4().hex,
            )
        except TransactWriteError as exc:
            if exc.cause_response_code != "TransactionCanceledException":
                raise
            failed: set[str] = set()
            conflict = False
            for label, reason in zip(labels, exc.cancellation_reasons, strict=False):
                if reason is None:
                    continue
                if reason.code == "ConditionalCheckFailed":
                    failed.add(label)
                elif reason.code in _RETRYABLE_REASONS:
                    conflict = True
                else:
                    raise  # a validation error or an unknown reason is a bug, not a race
            raise Cancelled(failed, conflict) from exc
        for callback in self._after_commit:
            callback()


def only_conflicts(exc: Cancelled) -> bool:
    """The default retry rule: retry when another transaction conflicted and no condition failed."""
    return exc.conflict and not exc.failed


def any_cancellation(exc: Cancelled) -> bool:
    """The retry rule of bodies that re-read and re-check their own conditions: retry every cancellation.

    Such a body raises domain errors for final failures itself; a :class:`Cancelled` that escapes
    it means "re-read and try again".
    """
    return True


def backoff_seconds(attempt: int) -> float:
    """The pause after failed attempt ``attempt`` (0-based): full jitter, ``U(0, min(cap, base·2^n))``."""
    return random.uniform(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt))


def retrying(
    body: Callable[[int], T],
    *,
    attempts: int = DEFAULT_ATTEMPTS,
    retry_if: Callable[[Cancelled], bool] = only_conflicts,
) -> T:
    """Call ``body(attempt)`` until it returns; a :class:`Cancelled` it raises is retried when ``retry_if``.

    ``body`` builds its transaction afresh each time (reading again what it conditions on) and
    commits it. By default only a pure conflict is retried; a body that re-reads and re-checks its
    conditions itself (optimistic concurrency on a revision) passes ``retry_if=any_cancellation``
    and raises domain errors for the failures that are final.

    Parameters
    ----------
    body:
        Called with the 0-based attempt number.
    attempts:
        At most this many calls (>= 1).
    retry_if:
        Which cancellations are worth another attempt.

    Raises
    ------
    Cancelled
        The last attempt was cancelled, or a cancellation ``retry_if`` refuses.
    """
    for attempt in range(attempts):
        try:
            return body(attempt)
        except Cancelled as exc:
            if attempt == attempts - 1 or not retry_if(exc):
                raise
            time.sleep(backoff_seconds(attempt))
    raise ValueError(f"attempts must be at least 1, not {attempts}")
