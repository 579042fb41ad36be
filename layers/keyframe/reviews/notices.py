"""Who hears about a comment or a decision: the notifications reviews produce.

Called by :mod:`keyframe.reviews.service` after the change is committed and its room event emitted
(:func:`keyframe.notifications.service.notify` applies the rules: never the actor, only members):

- a comment that @mentions members notifies each of them (``mention``); an edit notifies only the
  members it newly mentions;
- a reply notifies the author of the comment it answers (``reply``), unless the reply already
  mentioned them;
- a decision notifies the member who published the version (``review``).
"""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import DoesNotExist

from keyframe.catalog.models import ASSET_SK, AssetItem, asset_pk
from keyframe.identity.permissions import Principal
from keyframe.notifications.mentions import resolve
from keyframe.notifications.schemas import NotificationType
from keyframe.notifications.service import notify
from keyframe.reviews.schemas import Comment, Decision, Mention, Review

_DECISION_WORDS = {Decision.APPROVED: "approved", Decision.CHANGES_REQUESTED: "requested changes on"}


def mentions_in(studio_id: str, body: str) -> list[dict[str, str]]:
    """The stored form of the members ``body`` mentions: ``[{"userId", "displayName"}]``."""
    return [
        Mention(user_id=m.user_id, display_name=m.display_name).to_json() for m in resolve(studio_id, body)
    ]


def _where(studio_id: str, asset_id: str, version: int) -> str:
    """``SH020 v3`` (the asset's name and the version), or ``v3`` when the asset cannot be read."""
    try:  # a plain read: a title never fails the change that caused it
        return f"{AssetItem.get(asset_pk(studio_id, asset_id), ASSET_SK).name} v{version}"
    except DoesNotExist:
        return f"v{version}"


def _target(comment: Comment) -> dict[str, Any]:
    return {
        "projectId": comment.project_id,
        "assetId": comment.asset_id,
        "version": comment.version,
        "commentId": comment.comment_id,
    }


def comment_added(
    principal: Principal,
    comment: Comment,
    *,
    parent_author_id: str | None = None,
    mentioned_before: frozenset[str] = frozenset(),
) -> None:
    """Notify the members ``comment`` mentions (except those in ``mentioned_before``) and, for a
    reply, the author of the parent comment."""
    mentioned = [m.user_id for m in comment.mentions if m.user_id not in mentioned_before]
    replied = [parent_author_id] if parent_author_id and parent_author_id not in mentioned else []
    if not (mentioned or replied):
        return
    actor = comment.author_name or "Someone"
    where = _where(principal.studio_id, comment.asset_id, comment.version)
    common: dict[str, Any] = {
        "body": comment.body,
        "actor_id": principal.user_id,
        "actor_name": comment.author_name,
        "target": _target(comment),
    }
    if mentioned:
        notify(
            principal.studio_id,
            mentioned,
            NotificationType.MENTION,
            title=f"{actor} mentioned you on {where}",
            **common,
        )
    if replied:
        notify(
            principal.studio_id,
            replied,
            NotificationType.REPLY,
            title=f"{actor} replied to your comment on {where}",
            **common,
        )


def decided(
    principal: Principal, review: Review, *, publisher_id: str | None, actor_name: str | None
) -> None:
    """Notify the member who published the reviewed version (``publisher_id``) of the decision."""
    where = _where(principal.studio_id, review.asset_id, review.version)
    notify(
        principal.studio_id,
        [publisher_id],
        NotificationType.REVIEW,
        title=f"{actor_name or 'A reviewer'} {_DECISION_WORDS[review.decision]} {where}",
        body=review.note,
        actor_id=principal.user_id,
        actor_name=actor_name,
        target={"projectId": review.project_id, "assetId": review.asset_id, "version": review.version},
    )
