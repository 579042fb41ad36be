"""The inbox store: add, list, mark read, count unread (live table, :mod:`.models`).

Only storage lives here (no identity, no delivery), so the identity domain's ``GET /me`` can show
the unread count without depending on who produces notifications. Every function takes the studio
and the user: a member's inbox is one partition keyed by both, so another member's or another
studio's notification is simply not found.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from pynamodb.exceptions import UpdateError

from keyframe.clock import now_iso
from keyframe.errors import InvalidInput
from keyframe.identity import avatar_links
from keyframe.notifications.models import (
    NOTE_PREFIX,
    RETENTION_DAYS,
    NotificationItem,
    inbox_pk,
    new_notification_id,
    note_sk,
    unread_key,
)
from keyframe.notifications.schemas import (
    Notification,
    NotificationPage,
    NotificationTarget,
    NotificationType,
)
from keyframe.storage import cursors
from keyframe.storage.pages import index_key_names, query_page, readable

MAX_PAGE = 100
UNREAD_COUNT_CAP = 1000
"""The unread count stops counting here (a badge shows "999+"); one Query reads at most this many."""


def to_notification(item: NotificationItem) -> Notification:
    """The API shape of a stored notification."""
    return Notification(
        notification_id=item.notification_id,
        type=NotificationType(item.type),
        title=item.title,
        body=item.body,
        actor_id=item.actor_id,
        actor_name=item.actor_name,
        target=NotificationTarget.model_validate(item.target or {}),
        created_at=item.created_at,
        read=item.read_at is not None,
        read_at=item.read_at,
    )


def add(
    studio_id: str,
    user_id: str,
    kind: NotificationType,
    *,
    title: str,
    body: str | None = None,
    actor_id: str | None = None,
    actor_name: str | None = None,
    target: Mapping[str, Any] | None = None,
) -> Notification:
    """Store one unread notification for ``user_id`` in ``studio_id`` (one PutItem, live table).

    ``target`` holds the ids it points at (``projectId``, ``assetId``, ``version``, ``commentId``,
    ``renderJobId``, ``uploadId``; ``None`` values dropped). Kept :data:`RETENTION_DAYS` days.

    Returns
    -------
    Notification
        The stored notification (unread).
    """
    notification_id = new_notification_id()
    sk = note_sk(notification_id)
    item = NotificationItem(
        inbox_pk(studio_id, user_id),
        sk,
        gsi1pk=unread_key(studio_id, user_id),
        gsi1sk=sk,
        notification_id=notification_id,
        studio_id=studio_id,
        user_id=user_id,
        type=kind.value,
        title=title,
        body=body,
        actor_id=actor_id,
        actor_name=actor_name,
        target={k: v for k, v in (target or {}).items() if v is not None},
        created_at=now_iso(),
        ttl=timedelta(days=RETENTION_DAYS),
    )
    item.save()
    return to_notification(item)


def unread_count(studio_id: str, user_id: str) -> int:
    """How many notifications of ``user_id`` in ``studio_id`` are unread (at most
    :data:`UNREAD_COUNT_CAP`); one Query with ``Select=COUNT`` on the sparse unread index (gsi1)."""
    return int(NotificationItem.gsi1.count(unread_key(studio_id, user_id), limit=UNREAD_COUNT_CAP))


def list_page(
    studio_id: str,
    user_id: str,
    *,
    unread_only: bool = False,
    limit: int = 50,
    cursor: str | None = None,
) -> NotificationPage:
    """A page of the member's notifications, newest first (one Query of the inbox or the unread index;
    one BatchGetItem of the actors, tenants table, for their ``actorAvatarUrl``).

    The cursor is signed for the studio and bound to this user and filter
    (:mod:`keyframe.storage.cursors`), so it cannot page another member's inbox.

    Raises
    ------
    InvalidInput
        ``INVALID_CURSOR``: tampered, or issued for another member, studio or filter.
    """
    scope = cursors.scope_of(f"users/{user_id}/notifications", unread=unread_only or None)
    start = cursors.decode(cursor, studio_id=studio_id, scope=scope)
    index = "gsi1" if unread_only else None
    hash_key = unread_key(studio_id, user_id) if unread_only else inbox_pk(studio_id, user_id)
    if start is not None and (start.get(f"{index}pk" if index else "pk") or {}).get("S") != hash_key:
        raise InvalidInput("The cursor belongs to another query", code="INVALID_CURSOR")
    condition = NotificationItem.sk.startswith(NOTE_PREFIX) if index is None else None
    page = query_page(
        NotificationItem,
        hash_key,
        index=index,
        range_key_condition=condition,
        forward=False,
        limit=max(1, min(limit, MAX_PAGE)),
        start_key=start,
        key_names=index_key_names(index),
    )
    items = readable(page.items, to_notification, "notification")
    actors = {n.actor_id for n in items if n.actor_id}
    pictures = avatar_links.avatar_urls(actors) if actors else {}  # one BatchGetItem (tenants)
    items = [
        n.model_copy(update={"actor_avatar_url": pictures.get(n.actor_id)}) if n.actor_id in pictures else n
        for n in items
    ]
    next_cursor = cursors.encode(page.next_key, studio_id=studio_id, scope=scope) if page.next_key else None
    return NotificationPage(
        items=items, next_cursor=next_cursor, unread_count=unread_count(studio_id, user_id)
    )


def _mark(studio_id: str, user_id: str, notification_id: str, read_at: str) -> bool:
    """Mark one notification read; False when it is unknown or already read (conditional update)."""
    item = NotificationItem(inbox_pk(studio_id, user_id), note_sk(notification_id))
    try:
        item.update(
            actions=[
                NotificationItem.read_at.set(read_at),
                NotificationItem.gsi1pk.remove(),
                NotificationItem.gsi1sk.remove(),
            ],
            condition=NotificationItem.pk.exists() & NotificationItem.read_at.does_not_exist(),
        )
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def mark_read(studio_id: str, user_id: str, ids: Iterable[str] | None = None) -> list[str]:
    """Mark ``ids`` (or, with ``ids=None``, every unread notification) of the member read.

    One conditional UpdateItem per notification (live table): unknown ids, another member's ids and
    notifications already read are left alone, so the call can be repeated safely.

    Returns
    -------
    list of str
        The ids that were unread and are now read.
    """
    read_at = now_iso()
    if ids is None:
        ids = [hit.notification_id for hit in NotificationItem.gsi1.query(unread_key(studio_id, user_id))]
    return [nid for nid in dict.fromkeys(ids) if _mark(studio_id, user_id, nid, read_at)]
