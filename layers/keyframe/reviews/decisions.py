"""Review decisions on a version: approve or request changes, and list them.

See :mod:`keyframe.reviews.service` for the events and the transaction. Tables: the live table
(decision records), the catalog table (the version's ``reviewStatus``, the asset's status, the
``version:reviewed`` activity entry, through :func:`keyframe.catalog.versions.set_review_status`).
"""

from __future__ import annotations

import uuid
from typing import Any

from keyframe.catalog import versions
from keyframe.catalog.vocabulary import VersionStatus
from keyframe.clock import now_iso
from keyframe.errors import Conflict
from keyframe.events.publisher import publish_now
from keyframe.events.types import EventType
from keyframe.identity.permissions import Permission, Principal, require
from keyframe.outbox.records import OutboxItem
from keyframe.reviews import notices
from keyframe.reviews.common import display_name, domain_event, rooms_of, version_of
from keyframe.reviews.models import REVIEW_PREFIX, ReviewItem, version_pk
from keyframe.reviews.schemas import Decision, Review, ReviewCreate, ReviewList

DECISION_EVENTS: dict[Decision, str] = {
    Decision.APPROVED: EventType.ASSET_APPROVED,
    Decision.CHANGES_REQUESTED: EventType.ASSET_CHANGES_REQUESTED,
}


def to_review(item: ReviewItem) -> Review:
    """The API shape of a decision item."""
    return Review(
        review_id=item.review_id,
        asset_id=item.asset_id,
        version=int(item.version),
        project_id=item.project_id,
        decision=Decision(item.decision),
        note=item.note,
        reviewer_id=item.reviewer_id,
        reviewer_role=item.reviewer_role,
        created_at=item.created_at,
    )


def _decision_records(studio_id: str, asset_id: str, version: int) -> list[ReviewItem]:
    """Every decision record of a version, oldest first (live table, one consistent Query)."""
    return list(
        ReviewItem.query(
            version_pk(studio_id, asset_id, version),
            ReviewItem.sk.startswith(REVIEW_PREFIX),
            consistent_read=True,
        )
    )


def _decision_record(principal: Principal, target: Any, request: ReviewCreate) -> ReviewItem:
    """The decision record to store (live table), not written yet."""
    created_at = now_iso()
    review_id = uuid.uuid4().hex
    return ReviewItem(
        version_pk(principal.studio_id, target.asset_id, target.version),
        f"{REVIEW_PREFIX}{created_at}#{review_id}",
        review_id=review_id,
        studio_id=principal.studio_id,
        project_id=target.project_id,
        asset_id=target.asset_id,
        version=int(target.version),
        decision=request.decision.value,
        note=request.note,
        reviewer_id=principal.user_id,
        reviewer_role=principal.role.value,
        created_at=created_at,
    )


def decide(principal: Principal, asset_id: str, version: int, request: ReviewCreate) -> Review:
    """Approve or request changes on a version.

    One transaction (through :func:`keyframe.catalog.versions.set_review_status`) puts the decision
    record with its note (live table), sets the version's ``reviewStatus`` and the asset's status and
    writes the activity entry ``version:reviewed`` with the note (catalog table); then
    ``asset:updated`` and ``asset:approved`` / ``asset:changes-requested`` are emitted. Nothing is
    stored or emitted when it is refused or the transaction fails.

    Raises
    ------
    Forbidden
        The role lacks ``review:decide`` (only DIRECTOR, PRODUCER and ADMIN decide).
    NotFound
        Unknown asset or version in the studio.
    Conflict
        ``VERSION_NOT_READY``: the version is still processing or failed.
    """
    require(principal, Permission.REVIEW_DECIDE)
    studio_id = principal.studio_id
    target = version_of(studio_id, asset_id, version)
    if target.status != VersionStatus.READY:
        raise Conflict(
            "Only a processed (READY) version can be reviewed",
            code="VERSION_NOT_READY",
            details={"assetId": asset_id, "version": version, "status": str(target.status)},
        )
    item = _decision_record(principal, target, request)
    review = to_review(item)
    data = {**review.to_json(), "reviewStatus": request.decision.value}
    rooms = rooms_of(target.project_id, asset_id, studio=True)
    event = domain_event(
        studio_id, DECISION_EVENTS[request.decision], data, rooms, subject=f"review/{review.review_id}"
    )
    versions.set_review_status(
        studio_id,
        asset_id,
        version,
        review_status=request.decision.value,
        actor_id=principal.user_id,
        note=request.note,
        with_items=[
            ("review", item, ReviewItem.pk.does_not_exist()),
            # the durable event commits with the decision (keyframe.outbox)
            (f"event:{event.id}", event.item(), OutboxItem.pk.does_not_exist()),
        ],
    )
    publish_now(event)
    notices.decided(
        principal, review, publisher_id=target.created_by, actor_name=display_name(principal.user_id)
    )
    return review


def list_reviews(principal: Principal, asset_id: str, version: int) -> ReviewList:
    """A version's decisions, oldest first (live table, one Query).

    Raises
    ------
    Forbidden
        The role lacks ``asset:read``.
    NotFound
        Unknown asset or version in the studio.
    """
    require(principal, Permission.ASSET_READ)
    version_of(principal.studio_id, asset_id, version)
    records = _decision_records(principal.studio_id, asset_id, version)
    return ReviewList(items=[to_review(item) for item in records])
