"""Producing notifications: :func:`notify`, the one entry point of every producer.

Producers call it right after their change is committed (a function call from the domain change,
like :func:`keyframe.events.publisher.emit`):

=====================  =========================================================  ====================
type                   producer                                                   recipient
=====================  =========================================================  ====================
``mention``            :func:`keyframe.reviews.service.add_comment`               each member @named
``reply``              same                                                       the parent's author
``review``             :func:`keyframe.reviews.service.decide`                    the version's uploader
``render-finished``    :mod:`keyframe.renders.service` (a job SUCCEEDED)          the requester
``render-failed``      same (a job FAILED)                                        the requester
``pipeline-failed``    :mod:`keyframe.pipeline.tasks` (MarkFailed)                the uploader
=====================  =========================================================  ====================

Rules, whoever calls: the actor is never notified of their own action; only a current member of
the studio is notified (someone who left, or a user of another studio, gets nothing); a recipient
named twice gets one notification. Each notification is stored in the recipient's inbox
(:mod:`keyframe.notifications.inbox`), emitted as ``notification:created`` to their room
``user:{userId}``, which every socket of theirs joined on connect, and, as the recipient chose for
its type (:mod:`keyframe.notifications.preferences`), e-mailed at once or queued for the daily
digest (:mod:`keyframe.notifications.emails`). Delivery is best effort after the
change: a failure is logged and never undoes or fails the change that caused it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from keyframe.events.publisher import emit
from keyframe.events.rooms import user_room
from keyframe.identity.models import MembershipItem, get_or_none, member_sk, studio_pk
from keyframe.notifications import emails, inbox, preferences
from keyframe.notifications.schemas import Delivery, Notification, NotificationType
from keyframe.observability import logger

CREATED_EVENT = "notification:created"
READ_EVENT = "notification:read"
MAX_BODY_CHARS = 280
"""A notification's ``body`` is an excerpt: longer text is cut here with an ellipsis."""


def excerpt(text: str | None, limit: int = MAX_BODY_CHARS) -> str | None:
    """``text`` cut to ``limit`` characters (an ellipsis marks a cut); ``None`` stays ``None``."""
    if text is None:
        return None
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def is_member(studio_id: str, user_id: str) -> bool:
    """True when ``user_id`` is a member of ``studio_id`` now (tenants table, one GetItem)."""
    return get_or_none(MembershipItem, studio_pk(studio_id), member_sk(user_id)) is not None


def notify(
    studio_id: str,
    recipients: Iterable[str | None],
    kind: NotificationType,
    *,
    title: str,
    body: str | None = None,
    actor_id: str | None = None,
    actor_name: str | None = None,
    target: Mapping[str, Any] | None = None,
) -> list[Notification]:
    """Notify each of ``recipients`` (user ids; ``None`` and duplicates ignored) in ``studio_id``.

    Skips the actor and anyone who is not a member of the studio now. For each other recipient:
    stores the notification (live table), emits ``notification:created`` (its ``data`` is the
    :class:`~keyframe.notifications.schemas.Notification`) to the room ``user:{userId}``, then
    e-mails it (SES) or queues it for the digest according to the recipient's preference.

    Parameters
    ----------
    title:
        One line naming what happened and where (``"Dora mentioned you on SH020 v3"``).
    body:
        An excerpt (cut to :data:`MAX_BODY_CHARS`).
    target:
        The ids it points at (``projectId``, ``assetId``, ``version``, ``commentId``,
        ``renderJobId``, ``uploadId``).

    Returns
    -------
    list of Notification
        The notifications stored (one per recipient notified). Never raises: a recipient whose
        notification fails is logged (ERROR) and skipped.
    """
    sent: list[Notification] = []
    for user_id in dict.fromkeys(r for r in recipients if r):
        if user_id == actor_id:
            continue
        try:
            if not is_member(studio_id, user_id):
                continue
            note = inbox.add(
                studio_id,
                user_id,
                kind,
                title=title,
                body=excerpt(body),
                actor_id=actor_id,
                actor_name=actor_name,
                target=target,
            )
            emit(studio_id, CREATED_EVENT, note.to_json(), rooms=[user_room(user_id)])
            sent.append(note)
            _by_mail(studio_id, user_id, note)
        except Exception:  # best effort: the change that caused it is already committed
            logger.exception("notification failed", extra={"notification_type": kind.value})
    return sent


def _by_mail(studio_id: str, user_id: str, note: Notification) -> None:
    """E-mail ``note`` at once or queue it for the daily digest, as the member chose for its type."""
    delivery = preferences.delivery_of(studio_id, user_id, note.type)
    if delivery is Delivery.IMMEDIATE:
        emails.send_now(studio_id, user_id, note)
    elif delivery is Delivery.DIGEST:
        emails.queue_for_digest(studio_id, user_id, note)


def mark_read(studio_id: str, user_id: str, ids: Iterable[str] | None = None) -> tuple[list[str], int]:
    """Mark notifications read (``ids``, or all with ``None``) and tell the member's other sockets.

    Emits ``notification:read`` (``{"ids", "unreadCount"}``) to ``user:{userId}`` when anything
    changed, so every open tab updates its badge.

    Returns
    -------
    tuple
        The ids newly marked read, and the unread count after.
    """
    marked = inbox.mark_read(studio_id, user_id, ids)
    unread = inbox.unread_count(studio_id, user_id)
    if marked:
        emit(studio_id, READ_EVENT, {"ids": marked, "unreadCount": unread}, rooms=[user_room(user_id)])
    return marked, unread
