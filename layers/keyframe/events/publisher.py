"""The one publisher of domain events: the outbox record with the change, then the rooms.

Every write that others should see (``asset:created``, ``pipeline:update``, ``render:progress`` ...)
stages its event on the change's own transaction with :func:`stage` before committing it (usually
through :func:`keyframe.storage.activity.record`): the event's outbox item is one more put of that
``TransactWriteItems``, so the change and its event are stored together or not at all, and the
transaction announces the event once it committed. :func:`emit` is for what changes nothing stored
(presence, a member's notification pushes) and for events with no transaction of their own. Event
types come from :class:`keyframe.events.types.EventType`.

Durability (issue 13.1): a durable event (every type but presence and notification pushes) is stored
in the outbox (catalog table) with its change, before anything is announced. Then :func:`publish`
tries to deliver it at once: in each room
(``studio``, ``project:{id}``, ``asset:{id}``) it gets the next ``seq`` (1, 2, 3 … per room) and is
stored for 24 hours in the live table for catch-up, and the registered deliverers push it on. If that
fails (the live table refuses a write, the process dies), the catalog table's stream hands the outbox
record to :func:`publish` again (:mod:`keyframe.outbox.stream`), until it succeeds.

The stream leaves a new event to the process that stored it for :data:`INLINE_GRACE_SECONDS` (2 s)
before numbering it itself, so the two rarely race for a ``seq``. A request on a hot path may leave
its events to the outbox altogether (:func:`left_to_the_outbox`): they are stored with the change
as always, not announced by the request (no room writes, no posts before it answers), marked so,
and the stream numbers and delivers them at once.

Deduplication: each room keeps a marker ``EVENT#{eventId}`` written in the same transaction as the
room's copy, holding its ``seq``, whether it was delivered, and a 30 s lease of the process that
numbered it. A second :func:`publish` of the same event (the stream after the inline attempt) reuses
the ``seq``, waits for the lease while the first process delivers, and posts only what is still not
delivered after it, so a room never numbers one event twice. A socket may see the same ``seq`` twice
only if a process takes over 30 s between posting and marking, or dies in between (clients drop a
``seq`` they already have).

This module knows no delivery target: a target registers itself with
:func:`keyframe.events.deliverers.register_deliverer` at its process's start (the WebSocket fan-out
does so through :func:`keyframe.live.hooks.install`), without loading this module.

Envelope (what clients receive)::

    {"type": "asset:commented", "room": "asset:123", "seq": 42, "ts": "2026-…Z",
     "correlationId": "…", "data": {...}}
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.models import Model

from keyframe import clock
from keyframe.events import deliverers
from keyframe.events.types import is_durable
from keyframe.observability import logger
from keyframe.outbox import records
from keyframe.outbox.records import DomainEvent
from keyframe.storage.models import table_meta
from keyframe.storage.tables import LIVE
from keyframe.storage.transactions import Cancelled, Transaction

EVENT_RETENTION_SECONDS = 24 * 3600
INLINE_GRACE_SECONDS = 2.0
DELIVERY_LEASE_SECONDS = 30.0
"""How long a process that numbered an event in a room is presumed to be delivering it."""
"""How long the stream consumer leaves a new event to the process that stored it (see :func:`publish`)."""

_left_to_the_outbox: ContextVar[bool] = ContextVar("keyframe_events_left_to_the_outbox", default=False)


@contextmanager
def left_to_the_outbox() -> Iterator[None]:
    """Within the block, durable events are stored with their change but not announced by this process.

    :func:`stage` and :func:`emit` still store each durable event's outbox item exactly as outside
    it (with the change, in the same transaction); they only skip the inline attempt
    (:func:`publish_now`: a ``seq`` update per room, one transaction for the rooms' copies and
    markers, the posts, one write marking them delivered). The event is marked ``inline=False``, so
    the outbox stream numbers and delivers it as soon as it reads it, without waiting
    :data:`INLINE_GRACE_SECONDS`. Ephemeral events (no outbox) are still announced at once. For
    requests whose answer should not wait on delivery (the uploads API's ``complete``).
    """
    token = _left_to_the_outbox.set(True)
    try:
        yield
    finally:
        _left_to_the_outbox.reset(token)


def room_key(studio_id: str, room: str) -> str:
    """Partition key of a room's event log: ``STUDIO#{studioId}#ROOM#{room}``."""
    return f"STUDIO#{studio_id}#ROOM#{room}"


class RoomCounter(Model):
    """Last sequence number of a room (pk = room key, sk = ``COUNTER``). Table: live."""

    Meta = table_meta(LIVE)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="COUNTER")
    last_seq = NumberAttribute(default=0, attr_name="lastSeq")


