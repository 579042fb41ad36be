"""The one publisher of domain events.

Every write that others should see (``asset:created``, ``pipeline:update``, ``render:progress`` ...)
calls :func:`emit`. An event goes to one or more rooms (``studio``, ``project:{id}``,
``asset:{id}``); in each room it gets the next ``seq`` (1, 2, 3 … per room, atomically) and is stored
for 24 hours in the live table so a client that missed some can catch up. Then the registered
deliverers push it on. This module knows no delivery target: a target registers itself with
:func:`register_deliverer` at its process's start (the WebSocket fan-out does so through
:func:`keyframe.live.fanout.install`, called by every handler and container entrypoint).

Envelope (what clients receive)::

    {"type": "asset:commented", "room": "asset:123", "seq": 42, "ts": "2026-…Z",
     "correlationId": "…", "data": {...}}
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.attributes import JSONAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.models import Model

from keyframe.observability import logger
from keyframe.storage.models import table_meta
from keyframe.storage.tables import LIVE

EVENT_RETENTION_SECONDS = 24 * 3600

Deliverer = Callable[[str, list[dict[str, Any]]], None]
"""``deliver(studio_id, envelopes)``: pushes envelopes to connected clients."""

_deliverers: list[Deliverer] = []


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


def register_deliverer(deliverer: Deliverer) -> None:
    """Add a fan-out target (idempotent: the same callable is registered once)."""
    if deliverer not in _deliverers:
        _deliverers.append(deliverer)


def _next_seq(studio_id: str, room: str) -> int:
    counter = RoomCounter(room_key(studio_id, room), "COUNTER")
    counter.update(actions=[RoomCounter.last_seq.add(1)])
    return int(counter.last_seq)


def emit(
    studio_id: str,
    event_type: str,
    data: dict[str, Any],
    *,
    rooms: Iterable[str],
) -> list[dict[str, Any]]:
    """Record ``event_type`` with ``data`` in each of ``rooms`` of ``studio_id`` and deliver it.

    Parameters
    ----------
    studio_id:
        The studio the event belongs to; it is never delivered outside it.
    event_type:
        ``noun:verb`` name, e.g. ``asset:created``.
    data:
        JSON-serialisable payload.
    rooms:
        Room names from :mod:`keyframe.events.rooms` (duplicates ignored).

    Returns
    -------
    list of dict
        One envelope per room, as stored and delivered.
    """
    correlation_id = logger.get_correlation_id()
    now = datetime.now(UTC)
    envelopes = []
    for room in dict.fromkeys(rooms):
        seq = _next_seq(studio_id, room)
        envelope = {
            "type": event_type,
            "room": room,
            "seq": seq,
            "ts": now.isoformat().replace("+00:00", "Z"),
            "correlationId": correlation_id,
            "data": data,
        }
        RoomEvent(
            room_key(studio_id, room),
            f"SEQ#{seq:012d}",
            envelope=envelope,
            ttl=timedelta(seconds=EVENT_RETENTION_SECONDS),
        ).save()
        envelopes.append(envelope)
    for deliver in list(_deliverers):
        try:
            deliver(studio_id, envelopes)
        except Exception:  # delivery is best effort; the log above is the source of truth
            logger.exception("event delivery failed", extra={"event_type": event_type})
    return envelopes


def room_events(studio_id: str, room: str, *, after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
    """Envelopes of ``room`` with ``seq > after``, oldest first, at most ``limit`` (live table)."""
    items = RoomEvent.query(
        room_key(studio_id, room),
        RoomEvent.sk > f"SEQ#{after:012d}",
        limit=limit,
    )
    return [item.envelope for item in items][:limit]
