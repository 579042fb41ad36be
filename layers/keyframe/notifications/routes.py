"""REST routes of your notifications (function ``reviews-api``): the inbox, marking read, delivery
preferences, and the public unsubscribe of e-mail links (``/notifications/unsubscribe``, no token:
the link's signed token is the authority)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from keyframe.http.auth import authorize
from keyframe.http.contract import answers
from keyframe.identity.permissions import Permission
from keyframe.notifications.schemas import (
    MarkRead,
    MarkReadResult,
    NotificationPage,
    Preferences,
    PreferencesUpdate,
    Unsubscribe,
    Unsubscribed,
)

router = Router()


@router.get(
    "/me/notifications",
    tags=["me"],
    summary="Your notifications in this studio, newest first (paginated)",
    operation_id="listNotifications",
    openapi_extensions=answers("INVALID_CURSOR"),
)
def list_notifications(
    unread: Annotated[bool, Query(description="only unread notifications")] = False,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=4096)] = None,
) -> NotificationPage:
    """A page of your notifications with ``unreadCount``; ``nextCursor`` is null on the last page."""
    from keyframe.notifications import inbox

    principal = authorize(Permission.STUDIO_READ)
    return inbox.list_page(
        principal.studio_id, principal.user_id, unread_only=unread, limit=limit, cursor=cursor
    )


@router.post(
    "/me/notifications/read",
    tags=["me"],
    summary="Mark notifications read: some by id, or all",
    operation_id="markNotificationsRead",
    openapi_extensions=answers(),
)
def mark_read(body: MarkRead) -> MarkReadResult:
    """200 with how many were marked and the unread count after; emits ``notification:read`` to
    ``user:{userId}`` so your other tabs update. Unknown or already read ids are ignored."""
    from keyframe.notifications import service

    principal = authorize(Permission.STUDIO_READ)
    marked, unread = service.mark_read(principal.studio_id, principal.user_id, None if body.all else body.ids)
    return MarkReadResult(marked=len(marked), unread_count=unread)


@router.get(
    "/me/notification-preferences",
    tags=["me"],
    summary="How each notification type reaches you in this studio",
    operation_id="getNotificationPreferences",
    openapi_extensions=answers(),
)
def get_preferences() -> Preferences:
    """Every type with ``INBOX``, ``IMMEDIATE`` (an e-mail at once) or ``DIGEST`` (a daily e-mail)."""
    from keyframe.notifications import preferences

    principal = authorize(Permission.STUDIO_READ)
    return Preferences(
        delivery=preferences.delivery(principal.studio_id, principal.user_id),
        time_zone=preferences.time_zone(principal.studio_id, principal.user_id),
    )


@router.patch(
    "/me/notification-preferences",
    tags=["me"],
    summary="Change how some notification types reach you, or your digest's time zone",
    operation_id="updateNotificationPreferences",
    openapi_extensions=answers(),
)
def update_preferences(body: PreferencesUpdate) -> Preferences:
    """200 with every type's delivery and the time zone after the change; types not named keep theirs.
    ``timeZone`` (IANA) sets the day your digest lists; 400 for an unknown zone."""
    from keyframe.notifications import preferences

    principal = authorize(Permission.STUDIO_READ)
    studio_id, user_id = principal.studio_id, principal.user_id
    delivery = preferences.update(studio_id, user_id, body.delivery, body.time_zone)
    return Preferences(delivery=delivery, time_zone=preferences.time_zone(studio_id, user_id))


@router.post(
    "/notifications/unsubscribe",
    tags=["me"],
    summary="Stop e-mail from an unsubscribe link (no sign-in: the link's token)",
    operation_id="unsubscribeNotifications",
    openapi_extensions=answers("INVALID_UNSUBSCRIBE_TOKEN"),
)
def unsubscribe(body: Unsubscribe) -> Unsubscribed:
    """200 with the types now delivered to the inbox only (the link's type, or every type for a
    digest's link); 400 ``INVALID_UNSUBSCRIBE_TOKEN`` for a tampered or malformed token."""
    from keyframe.notifications import preferences

    _, _, kinds = preferences.unsubscribe(body.token)
    return Unsubscribed(types=kinds)