class RoomEvent(Model):
    """One event in a room's log (pk = room key, sk = ``SEQ#{seq:012d}``), kept 24 h. Table: live."""

    Meta = table_meta(LIVE)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    envelope = JSONAttribute()
    ttl = TTLAttribute(null=True)


class RoomEventMarker(Model):
    """A durable event's place in a room (pk = room key, sk = ``EVENT#{eventId}``), kept 24 h. Table: live.

    ``seq`` is the number the event got in the room; ``delivered`` turns true once every deliverer
    took the room's envelope; until ``leaseUntil`` (epoch seconds) the process that numbered it is
    presumed to be delivering it.
    """

    Meta = table_meta(LIVE)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    seq = NumberAttribute()
    envelope = JSONAttribute()
    delivered = BooleanAttribute(default=False)
    lease_until = NumberAttribute(default=0, attr_name="leaseUntil")
    ttl = TTLAttribute(null=True)


def _next_seq(studio_id: str, room: str) -> int:
    counter = RoomCounter(room_key(studio_id, room), "COUNTER")
    counter.update(actions=[RoomCounter.last_seq.add(1)])
    return int(counter.last_seq)


def _room_envelope(event: DomainEvent, room: str, seq: int) -> dict[str, Any]:
    return {
        "type": event.type,
        "room": room,
        "seq": seq,
        "ts": event.occurred_at,
        "correlationId": event.correlation_id,
        "data": event.data,
    }


def stage(
    tx: Transaction,
    studio_id: str,
    event_type: str,
    data: dict[str, Any],
    *,
    rooms: Iterable[str],
    subject: str | None = None,
    announce: bool = True,
) -> DomainEvent:
    """Store ``event_type`` with the change ``tx`` holds, and announce it once ``tx`` committed.

    A durable event's outbox item is added to ``tx`` (label ``event:{id}``,
    :func:`keyframe.outbox.records.add_to`): stored in the same ``TransactWriteItems`` as the change,
    or not at all. After the commit, :func:`publish_now` numbers it in ``rooms`` and delivers it (a
    failure there is left to the outbox stream); within :func:`left_to_the_outbox` it is not announced
    here at all (the stream delivers it). An ephemeral type is only announced after the commit.

    Parameters
    ----------
    tx:
        The change's transaction, not yet committed (each attempt of
        :func:`keyframe.storage.transactions.retrying` stages on its own).
    studio_id, event_type, data, rooms, subject:
        As :func:`emit`. ``data`` is what the change leaves stored (built before the commit).
    announce:
        False when the caller has more to do between the commit and the announcement (close the
        sockets of a removed member first): it then calls :func:`publish_now` with the returned
        event itself (the outbox stream delivers it anyway if the caller dies before).

    Returns
    -------
    DomainEvent
        The staged event (its ``id`` is the webhook ``webhook-id``).
    """
    inline = not (is_durable(event_type) and _left_to_the_outbox.get())
    event = DomainEvent.new(
        studio_id, event_type, data, rooms=list(rooms), subject=subject,
        correlation_id=logger.get_correlation_id(), inline=inline,
    )  # fmt: skip
    if is_durable(event.type):
        records.add_to(tx, event)
        if announce and inline:
            tx.after_commit(lambda: publish_now(event))
    elif announce:
        tx.after_commit(lambda: _publish_ephemeral_quietly(event))
    return event


def emit(
    studio_id: str,
    event_type: str,
    data: dict[str, Any],
    *,
    rooms: Iterable[str],
    subject: str | None = None,
) -> list[dict[str, Any]]:
    """Store ``event_type`` with ``data`` in the outbox, then publish it to ``rooms`` of ``studio_id``.

    For events that change nothing stored (presence, notification pushes) or have no transaction:
    a change stages its event on its own transaction with :func:`stage` instead.

    Parameters
    ----------
    studio_id:
        The studio the event belongs to; it is never delivered outside it.
    event_type:
        A :class:`keyframe.events.types.EventType` value, e.g. ``asset:created``.
    data:
        JSON-serialisable payload.
    rooms:
        Room names from :mod:`keyframe.events.rooms` (duplicates ignored).
    subject:
        ``{kind}/{id}`` of what changed (webhook and analytics envelopes), optional.

    Returns
    -------
    list of dict
        One envelope per room, as stored and delivered; empty when the rooms could not be written
        now, or within :func:`left_to_the_outbox` (a durable event is then delivered from the
        outbox).

    Raises
    ------
    pynamodb.exceptions.PutError
        The outbox item of a durable event could not be stored (nothing was announced).
    """
    inline = not (is_durable(event_type) and _left_to_the_outbox.get())
    event = DomainEvent.new(
        studio_id, event_type, data, rooms=list(rooms), subject=subject,
        correlation_id=logger.get_correlation_id(), inline=inline,
    )  # fmt: skip
    if not is_durable(event.type):
        return _publish_ephemeral(event)
    records.write(event)
    return publish_now(event) if inline else []


