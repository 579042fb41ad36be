"""REST routes of reviews: comments and decisions (function ``reviews-api``).

The socket actions ``comment``, ``resolve`` and ``review`` call the same service functions, so both
channels store the same records and emit the same events.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from keyframe.http.auth import authorize
from keyframe.http.contract import answers
from keyframe.http.params import AssetId, path_id
from keyframe.identity.permissions import Permission
from keyframe.reviews.schemas import (
    Comment,
    CommentCreate,
    CommentPage,
    CommentUpdate,
    Review,
    ReviewCreate,
    ReviewList,
)

router = Router()

VersionNumber = Annotated[int, Path(ge=1, description="the version number (1, 2, ...)")]
CommentId = Annotated[str, path_id("the comment")]


@router.get(
    "/assets/<assetId>/versions/<version>/comments",
    tags=["reviews"],
    summary="A version's comments: by frame, then time, replies after their thread",
    operation_id="listComments",
    openapi_extensions=answers(
        "ASSET_NOT_FOUND",
        "INVALID_CURSOR",
        "VERSION_NOT_FOUND",
    ),
)
def list_comments(
    assetId: AssetId,
    version: VersionNumber,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=4096)] = None,
) -> CommentPage:
    """A page of comments; ``nextCursor`` is null on the last page. Needs ``asset:read``."""
    from keyframe.reviews import service

    return service.list_comments(
        authorize(Permission.ASSET_READ), assetId, version, limit=limit, cursor=cursor
    )


@router.post(
    "/assets/<assetId>/versions/<version>/comments",
    status_code=201,
    tags=["reviews"],
    summary="Comment on a version (optionally at a frame / timecode, as a reply, with an annotation)",
    operation_id="addComment",
    openapi_extensions=answers(
        "ASSET_NOT_FOUND",
        "COMMENT_NOT_FOUND",
        "INVALID_TIMECODE",
        "PROJECT_NOT_FOUND",
        "TIMECODE_MISMATCH",
        "VERSION_NOT_FOUND",
    ),
)
def add_comment(assetId: AssetId, version: VersionNumber, body: CommentCreate) -> Comment:
    """201 with the comment; emits ``asset:commented``. Needs ``review:comment``."""
    from keyframe.reviews import service

    return service.add_comment(authorize(Permission.REVIEW_COMMENT), assetId, version, body)


@router.patch(
    "/comments/<commentId>",
    tags=["reviews"],
    summary="Edit your comment's body, or resolve / reopen it",
    description="Only its author edits the body; its author, a DIRECTOR, a PRODUCER or an ADMIN resolves "
    "or reopens it (`comment:resolve-any`). Anyone else answers 403 `NOT_COMMENT_AUTHOR`.",
    operation_id="updateComment",
    openapi_extensions=answers(
        "COMMENT_NOT_FOUND",
        "NOT_COMMENT_AUTHOR",
    ),
)
def update_comment(commentId: CommentId, body: CommentUpdate) -> Comment:
    """200 with the comment; 403 ``NOT_COMMENT_AUTHOR`` when editing the body of someone else's
    comment, or resolving / reopening it when your role is not DIRECTOR, PRODUCER or ADMIN."""
    from keyframe.reviews import service

    return service.update_comment(authorize(Permission.REVIEW_COMMENT), commentId, body)


@router.post(
    "/assets/<assetId>/versions/<version>/review",
    status_code=201,
    tags=["reviews"],
    summary="Approve a version or request changes (DIRECTOR, PRODUCER, ADMIN)",
    operation_id="decideReview",
    openapi_extensions=answers(
        "ASSET_NOT_FOUND",
        "INVALID_REVIEW_STATUS",
        "VERSION_NOT_FOUND",
        "VERSION_NOT_READY",
    ),
)
def decide(assetId: AssetId, version: VersionNumber, body: ReviewCreate) -> Review:
    """201 with the decision; sets the version's review status and the asset's status."""
    from keyframe.reviews import service

    return service.decide(authorize(Permission.REVIEW_DECIDE), assetId, version, body)


@router.get(
    "/assets/<assetId>/versions/<version>/reviews",
    tags=["reviews"],
    summary="A version's review decisions, oldest first",
    operation_id="listReviews",
    openapi_extensions=answers(
        "ASSET_NOT_FOUND",
        "VERSION_NOT_FOUND",
    ),
)
def list_reviews(assetId: AssetId, version: VersionNumber) -> ReviewList:
    """Every decision on the version. Needs ``asset:read``."""
    from keyframe.reviews import service

    return service.list_reviews(authorize(Permission.ASSET_READ), assetId, version)
