"""The live table's WebSocket items (PynamoDB). Room event logs belong to ``keyframe.events``.

- ticket: pk ``TICKET#{sha256(ticket)}``, sk ``TICKET``.
- connection: pk ``CONN#{connectionId}``, sk ``META``;
  gsi1 ``STUDIO#{sid}#USERCONN#{userId}`` / ``CONN#{connectionId}`` (a member's connections).
- room membership: pk ``CONN#{connectionId}``, sk ``ROOM#{room}``;
  gsi1 ``STUDIO#{sid}#ROOMCONN#{room}`` / ``CONN#{connectionId}`` (a room's connections).
- message counter: pk ``CONN#{connectionId}``, sk ``RATE#{epochSecond}``.

A connection's items share its partition, so ``$disconnect`` finds them all with one Query. The
room index lists a room's connections (the ``studio`` room holds every connection of the studio:
each connection joins it on connect) and the user index a member's connections in one studio. Every
index key starts with ``STUDIO#{studioId}``: a room of another studio is a different key.
Tickets, connections and counters carry ``ttl`` (epoch seconds); the code checks expiry itself too.
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.models import Model

from keyframe.storage.models import gsi, table_meta
from keyframe.storage.tables import LIVE

TICKET_SK = "TICKET"
CONNECTION_SK = "META"
ROOM_PREFIX = "ROOM#"
RATE_PREFIX = "RATE#"


def ticket_pk(ticket_hash: str) -> str:
    """``TICKET#{sha256 hex of the ticket}``."""
    return f"TICKET#{ticket_hash}"


def connection_pk(connection_id: str) -> str:
    """``CONN#{connectionId}``: the partition of a connection's items."""
    return f"CONN#{connection_id}"


def room_members_key(studio_id: str, room: str) -> str:
    """gsi1pk of a room's memberships: ``STUDIO#{sid}#ROOMCONN#{room}``."""
    return f"STUDIO#{studio_id}#ROOMCONN#{room}"


def user_connections_key(studio_id: str, user_id: str) -> str:
    """gsi1pk of a member's connections in a studio: ``STUDIO#{sid}#USERCONN#{userId}``."""
    return f"STUDIO#{studio_id}#USERCONN#{user_id}"


class TicketItem(Model):
    """A connect ticket: only its hash is stored; consumed by a conditional delete."""

    Meta = table_meta(LIVE)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default=TICKET_SK)
    studio_id = UnicodeAttribute(attr_name="studioId")
    user_id = UnicodeAttribute(attr_name="userId")
    role = UnicodeAttribute()
    expires_at = NumberAttribute(attr_name="expiresAt")
    ttl = TTLAttribute(null=True)


class ConnectionItem(Model):
    """An open WebSocket connection of a member (studio, user, role as verified on connect)."""

    Meta = table_meta(LIVE)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default=CONNECTION_SK)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi1 = gsi(LIVE, 1)()
    connection_id = UnicodeAttribute(attr_name="connectionId")
    studio_id = UnicodeAttribute(attr_name="studioId")
    user_id = UnicodeAttribute(attr_name="userId")
    role = UnicodeAttribute()
    connected_at = UnicodeAttribute(attr_name="connectedAt")
    ttl = TTLAttribute(null=True)


class MembershipItem(Model):
    """A connection's subscription to a room (the ``studio`` room included)."""

    Meta = table_meta(LIVE)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi1 = gsi(LIVE, 1)()
    connection_id = UnicodeAttribute(attr_name="connectionId")
    studio_id = UnicodeAttribute(attr_name="studioId")
    user_id = UnicodeAttribute(attr_name="userId")
    room = UnicodeAttribute()
    joined_at = UnicodeAttribute(attr_name="joinedAt")
    ttl = TTLAttribute(null=True)


class MessageCounterItem(Model):
    """Messages received from one connection in one wall-clock second (throttling): ``hits``
    counted, ``refused`` over the limit."""

    Meta = table_meta(LIVE)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    hits = NumberAttribute(default=0)
    refused = NumberAttribute(null=True)
    ttl = TTLAttribute(null=True)
