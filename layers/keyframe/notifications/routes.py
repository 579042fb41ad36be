"""REST routes of your notifications (function ``reviews-api``): the inbox and marking read."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from keyframe.http.auth import authorize
from keyframe.http.contract import answers
from keyframe.identity.permissions import Permission
from keyframe.notifications import inbox, service
from keyframe.notifications.schemas import MarkRead, MarkReadResult, NotificationPage

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
    principal = authorize(Permission.STUDIO_READ)
    marked, unread = service.mark_read(principal.studio_id, principal.user_id, None if body.all else body.ids)
    return MarkReadResult(marked=len(marked), unread_count=unread)
