"""The outbox's consumer: DynamoDB stream records of the catalog table -> the registered consumers.

In the cloud the ``outbox-stream`` function (``functions/outbox_stream``) is the target of an event
source mapping on the catalog table's stream, filtered to outbox INSERTs, with batch item failures
reported, bisect on error, a dead-letter queue and an alarm (``infra/outbox.py``). On the local stack
:mod:`keyframe.local.streams` polls the stream and invokes the same handler with the same event.

Consumers register at the handler's start (:func:`register`): the rooms (socket fan-out through
:func:`keyframe.events.publisher.publish`), the webhooks (:func:`keyframe.webhooks.dispatch.enqueue`)
and, when present, analytics. Each must be idempotent by event id: a record is handed again after a
failure, to every consumer.

Order and failures: records are handled in stream order; at the first record a consumer fails on,
the handler stops and reports that record's sequence number as the batch's failure, so the stream
hands it and everything after it again (Lambda's ``ReportBatchItemFailures`` semantics): nothing is
skipped, nothing overtakes an earlier event of the same studio.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from keyframe.observability import logger
from keyframe.outbox.records import DomainEvent, from_stream_record

Consumer = Callable[[DomainEvent], None]
"""``consume(event)``: deliver one event; raise to have it (and what follows) handed again."""

_consumers: dict[str, Consumer] = {}


def register(name: str, consumer: Consumer) -> None:
    """Add (or replace) the consumer called ``name`` (``rooms``, ``webhooks``, ``analytics``)."""
    _consumers[name] = consumer


def unregister(name: str) -> None:
    """Remove the consumer called ``name`` (no error when absent)."""
    _consumers.pop(name, None)


def consumers() -> list[str]:
    """Names of the registered consumers, in the order they are called."""
    return list(_consumers)


def handle(event: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    """Hand every outbox INSERT of a DynamoDB Streams batch to each consumer, in order.

    Parameters
    ----------
    event:
        Lambda's DynamoDB Streams event ``{"Records": [{"eventName", "dynamodb": {"SequenceNumber",
        "NewImage", ...}}, ...]}``; records that are not outbox INSERTs are skipped.

    Returns
    -------
    dict
        ``{"batchItemFailures": [{"itemIdentifier": sequenceNumber}]}``: empty when every record
        was consumed, else the first record that failed (it and the later ones come again).
    """
    for record in event.get("Records", []):
        domain_event = from_stream_record(record)
        if domain_event is None:
            continue
        try:
            consume(domain_event)
        except Exception:
            sequence = record.get("dynamodb", {}).get("SequenceNumber", "")
            logger.exception(
                "outbox consumer failed; the record will be handed again",
                extra={"event_id": domain_event.id, "event_type": domain_event.type, "sequence": sequence},
            )
            return {"batchItemFailures": [{"itemIdentifier": sequence}]}
    return {"batchItemFailures": []}


def consume(event: DomainEvent) -> None:
    """Call every registered consumer with ``event`` (the first exception propagates)."""
    for consumer in list(_consumers.values()):
        consumer(event)
