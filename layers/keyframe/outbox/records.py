"""A domain event and its outbox item: stored in the same transaction as the change it describes.

Keys (catalog table, whose stream is on): ``pk = STUDIO#{studioId}#OUTBOX``,
``sk = {occurredAt}#{eventId}``, ``recordType = "event"`` (the stream filter's test), ``ttl`` 7 days.
One partition per studio means DynamoDB Streams hands a studio's events in the order they were
written (a stream keeps order per partition key), which is what keeps each room's ``seq`` in the
order of the changes.

The *envelope* of an event is what webhooks receive as their payload and what analytics record::

    {"id": "evt_…", "type": "asset:commented", "studio": "…", "occurredAt": "2026-…Z",
     "subject": "comment/…", "data": {...}}

The room copies (``{type, room, seq, ts, correlationId, data}``) are built from it by
:mod:`keyframe.events.publisher`, with ``ts = occurredAt``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from pynamodb.attributes import BooleanAttribute, JSONAttribute, ListAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.models import Model

from keyframe.clock import now_iso
from keyframe.storage.models import table_meta
from keyframe.storage.tables import CATALOG
from keyframe.storage.transactions import Transaction

RECORD_TYPE = "event"
"""Value of ``recordType`` on every outbox item (the stream consumer's filter)."""

RETENTION = timedelta(days=7)
"""How long an outbox item is kept (DynamoDB TTL): longer than any retry of any consumer."""


def outbox_pk(studio_id: str) -> str:
    """Partition key of a studio's outbox: ``STUDIO#{studioId}#OUTBOX``."""
    return f"STUDIO#{studio_id}#OUTBOX"


def new_event_id() -> str:
    """A fresh event id: ``evt_`` and 32 hex digits (unique; also the webhook ``webhook-id``)."""
    return f"evt_{uuid.uuid4().hex}"


@dataclass(frozen=True)
class DomainEvent:
    """One domain event.

    Attributes
    ----------
    id:
        Unique event id (``evt_…``); every consumer deduplicates by it.
    type:
        A :class:`keyframe.events.types.EventType` value.
    studio:
        The studio the event belongs to; it is never delivered outside it.
    occurred_at:
        UTC ISO-8601 with microseconds (:func:`keyframe.clock.now_iso`).
    subject:
        What changed, ``{kind}/{id}`` (``comment/…``, ``asset/…``), or ``None``.
    data:
        The JSON payload (the same object the REST API returns for the thing that changed).
    rooms:
        Live rooms the event goes to (``studio``, ``project:{id}``, ``asset:{id}``).
    correlation_id:
        The request or message that caused it (``None`` for background work).
    inline:
        False when the process that stored it does not announce it (it was staged within
        :func:`keyframe.events.publisher.left_to_the_outbox`): the stream consumer then numbers and
        delivers it at once instead of leaving it to that process first. Stored only when False.
    """

    id: str
    type: str
    studio: str
    occurred_at: str
    data: dict[str, Any]
    rooms: tuple[str, ...] = field(default_factory=tuple)
    subject: str | None = None
    correlation_id: str | None = None
    inline: bool = True

    @classmethod
    def new(
        cls,
        studio_id: str,
        event_type: str,
        data: dict[str, Any],
        *,
        rooms: tuple[str, ...] | list[str] = (),
        subject: str | None = None,
        correlation_id: str | None = None,
        inline: bool = True,
    ) -> DomainEvent:
        """A new event with a fresh id, stamped now."""
        return cls(
            id=new_event_id(),
            type=str(event_type),
            studio=studio_id,
            occurred_at=now_iso(),
            data=data,
            rooms=tuple(dict.fromkeys(rooms)),
            subject=subject,
            correlation_id=correlation_id,
            inline=inline,
        )

    def envelope(self) -> dict[str, Any]:
        """The webhook / analytics payload ``{id, type, studio, occurredAt, subject, data}``."""
        return {
            "id": self.id,
            "type": self.type,
            "studio": self.studio,
            "occurredAt": self.occurred_at,
            "subject": self.subject,
            "data": self.data,
        }

    def item(self) -> OutboxItem:
        """The outbox item of this event (not written)."""
        return OutboxItem(
            outbox_pk(self.studio),
            f"{self.occurred_at}#{self.id}",
            record_type=RECORD_TYPE,
            event_id=self.id,
            event_type=self.type,
            studio_id=self.studio,
            occurred_at=self.occurred_at,
            subject=self.subject,
            data=self.data,
            rooms=list(self.rooms),
            correlation_id=self.correlation_id,
            inline=None if self.inline else False,
            ttl=RETENTION,
        )


class OutboxItem(Model):
    """One outbox item (catalog table, ``STUDIO#{s}#OUTBOX`` / ``{occurredAt}#{eventId}``), kept 7 days."""

    Meta = table_meta(CATALOG)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    record_type = UnicodeAttribute(attr_name="recordType")
    event_id = UnicodeAttribute(attr_name="eventId")
    event_type = UnicodeAttribute(attr_name="type")
    studio_id = UnicodeAttribute(attr_name="studioId")
    occurred_at = UnicodeAttribute(attr_name="occurredAt")
    subject = UnicodeAttribute(null=True)
    data = JSONAttribute()
    rooms = ListAttribute(of=UnicodeAttribute, default=list)
    correlation_id = UnicodeAttribute(null=True, attr_name="correlationId")
    inline = BooleanAttribute(null=True)
    ttl = TTLAttribute(null=True)

    def event(self) -> DomainEvent:
        """The :class:`DomainEvent` this item stores."""
        return DomainEvent(
            id=str(self.event_id),
            type=str(self.event_type),
            studio=str(self.studio_id),
            occurred_at=str(self.occurred_at),
            data=dict(self.data or {}),
            rooms=tuple(str(room) for room in self.rooms or ()),
            subject=self.subject,
            correlation_id=self.correlation_id,
            inline=self.inline is not False,
        )


def add_to(tx: Transaction, event: DomainEvent) -> Transaction:
    """Add ``event``'s outbox item to ``tx`` (label ``event:{id}``): stored with the change or not at all."""
    return tx.put(f"event:{event.id}", event.item(), condition=OutboxItem.pk.does_not_exist())


def write(event: DomainEvent) -> None:
    """Store ``event``'s outbox item alone (for changes that have no transaction of their own).

    Raises
    ------
    pynamodb.exceptions.PutError
        DynamoDB refused the write (the caller's change then has no event: callers write the
        outbox item before announcing anything).
    """
    event.item().save()


_deserializer = TypeDeserializer()


def from_stream_record(record: dict[str, Any]) -> DomainEvent | None:
    """The event of a DynamoDB stream record (Lambda's shape), or ``None`` if it is not an outbox INSERT.

    Parameters
    ----------
    record:
        ``{"eventName": "INSERT", "dynamodb": {"NewImage": {...typed attributes...}, ...}}``.
    """
    if record.get("eventName") != "INSERT":
        return None
    image = record.get("dynamodb", {}).get("NewImage") or {}
    if image.get("recordType", {}).get("S") != RECORD_TYPE:
        return None
    plain = {name: _deserializer.deserialize(value) for name, value in image.items()}
    data = plain.get("data")
    return DomainEvent(
        id=str(plain["eventId"]),
        type=str(plain["type"]),
        studio=str(plain["studioId"]),
        occurred_at=str(plain["occurredAt"]),
        data=_json(data),
        rooms=tuple(str(room) for room in plain.get("rooms") or ()),
        subject=plain.get("subject"),
        correlation_id=plain.get("correlationId"),
        inline=plain.get("inline") is not False,
    )


def _json(value: Any) -> dict[str, Any]:
    """A ``JSONAttribute`` as the stream shows it (a JSON string) -> dict."""
    return dict(json.loads(value)) if isinstance(value, str) else dict(value or {})
