"""REST shapes of notifications: the inbox page, the read request, preferences."""

from __future__ import annotations

import zoneinfo
from enum import StrEnum
from functools import cache
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from keyframe.schemas import ApiModel, RequestModel

NOTIFICATION_ID_PATTERN = r"^[0-9a-f]{32}$"
MAX_READ_IDS = 100
NotificationId = Annotated[str, Field(pattern=NOTIFICATION_ID_PATTERN)]
"""A notification id: 32 lowercase hex characters."""


class NotificationType(StrEnum):
    """What a notification is about (one preference per type)."""

    MENTION = "mention"
    """You were @mentioned in a comment."""
    REPLY = "reply"
    """Someone replied to your comment."""
    REVIEW = "review"
    """A decision (approved, changes requested) on a version you uploaded."""
    RENDER_FINISHED = "render-finished"
    """A render you requested succeeded."""
    RENDER_FAILED = "render-failed"
    """A render you requested failed."""
    PIPELINE_FAILED = "pipeline-failed"
    """The processing pipeline of your upload failed."""
    NEW_VERSION = "new-version"
    """An asset you favourited has a new version."""


class Delivery(StrEnum):
    """How a notification type reaches you: always the inbox (and your open sockets), plus e-mail."""

    INBOX = "INBOX"
    """Inbox only."""
    IMMEDIATE = "IMMEDIATE"
    """Inbox, and an e-mail at once."""
    DIGEST = "DIGEST"
    """Inbox, and one e-mail a day listing what came in (the daily digest)."""


DEFAULT_DELIVERY: dict[NotificationType, Delivery] = {
    NotificationType.MENTION: Delivery.IMMEDIATE,
    NotificationType.REPLY: Delivery.INBOX,
    NotificationType.REVIEW: Delivery.IMMEDIATE,
    NotificationType.RENDER_FINISHED: Delivery.INBOX,
    NotificationType.RENDER_FAILED: Delivery.IMMEDIATE,
    NotificationType.PIPELINE_FAILED: Delivery.IMMEDIATE,
    NotificationType.NEW_VERSION: Delivery.INBOX,
}
"""What a member gets before choosing: being named or reviewed, and failures, e-mail at once; the
rest in the inbox (no type defaults to the digest while its daily schedule is not deployed)."""


def _known_time_zone(name: str) -> str:
    """``name`` if it is an IANA time zone this runtime knows (``Europe/Paris``, ``UTC``)."""
    if name not in available_time_zones():
        raise ValueError("not a known IANA time zone (e.g. Europe/Paris, America/Los_Angeles, UTC)")
    return name


@cache
def available_time_zones() -> frozenset[str]:
    """Every IANA time zone name of the runtime's zone database (``zoneinfo``, ``tzdata`` on Lambda)."""
    return frozenset(zoneinfo.available_timezones())


TimeZone = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_known_time_zone)]
"""An IANA time zone name."""

DEFAULT_TIME_ZONE = "UTC"


class Preferences(ApiModel):
    """``GET /me/notification-preferences``: the delivery of every notification type in this studio,
    and the time zone of your daily digest."""

    delivery: dict[NotificationType, Delivery] = Field(
        description="notification type -> INBOX, IMMEDIATE (e-mail at once) or DIGEST (a daily e-mail)"
    )
    time_zone: str = Field(
        default=DEFAULT_TIME_ZONE,
        description="IANA time zone of your day: the digest lists one local day and comes the next "
        "morning (about 07:00 local time)",
    )


class PreferencesUpdate(RequestModel):
    """``PATCH /me/notification-preferences``: the types to change (the others keep their delivery)
    and/or your time zone; at least one of the two."""

    delivery: dict[NotificationType, Delivery] | None = Field(default=None, min_length=1)
    time_zone: TimeZone | None = None

    @model_validator(mode="after")
    def _something(self) -> PreferencesUpdate:
        if self.delivery is None and self.time_zone is None:
            raise ValueError("name delivery, timeZone or both")
        return self


class Unsubscribe(RequestModel):
    """``POST /notifications/unsubscribe``: the token of an e-mail's unsubscribe link (no sign-in)."""

    token: str = Field(min_length=10, max_length=1024)


class Unsubscribed(ApiModel):
    """What the unsubscribe link changed: the types now delivered to the inbox only."""

    types: list[NotificationType]


class NotificationTarget(ApiModel):
    """What the notification points at (the fields that apply)."""

    project_id: str | None = None
    asset_id: str | None = None
    version: int | None = None
    comment_id: str | None = None
    render_job_id: str | None = None
    upload_id: str | None = None


class Notification(ApiModel):
    """One notification in your inbox."""

    notification_id: str = Field(description="time-ordered id (32 hex characters)")
    type: NotificationType
    title: str = Field(description="one line, e.g. 'Dora mentioned you on SH020 v3'")
    body: str | None = Field(default=None, description="an excerpt (the comment's text, the error)")
    actor_id: str | None = Field(default=None, description="who caused it (absent for background work)")
    actor_name: str | None = None
    actor_avatar_url: str | None = Field(
        default=None,
        description="the actor's profile picture now, a link valid an hour (in GET /me/notifications pages; "
        "absent without a picture, and in live events)",
    )
    target: NotificationTarget
    created_at: str
    read: bool
    read_at: str | None = None


class NotificationPage(ApiModel):
    """``GET /me/notifications``: newest first; ``nextCursor`` is null on the last page."""

    items: list[Notification]
    next_cursor: str | None = None
    unread_count: int = Field(ge=0, description="your unread notifications in this studio")


class MarkRead(RequestModel):
    """``POST /me/notifications/read``: ``{"ids": [...]}`` or ``{"all": true}``, exactly one."""

    ids: list[NotificationId] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_READ_IDS,
        description=f"notification ids to mark read (1 to {MAX_READ_IDS}); unknown ids are ignored",
    )
    all: Literal[True] | None = Field(default=None, description="mark every notification read")

    @model_validator(mode="after")
    def _exactly_one(self) -> MarkRead:
        if (self.ids is None) == (self.all is None):
            raise ValueError("give either 'ids' or 'all': true")
        return self


class NotificationsRead(ApiModel):
    """``notification:read`` event data: ids just marked read (by any of your tabs) and the count after."""

    ids: list[str]
    unread_count: int = Field(ge=0)


class MarkReadResult(ApiModel):
    """What ``POST /me/notifications/read`` changed."""

    marked: int = Field(ge=0, description="notifications that were unread and are now read")
    unread_count: int = Field(ge=0)
