"""The outbox consumer of analytics: stored domain events -> server records.

Registered as ``analytics`` with :mod:`keyframe.outbox.stream` by the ``outbox-stream`` function (and
so polled from the stream on the local stack too). Each durable event whose type is in
:data:`keyframe.analytics.records.SERVER_TYPES` becomes one record with the event's id; the others
are skipped. If the sink fails, the exception goes back to the stream, which hands the event again
(to every consumer; rooms and webhooks deduplicate by event id), so a record is never lost while the
outbox keeps the event, and may be written twice: readers deduplicate by ``id``.
"""

from __future__ import annotations

from keyframe.analytics import sink
from keyframe.analytics.records import from_domain_event
from keyframe.outbox.records import DomainEvent


def consume(event: DomainEvent) -> None:
    """Record ``event`` when it is one analytics keeps (see the module docstring).

    Raises
    ------
    keyframe.analytics.sink.SinkError, botocore.exceptions.ClientError
        The record was not handed to the sink (the stream hands the event again).
    """
    record = from_domain_event(event)
    if record is not None:
        sink.put([record])
