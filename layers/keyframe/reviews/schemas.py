"""Request and response shapes of comments and review decisions (REST and WebSocket alike)."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator

from keyframe.schemas import MULTILINE, ApiModel, Identifier, MultilineText, RequestModel
from keyframe.timecode import parse_timecode

MAX_BODY_CHARS = 4000
MAX_NOTE_CHARS = 4000
MAX_ANNOTATION_BYTES = 16 * 1024
"""An annotation (a vector drawing as JSON) is at most 16 KiB once serialised compactly."""
MAX_FRAME = 100_000_000


class Decision(StrEnum):
    """A review decision on a version."""

    APPROVED = "APPROVED"
    CHANGES_REQUESTED = "CHANGES_REQUESTED"


class CommentCreate(RequestModel):
    """``POST /assets/{assetId}/versions/{version}/comments`` (and the ``comment`` socket action).

    ``frame`` and ``timecode`` are optional; when both are given and the project's frame rate is
    known they must name the same frame (``frame == startFrame + frames(timecode)``).
    """

    body: MultilineText = Field(min_length=1, max_length=MAX_BODY_CHARS, description="The comment text")
    frame: int | None = Field(default=None, ge=0, le=MAX_FRAME, description="Frame number the comment is on")
    timecode: str | None = Field(
        default=None,
        description="SMPTE timecode HH:MM:SS:FF (drop-frame HH:MM:SS;FF)",
        examples=["00:00:05:12"],
    )
    parent_id: Identifier | None = Field(default=None, description="Comment this one replies to")
    annotation: Annotated[dict[str, Any], MULTILINE] | None = Field(
        default=None, description="A vector drawing over the frame (JSON object, at most 16 KiB)"
    )

    @field_validator("timecode")
    @classmethod
    def _timecode(cls, value: str | None) -> str | None:
        return None if value is None else str(parse_timecode(value))

    @field_validator("annotation")
    @classmethod
    def _annotation_size(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            size = len(json.dumps(value, separators=(",", ":")).encode("utf-8"))
            if size > MAX_ANNOTATION_BYTES:
                raise ValueError(f"the annotation is {size} bytes; the limit is {MAX_ANNOTATION_BYTES}")
        return value


class CommentUpdate(RequestModel):
    """``PATCH /comments/{commentId}``: edit your own ``body`` and/or set ``resolved``."""

    body: MultilineText | None = Field(default=None, min_length=1, max_length=MAX_BODY_CHARS)
    resolved: bool | None = None

    @model_validator(mode="after")
    def _something(self) -> CommentUpdate:
        if self.body is None and self.resolved is None:
            raise ValueError("give body and/or resolved")
        return self


class ReviewCreate(RequestModel):
    """``POST /assets/{assetId}/versions/{version}/review`` (and the ``review`` socket action)."""

    decision: Decision
    note: MultilineText | None = Field(default=None, max_length=MAX_NOTE_CHARS)


class Mention(ApiModel):
    """A member the comment @mentions (resolved among the studio's members when it was written)."""

    user_id: str
    display_name: str


class Comment(ApiModel):
    """A comment as clients see it."""

    comment_id: str
    asset_id: str
    version: int
    project_id: str
    author_id: str
    author_name: str | None = Field(
        default=None, description="the author's display name when they commented (shown without another call)"
    )
    author_avatar_url: str | None = Field(
        default=None,
        description="the author's profile picture now, a link valid an hour (in GET …/comments pages; "
        "absent without a picture, and in live events)",
    )
    body: str
    frame: int | None = None
    timecode: str | None = None
    parent_id: str | None = None
    thread_id: str
    annotation: dict[str, Any] | None = None
    resolved: bool = False
    resolved_by: str | None = None
    resolved_at: str | None = None
    created_at: str
    edited_at: str | None = None
    mentions: list[Mention] = Field(
        default_factory=list,
        description="members of the studio the body @mentions (a handle naming nobody there stays text)",
    )


class CommentPage(ApiModel):
    """One page of a version's comments: by frame (none last), then time, replies after their thread."""

    items: list[Comment]
    next_cursor: str | None = None


class Review(ApiModel):
    """A review decision as clients see it (``reviewStatus`` is the version's status after it)."""

    review_id: str
    asset_id: str
    version: int
    project_id: str
    decision: Decision
    note: str | None = None
    reviewer_id: str
    reviewer_role: str
    created_at: str


class ReviewList(ApiModel):
    """A version's review decisions, oldest first."""

    items: list[Review]