def publish_now(event: DomainEvent) -> list[dict[str, Any]]:
    """The inline attempt after a commit: :func:`publish`, but a failure is logged, not raised.

    The event's outbox item is already stored, so the stream consumer delivers what this attempt
    could not. Returns the envelopes delivered (empty on failure).
    """
    try:
        return publish(event, fresh=True)
    except Exception:
        logger.exception(
            "publishing to rooms failed; the outbox will deliver it",
            extra={"event_id": event.id, "event_type": event.type},
        )
        return []


def publish(event: DomainEvent, *, fresh: bool = False) -> list[dict[str, Any]]:
    """Give ``event`` its ``seq`` in each room (once per event id), store it, deliver what is not delivered.

    Parameters
    ----------
    event:
        A durable event (already in the outbox).
    fresh:
        True right after the event was created (skips the marker read: nothing can have it yet).

    Returns
    -------
    list of dict
        The room envelopes of ``event`` (delivered now or before).

    Raises
    ------
    Exception
        A live-table write or a deliverer failed: the caller (the stream) hands the event again.
    """
    if not fresh and event.inline:  # nobody else announces an inline=False event: no wait
        _let_the_inline_attempt_finish(event)
    markers: dict[str, RoomEventMarker | None] = {}
    for room in event.rooms:
        marker = None if fresh else _marker(event, room)
        if marker is not None and not marker.delivered:
            marker = _wait_for_its_publisher(event, room, marker)
        markers[room] = marker
    markers.update(_append(event, [room for room, marker in markers.items() if marker is None]))
    numbered = [marker for marker in markers.values() if marker is not None]
    pending = [marker for marker in numbered if not marker.delivered]
    if pending:
        _deliver(event.studio, [dict(marker.envelope) for marker in pending], raising=True)
        _mark_delivered(pending)
    return [dict(marker.envelope) for marker in numbered]


def _let_the_inline_attempt_finish(event: DomainEvent) -> None:
    """Wait until ``event`` is :data:`INLINE_GRACE_SECONDS` old before the stream numbers it.

    The process that stored the event publishes it at once; a stream consumer that raced it would
    make both take a ``seq`` for the same event (one stays unused: a gap). Events older than the
    grace (every event of a batch after the first, any event after an outage) pass at once.
    """
    age = (clock.now() - clock.parse(event.occurred_at)).total_seconds()
    if 0 <= age < INLINE_GRACE_SECONDS:
        time.sleep(INLINE_GRACE_SECONDS - age)


def _wait_for_its_publisher(event: DomainEvent, room: str, marker: RoomEventMarker) -> RoomEventMarker:
    """Wait (at most until its lease ends) for the process that numbered ``event`` to deliver it.

    Without this, a stream consumer that found a fresh marker would post the envelope while that
    process is posting it too (the same ``seq`` twice on a socket). A process that died leaves its
    lease to run out; the envelope is then posted from here.
    """
    # the lease is wall-clock epoch seconds (shared between processes); the wait is measured on
    # the monotonic clock, so a test that stops keyframe.clock cannot make it endless
    deadline = time.monotonic() + float(marker.lease_until or 0) - clock.epoch()
    while not marker.delivered and time.monotonic() < deadline:
        time.sleep(min(0.25, max(0.0, deadline - time.monotonic())))
        marker = _marker(event, room) or marker
    return marker


def _marker(event: DomainEvent, room: str) -> RoomEventMarker | None:
    try:
        return RoomEventMarker.get(room_key(event.studio, room), f"EVENT#{event.id}", consistent_read=True)
    except RoomEventMarker.DoesNotExist:
        return None


