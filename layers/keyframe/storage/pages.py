"""Bounded page queries: the one way Keyframe reads lists (catalog, renders, reviews).

:func:`query_page` reads one page of a Query with a hard cap on the number of requests, whatever the
filter's selectivity; the position to resume from goes to the client as a signed cursor
(:mod:`keyframe.storage.cursors`). :func:`readable` converts a page's items, skipping (and reporting)
a stored record that does not parse, so one bad item never fails a listing; :func:`parse_record`
reads one record, answering a record that does not parse with :class:`~keyframe.errors.UnreadableRecord`
(500 ``RECORD_UNREADABLE``) after reporting it the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from aws_lambda_powertools.metrics import MetricUnit
from pynamodb.expressions.condition import Condition
from pynamodb.models import Model

from keyframe.errors import UnreadableRecord
from keyframe.observability import logger, metrics

M = TypeVar("M", bound=Model)
T = TypeVar("T")
R = TypeVar("R")

UNREADABLE_METRIC = "UnreadableRecords"
"""Count metric (namespace of :mod:`keyframe.observability`) of stored records a read skipped or
patched because they do not parse: one bad item never fails a listing."""

_UNREADABLE = (TypeError, ValueError, KeyError, AttributeError)  # pydantic's ValidationError is a ValueError


def report_unreadable(kind: str, key: Any, error: Exception) -> None:
    """Log (ERROR, with the item's key) and count one stored record that does not parse."""
    logger.error(
        "unreadable record",
        extra={"record_kind": kind, "record_key": str(key), "error": f"{type(error).__name__}: {error}"},
    )
    metrics.add_metric(name=UNREADABLE_METRIC, unit=MetricUnit.Count, value=1)


def readable(items: Iterable[T], convert: Callable[[T], R], kind: str) -> list[R]:
    """``[convert(item) ...]`` leaving out (and reporting) every item ``convert`` cannot read.

    A ``convert`` that already reported the item (it raised :class:`~keyframe.errors.UnreadableRecord`
    through :func:`parse_record`) is not reported twice.
    """
    result: list[R] = []
    for item in items:
        try:
            result.append(convert(item))
        except UnreadableRecord:
            continue
        except _UNREADABLE as exc:
            report_unreadable(kind, getattr(item, "pk", None) or item, exc)
    return result


def parse_record(kind: str, record_id: str, key: Any, parse: Callable[[], R]) -> R:
    """``parse()``: reading or converting one stored record, which must parse.

    Parameters
    ----------
    kind, record_id:
        What is read (``"asset"``, ``"project"``) and its id, for the error's ``details``.
    key:
        The record's key (logged, never answered).
    parse:
        Reads (``Model.get``) and/or converts the record; may raise what a damaged record causes
        (``TypeError`` / ``ValueError`` / ``KeyError`` / ``AttributeError``, pydantic's
        ``ValidationError``, PynamoDB's ``AttributeDeserializationError``).

    Raises
    ------
    UnreadableRecord
        The record does not parse; it was logged and counted (``UnreadableRecords``) first.
    """
    try:
        return parse()
    except _UNREADABLE as exc:
        report_unreadable(kind, key, exc)
        raise UnreadableRecord(kind, record_id) from exc


def _from_raw(model: type[M], raws: list[dict[str, Any]]) -> list[M]:
    def load(raw: dict[str, Any]) -> M:
        return model.from_raw_data(raw)

    return readable(raws, load, model.__name__)


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
                return Page(_from_raw(model, kept), resume, requests)
        last_key = page.get("LastEvaluatedKey")
        if not last_key:
            return Page(_from_raw(model, raw_items), None, requests)
    return Page(_from_raw(model, raw_items), last_key, requests)


def index_key_names(index: str | None) -> tuple[str, ...]:
    """The attributes that make a position in the table (``pk``, ``sk``) or in GSI ``index``."""
    if index is None:
        return ("pk", "sk")
    return ("pk", "sk", f"{index}pk", f"{index}sk")
