"""Presence: who is looking at a project or an asset, and at which frame.

``presence:join`` when a connection subscribes to a ``project:`` or ``asset:`` room,
``presence:update`` when it reports the frame it is on, ``presence:leave`` when it unsubscribes,
disconnects, goes away (410) or is closed because its member was removed. The ``studio`` room gets
no presence events (every connection is in it; it would double the traffic of every login).

Presence events go through the one publisher like every other event, so they carry the room's
``seq`` and a client that catches up sees them too. Data::

    {"userId": "…", "presenceId": "…", "frame": 120}

``presenceId`` tells two tabs of the same user apart without revealing the connection id.
"""

from __future__ import annotations

import hashlib
from typing import Any

from keyframe.events import publisher
from keyframe.live.connections import ClosedConnection
from keyframe.live.models import ConnectionItem


def presence_id(connection_id: str) -> str:
    """A stable, non-reversible 16-hex-character id of a connection for other clients."""
    return hashlib.sha256(connection_id.encode()).hexdigest()[:16]


def _data(user_id: str, connection_id: str, frame: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"userId": user_id, "presenceId": presence_id(connection_id)}
    if frame is not None:
        data["frame"] = frame
    return data


def announce_join(connection: ConnectionItem, room: str) -> list[dict[str, Any]]:
    """Emit ``presence:join`` to ``room``; returns the envelopes."""
    return publisher.emit(
        connection.studio_id,
        "presence:join",
        _data(connection.user_id, connection.connection_id),
        rooms=[room],
    )


def announce_update(connection: ConnectionItem, room: str, frame: int | None) -> list[dict[str, Any]]:
    """Emit ``presence:update`` (the frame the member is on) to ``room``."""
    return publisher.emit(
        connection.studio_id,
        "presence:update",
        _data(connection.user_id, connection.connection_id, frame),
        rooms=[room],
    )


def announce_room_leave(connection: ConnectionItem, room: str) -> list[dict[str, Any]]:
    """Emit ``presence:leave`` to one room the connection left."""
    return publisher.emit(
        connection.studio_id,
        "presence:leave",
        _data(connection.user_id, connection.connection_id),
        rooms=[room],
    )


def announce_leave(closed: ClosedConnection) -> list[dict[str, Any]]:
    """Emit ``presence:leave`` to every room a closed connection had joined (none: nothing)."""
    if not closed.rooms:
        return []
    return publisher.emit(
        closed.studio_id, "presence:leave", _data(closed.user_id, closed.connection_id), rooms=closed.rooms
    )