def _append(event: DomainEvent, rooms: list[str]) -> dict[str, RoomEventMarker]:
    """Number ``event`` in each of ``rooms`` and store every room's copy and marker in one transaction.

    One ``seq`` update per room, then one ``TransactWriteItems`` for all the rooms' copies and markers
    (live table), instead of a transaction per room. A room whose marker another publisher wrote first
    keeps that publisher's ``seq`` (the numbers taken here stay unused: gaps that catch-up answers with
    nothing missing); the other rooms are numbered again.

    Returns
    -------
    dict
        Room name -> its marker (the envelope with its ``seq``, ``delivered`` false unless another
        publisher's marker was found).

    Raises
    ------
    keyframe.storage.transactions.Cancelled
        A conflict with another transaction, or a marker that failed its condition but cannot be read.
    """
    if not rooms:
        return {}
    ttl = timedelta(seconds=EVENT_RETENTION_SECONDS)
    lease_until = clock.epoch() + DELIVERY_LEASE_SECONDS
    markers: dict[str, RoomEventMarker] = {}
    tx = Transaction()
    for room in rooms:
        key = room_key(event.studio, room)
        seq = _next_seq(event.studio, room)
        envelope = _room_envelope(event, room, seq)
        markers[room] = marker = RoomEventMarker(
            key, f"EVENT#{event.id}", seq=seq, envelope=envelope, delivered=False, ttl=ttl,
            lease_until=lease_until,
        )  # fmt: skip
        tx.put(f"marker:{room}", marker, condition=RoomEventMarker.pk.does_not_exist())
        tx.put(f"event:{room}", RoomEvent(key, f"SEQ#{seq:012d}", envelope=envelope, ttl=ttl))
    try:
        tx.commit()
    except Cancelled as exc:
        taken = [room for room in rooms if f"marker:{room}" in exc.failed]
        existing = {room: _marker(event, room) for room in taken}
        if not taken or any(marker is None for marker in existing.values()):
            raise
        # another publisher numbered it first in these rooms: its seq stands
        found = {room: marker for room, marker in existing.items() if marker is not None}
        return {**found, **_append(event, [room for room in rooms if room not in found])}
    return markers


def _mark_delivered(markers: list[RoomEventMarker]) -> None:
    """Set ``delivered`` on every marker: one update, or one transaction for several rooms (live table)."""
    if len(markers) == 1:
        markers[0].update(actions=[RoomEventMarker.delivered.set(True)])
        return
    tx = Transaction()
    for marker in markers:
        tx.update(f"delivered:{marker.sk}:{marker.pk}", marker, actions=[RoomEventMarker.delivered.set(True)])
    tx.commit()


def _publish_ephemeral_quietly(event: DomainEvent) -> None:
    """:func:`_publish_ephemeral` after a commit: a failure is logged (the change is stored anyway)."""
    try:
        _publish_ephemeral(event)
    except Exception:
        logger.exception("publishing an ephemeral event failed", extra={"event_type": event.type})


def _publish_ephemeral(event: DomainEvent) -> list[dict[str, Any]]:
    """Presence and other socket-only events: numbered and stored per room, delivered best effort."""
    envelopes = []
    for room in event.rooms:
        seq = _next_seq(event.studio, room)
        envelope = _room_envelope(event, room, seq)
        RoomEvent(
            room_key(event.studio, room),
            f"SEQ#{seq:012d}",
            envelope=envelope,
            ttl=timedelta(seconds=EVENT_RETENTION_SECONDS),
        ).save()
        envelopes.append(envelope)
    _deliver(event.studio, envelopes, raising=False)
    return envelopes


def _deliver(studio_id: str, envelopes: list[dict[str, Any]], *, raising: bool) -> None:
    failure: Exception | None = None
    for deliver in deliverers.registered():
        try:
            deliver(studio_id, envelopes)
        except Exception as exc:  # the room log above is the source of truth for catch-up
            logger.exception("event delivery failed", extra={"event_type": envelopes[0]["type"]})
            failure = failure or exc
    if failure is not None and raising:
        raise failure


def room_events(studio_id: str, room: str, *, after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
    """Envelopes of ``room`` with ``seq > after``, oldest first, at most ``limit`` (live table)."""
    items = RoomEvent.query(
        room_key(studio_id, room),
        RoomEvent.sk.between(f"SEQ#{after + 1:012d}", "SEQ#999999999999"),
        limit=limit,
    )
    return [item.envelope for item in items][:limit]
