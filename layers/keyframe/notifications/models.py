"""The notification items of the live table (PynamoDB).

- notification: pk ``STUDIO#{sid}#USER#{uid}#NOTIFICATIONS``, sk ``NOTE#{id}``;
  while unread, gsi1 ``STUDIO#{sid}#USER#{uid}#UNREAD`` / ``NOTE#{id}``.
- preferences: the same pk, sk ``PREFERENCES``: ``modes`` maps a notification type to its delivery.

A notification id is time-ordered (16 hex digits of microseconds since the epoch, then 16 random
hex digits), so the partition sorts newest last and a page newest first is one Query read
backwards. The unread index is sparse: reading a notification removes its ``gsi1`` keys, so the
unread count and the unread filter are one Query on the index. Notifications expire after
:data:`RETENTION_DAYS` (``ttl``).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from pynamodb.attributes import JSONAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.models import Model

from keyframe import clock
from keyframe.storage.models import gsi, table_meta
from keyframe.storage.tables import LIVE

NOTE_PREFIX = "NOTE#"
PREFERENCES_SK = "PREFERENCES"
RETENTION_DAYS = 90
"""A notification is kept this long (read or not), then DynamoDB's TTL deletes it."""


def inbox_pk(studio_id: str, user_id: str) -> str:
    """``STUDIO#{sid}#USER#{uid}#NOTIFICATIONS``: a member's inbox partition."""
    return f"STUDIO#{studio_id}#USER#{user_id}#NOTIFICATIONS"


def unread_key(studio_id: str, user_id: str) -> str:
    """gsi1pk of a member's unread notifications: ``STUDIO#{sid}#USER#{uid}#UNREAD``."""
    return f"STUDIO#{studio_id}#USER#{user_id}#UNREAD"


def note_sk(notification_id: str) -> str:
    """``NOTE#{id}``."""
    return f"{NOTE_PREFIX}{notification_id}"


def new_notification_id(now_ns: int | None = None) -> str:
    """A new id: 16 hex digits of microseconds since the epoch + 16 random hex digits (32 chars)."""
    if now_ns is not None:
        micros = now_ns // 1000
    else:
        micros = (clock.now() - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    return f"{micros:016x}{secrets.token_hex(8)}"


class NotificationItem(Model):
    """One notification of one member of one studio. Table: live.

    ``target`` is a JSON object naming what it is about (``projectId``, ``assetId``, ``version``,
    ``commentId``, ``renderJobId``, ``uploadId``); ``read_at`` is empty while unread.
    """

    Meta = table_meta(LIVE)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gsi1 = gsi(LIVE, 1)()
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    notification_id = UnicodeAttribute(attr_name="notificationId")
    studio_id = UnicodeAttribute(attr_name="studioId")
    user_id = UnicodeAttribute(attr_name="userId")
    type = UnicodeAttribute()
    title = UnicodeAttribute()
    body = UnicodeAttribute(null=True)
    actor_id = UnicodeAttribute(null=True, attr_name="actorId")
    actor_name = UnicodeAttribute(null=True, attr_name="actorName")
    target = JSONAttribute(null=True)
    created_at = UnicodeAttribute(attr_name="createdAt")
    read_at = UnicodeAttribute(null=True, attr_name="readAt")
    ttl = TTLAttribute(null=True)


class PreferencesItem(Model):
    """A member's delivery choice per notification type in one studio (types not set: defaults).
    Table: live."""

    Meta = table_meta(LIVE)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default=PREFERENCES_SK)
    modes = JSONAttribute(default=dict)
    time_zone = UnicodeAttribute(null=True, attr_name="timeZone")
    """IANA name of the member's time zone (their digest's day); absent: UTC."""
    updated_at = UnicodeAttribute(null=True, attr_name="updatedAt")
