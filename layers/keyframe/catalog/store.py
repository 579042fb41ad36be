"""A labelled DynamoDB transaction over catalog models, and bounded page queries.

:class:`Transaction` collects puts, updates, deletes and condition checks, each under a label, and
commits them with one ``TransactWriteItems``. When DynamoDB cancels it, :class:`Cancelled` says which
labels failed their condition, so services can answer "code taken" or "someone changed the asset"
precisely. Services never commit a transaction themselves: they hand it to
:func:`keyframe.catalog.activity.record`, which adds the activity entry and commits (see there).

:func:`query_page` reads one page of a Query with a hard cap on the number of requests, whatever the
filter's selectivity; it is the only way catalog code reads lists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.models import Model

M = TypeVar("M", bound=Model)

MAX_TRANSACTION_ITEMS = 100
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

    def __len__(self) -> int:
        return len(self._checks) + len(self._deletes) + len(self._puts) + len(self._updates)

    def commit(self) -> None:
        """Send the transaction.

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


@dataclass
class Page:
    """One page of a Query: deserialised items and the key to resume after the last one (or None)."""

    items: list[Any]
    next_key: dict[str, Any] | None
    requests: int


def query_page(
    model: type[M],
    hash_key: str,
    *,
    index: str | None = None,
    range_key_condition: Condition | None = None,
    filter_condition: Condition | None = None,
    forward: bool = True,
    limit: int,
    start_key: dict[str, Any] | None = None,
    max_requests: int = 1,
    evaluations_per_request: int | None = None,
    key_names: tuple[str, ...] = ("pk", "sk"),
) -> Page:
    """Read up to ``limit`` items of a Query with at most ``max_requests`` DynamoDB requests.

    Without a filter one request of ``limit + 1`` items decides whether there is a next page. With a
    filter each request evaluates ``evaluations_per_request`` items; the loop stops when the page is
    full, the partition is exhausted, or the request budget is spent. In the last case the page may
    be short (even empty) but ``next_key`` points exactly where reading stopped, so following it never
    skips or repeats an item.

    Parameters
    ----------
    model:
        The PynamoDB model to deserialise items into.
    hash_key:
        Partition key value (of the table or of ``index``).
    index:
        Attribute name of the model's GSI (``"gsi1"``…), or None for the table.
    key_names:
        Names of the key attributes that identify a position in this index (table keys + index keys).

    Returns
    -------
    Page
        ``items`` (at most ``limit``), ``next_key`` (raw DynamoDB key or None) and ``requests`` made.
    """
    source: Any = getattr(model, index) if index else model
    per_request = limit + 1 if filter_condition is None else max(limit + 1, evaluations_per_request or 200)
    iterator = source.query(
        hash_key,
        range_key_condition=range_key_condition,
        filter_condition=filter_condition,
        scan_index_forward=forward,
        last_evaluated_key=start_key,
        page_size=per_request,
    )
    pages = iterator.page_iter
    raw_items: list[dict[str, Any]] = []
    requests = 0
    last_key: dict[str, Any] | None = start_key
    while requests < max_requests:
        page = next(pages)
        requests += 1
        for raw in page.get("Items", []):
            raw_items.append(raw)
            if len(raw_items) > limit:
                kept = raw_items[:limit]
                resume = {name: kept[-1][name] for name in key_names}
                return Page([model.from_raw_data(r) for r in kept], resume, requests)
        last_key = page.get("LastEvaluatedKey")
        if not last_key:
            return Page([model.from_raw_data(r) for r in raw_items], None, requests)
    return Page([model.from_raw_data(r) for r in raw_items], last_key, requests)


def index_key_names(index: str | None) -> tuple[str, ...]:
    """The attributes that make a position in the table (``pk``, ``sk``) or in GSI ``index``."""
    if index is None:
        return ("pk", "sk")
    return ("pk", "sk", f"{index}pk", f"{index}sk")


def with_retries(attempts: int, body: Callable[[int], Any]) -> Any:
    """Call ``body(attempt)`` until it returns without raising :class:`Cancelled` (conflicts only).

    ``body`` decides itself what a failed condition means and raises domain errors for it; a
    :class:`Cancelled` that escapes ``body`` is retried with a small randomised backoff.

    Raises
    ------
    Cancelled
        When every attempt was cancelled.
    """
    import random
    import time

    for attempt in range(attempts):
        try:
            return body(attempt)
        except Cancelled:
            if attempt == attempts - 1:
                raise
            time.sleep(random.uniform(0, min(0.05, 0.002 * (attempt + 1))))
    raise AssertionError("unreachable")
