"""Connection and room-membership records (live table), the only code that writes them.

A connection is stored on ``$connect`` with the studio, user and role the ticket was bound to, and
joins the ``studio`` room and its member's own room ``user:{userId}`` at once (so every open tab of
a member receives their notifications). ``subscribe``/``unsubscribe`` add and remove memberships;
``$disconnect``, a 410 from ``PostToConnection`` or a member's removal delete them all. Records
expire after ``LIVE_CONNECTION_TTL_SECONDS`` (API Gateway closes a connection after 2 h anyway).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pynamodb.exceptions import PutError

from keyframe import clock
from keyframe.events.rooms import STUDIO_ROOM, user_room
from keyframe.identity.permissions import Principal, Role
from keyframe.live.models import (
    CONNECTION_SK,
    ROOM_PREFIX,
    ConnectionItem,
    MembershipItem,
    connection_pk,
    room_members_key,
    user_connections_key,
)
from keyframe.live.settings import LiveSettings
from keyframe.settings import load


@dataclass(frozen=True)
class ClosedConnection:
    """What a removed connection was: its member and the project and asset rooms it had joined (the
    ``studio`` and ``user:`` rooms, joined by every connection, excluded)."""

    connection_id: str
    studio_id: str
    user_id: str
    rooms: tuple[str, ...]


def principal_of(connection: ConnectionItem) -> Principal:
    """The member behind ``connection`` (studio, user and role verified by the connect ticket)."""
    return Principal(studio_id=connection.studio_id, user_id=connection.user_id, role=Role(connection.role))


def open_connection(
    connection_id: str, principal: Principal, connected_at: datetime | None = None
) -> ConnectionItem:
    """Store connection ``connection_id`` of ``principal`` and join it to the ``studio`` room and to
    the member's room ``user:{userId}``.

    Writes ``CONN#{id}``/``META``, ``CONN#{id}``/``ROOM#studio`` and ``CONN#{id}``/``ROOM#user:{userId}``
    (live table).

    Returns
    -------
    ConnectionItem
        The stored record.
    """
    moment = connected_at or clock.now()
    expiry = moment + timedelta(seconds=load(LiveSettings).LIVE_CONNECTION_TTL_SECONDS)
    connection = ConnectionItem(
        connection_pk(connection_id),
        CONNECTION_SK,
        gsi1pk=user_connections_key(principal.studio_id, principal.user_id),
        gsi1sk=connection_pk(connection_id),
        connection_id=connection_id,
        studio_id=principal.studio_id,
        user_id=principal.user_id,
        role=principal.role.value,
        connected_at=clock.iso(moment),
        ttl=expiry,
    )
    connection.save()
    join_room(connection, STUDIO_ROOM)
    join_room(connection, user_room(principal.user_id))
    return connection


def get_connection(connection_id: str) -> ConnectionItem | None:
    """The record of ``connection_id``, or ``None`` when it is closed or unknown (strong read)."""
    try:
        return ConnectionItem.get(connection_pk(connection_id), CONNECTION_SK, consistent_read=True)
    except ConnectionItem.DoesNotExist:
        return None


def join_room(connection: ConnectionItem, room: str) -> bool:
    """Subscribe ``connection`` to ``room`` (already validated to be in its studio).

    Returns
    -------
    bool
        True when the membership is new, False when the connection was already in the room.
    """
    membership = MembershipItem(
        connection.pk,
        ROOM_PREFIX + room,
        gsi1pk=room_members_key(connection.studio_id, room),
        gsi1sk=connection.pk,
        connection_id=connection.connection_id,
        studio_id=connection.studio_id,
        user_id=connection.user_id,
        room=room,
        joined_at=clock.now_iso(),
        ttl=connection.ttl,
    )
    try:
        membership.save(condition=MembershipItem.pk.does_not_exist())
    except PutError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def leave_room(connection: ConnectionItem, room: str) -> bool:
    """Unsubscribe ``connection`` from ``room``; True when it was a member."""
    try:
        membership = MembershipItem.get(connection.pk, ROOM_PREFIX + room, consistent_read=True)
    except MembershipItem.DoesNotExist:
        return False
    membership.delete()
    return True


def is_member(connection: ConnectionItem, room: str) -> bool:
    """True when ``connection`` has joined ``room``."""
    return (
        MembershipItem.count(connection.pk, MembershipItem.sk == ROOM_PREFIX + room, consistent_read=True) > 0
    )


def rooms_of(connection_id: str) -> list[MembershipItem]:
    """Every membership of ``connection_id`` (the ``studio`` room included)."""
    return list(
        MembershipItem.query(
            connection_pk(connection_id), MembershipItem.sk.startswith(ROOM_PREFIX), consistent_read=True
        )
    )


def close_connection(connection_id: str) -> ClosedConnection | None:
    """Delete ``connection_id``'s record and memberships (its message counters expire by TTL).

    Returns
    -------
    ClosedConnection or None
        What was removed, or ``None`` when the connection was already gone (idempotent).
    """
    connection = get_connection(connection_id)
    memberships = rooms_of(connection_id)
    if connection is None and not memberships:
        return None
    with MembershipItem.batch_write() as batch:
        for membership in memberships:
            batch.delete(membership)
    if connection is not None:
        connection.delete()
    first = connection or memberships[0]
    return ClosedConnection(
        connection_id=connection_id,
        studio_id=first.studio_id,
        user_id=first.user_id,
        rooms=tuple(m.room for m in memberships if m.room not in (STUDIO_ROOM, user_room(first.user_id))),
    )


def room_connection_ids(studio_id: str, room: str) -> list[str]:
    """Ids of the connections subscribed to ``room`` of ``studio_id`` (gsi1, eventually consistent).

    One Query (paged past 1 MB) reading only the two attributes the fan-out needs: a room of 500
    connections is one request, and its answer carries 2 attributes per member instead of every one
    (the emulator's serialiser and botocore's parser cost CPU per attribute)."""
    members = MembershipItem.gsi1.query(
        room_members_key(studio_id, room),
        attributes_to_get=[MembershipItem.connection_id.attr_name, MembershipItem.studio_id.attr_name],
    )
    return [m.connection_id for m in members if m.studio_id == studio_id]


def user_connection_ids(studio_id: str, user_id: str) -> list[str]:
    """Ids of ``user_id``'s open connections in ``studio_id`` (gsi1)."""
    return [
        c.connection_id
        for c in ConnectionItem.gsi1.query(user_connections_key(studio_id, user_id))
        if c.studio_id == studio_id
    ]
