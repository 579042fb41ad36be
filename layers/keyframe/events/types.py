"""The one list of domain event types: what rooms, webhooks, analytics and AsyncAPI call a change.

Every event :func:`keyframe.events.publisher.emit` sends has a type from :class:`EventType`: the live
socket's envelope ``type``, the webhook payload's ``type``, the analytics record's ``type`` and the
AsyncAPI message names are these strings, and nothing else. Names are ``noun:verb`` (``asset:created``,
``render:status``); the noun is what changed, the verb what happened to it.

Socket contract: these are exactly the names the live socket has always sent (version 1 of the live
API), so no client breaks. Where the activity log named the same change differently (``comment:added``
for ``asset:commented``, ``version:reviewed`` for ``asset:approved`` / ``asset:changes-requested``),
:data:`ACTIVITY_ALIASES` maps the old activity action to the event type; new activity entries of a
change that has an event use the event type, and a rename of a live type would be a version 2 of the
socket (a ``?v=2`` query on the ticket URL, with the old names kept for ``v=1``), which nothing needs yet.

:data:`DURABLE` is the subset written to the outbox (:mod:`keyframe.outbox`) and therefore delivered
to webhooks and analytics; presence is ephemeral and goes to sockets only.
"""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    """Every domain event type (the ``type`` of an envelope, a webhook payload and an analytics record)."""

    PROJECT_CREATED = "project:created"
    PROJECT_UPDATED = "project:updated"
    PROJECT_ARCHIVED = "project:archived"
    ASSET_CREATED = "asset:created"
    ASSET_UPDATED = "asset:updated"
    ASSET_ARCHIVED = "asset:archived"
    ASSET_RESTORED = "asset:restored"
    ASSET_ROLLBACK = "asset:rollback"
    ASSET_DEPENDENCY_UPDATED = "asset:dependency-updated"
    ASSET_COMMENTED = "asset:commented"
    ASSET_APPROVED = "asset:approved"
    ASSET_CHANGES_REQUESTED = "asset:changes-requested"
    COMMENT_UPDATED = "comment:updated"
    COMMENT_RESOLVED = "comment:resolved"
    COMMENT_REOPENED = "comment:reopened"
    VERSION_PUBLISHED = "version:published"
    VERSION_READY = "version:ready"
    VERSION_FAILED = "version:failed"
    VERSION_UPDATED = "version:updated"
    DEPENDENCY_ADDED = "dependency:added"
    DEPENDENCY_UPDATED = "dependency:updated"
    DEPENDENCY_REMOVED = "dependency:removed"
    PIPELINE_UPDATE = "pipeline:update"
    RENDER_STATUS = "render:status"
    RENDER_PROGRESS = "render:progress"
    RENDER_POLICY_CREATED = "render-policy:created"
    RENDER_POLICY_UPDATED = "render-policy:updated"
    RENDER_POLICY_DELETED = "render-policy:deleted"
    ASSET_RERENDER_QUEUED = "asset:rerender-queued"
    UPLOAD_STARTED = "upload:started"
    UPLOAD_COMPLETED = "upload:completed"
    UPLOAD_ABORTED = "upload:aborted"
    MEMBER_JOINED = "member:joined"
    MEMBER_INVITED = "member:invited"
    MEMBER_ROLE_CHANGED = "member:role-changed"
    MEMBER_REMOVED = "member:removed"
    MEMBER_INVITATION_REVOKED = "member:invitation-revoked"
    MEMBER_LEFT = "member:left"
    STUDIO_OWNERSHIP_TRANSFERRED = "studio:ownership-transferred"
    WEBHOOK_CREATED = "webhook:created"
    WEBHOOK_UPDATED = "webhook:updated"
    WEBHOOK_DELETED = "webhook:deleted"
    WEBHOOK_DISABLED = "webhook:disabled"
    NOTIFICATION_CREATED = "notification:created"
    NOTIFICATION_READ = "notification:read"
    PRESENCE_JOIN = "presence:join"
    PRESENCE_UPDATE = "presence:update"
    PRESENCE_LEAVE = "presence:leave"


EPHEMERAL: frozenset[str] = frozenset(
    {
        EventType.PRESENCE_JOIN,
        EventType.PRESENCE_UPDATE,
        EventType.PRESENCE_LEAVE,
        EventType.NOTIFICATION_CREATED,
        EventType.NOTIFICATION_READ,
    }
)
"""Types that are not studio changes: a connection's presence, and a member's own notification pushes
(their inbox, ``keyframe.notifications``, is their durable record). Sockets only, never the outbox,
never webhooks."""

DURABLE: frozenset[str] = frozenset(t.value for t in EventType) - EPHEMERAL
"""Types written to the outbox and delivered to rooms, webhooks and analytics from it."""

ACTIVITY_ALIASES: dict[str, tuple[EventType, ...]] = {
    "comment:added": (EventType.ASSET_COMMENTED,),
    "comment:edited": (EventType.COMMENT_UPDATED,),
    "version:reviewed": (EventType.ASSET_APPROVED, EventType.ASSET_CHANGES_REQUESTED),
    "render:requested": (EventType.RENDER_STATUS,),
    "render:retried": (EventType.RENDER_STATUS,),
}
"""Activity actions that name a change differently from its event -> the event type(s) of that change.

``GET /activity`` is a REST contract of its own and keeps these actions (``version:reviewed`` carries
the decision in ``details``; the event type spells it). A client that reads both the activity log and
events maps the actions with this table; every other activity action *is* the event type, except
``render:not-queued`` (an automatic render that was refused: nothing changed, so no event).
"""


def is_durable(event_type: str) -> bool:
    """True when ``event_type`` goes through the outbox (every type but presence and unknown ones)."""
    return event_type in DURABLE
