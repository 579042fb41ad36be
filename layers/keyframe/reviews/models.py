"""Comments and review decisions (PynamoDB), kept in the live table beside the rooms they feed.

- comment: pk ``STUDIO#{s}#ASSET#{a}#V#{n}``, sk ``COMMENT#F{frame:010d}#{createdAt}#{id}``
  (``COMMENT#G#{createdAt}#{id}`` without a frame); gsi1 ``STUDIO#{s}#COMMENT#{id}`` / ``COMMENT``.
- reply: the same partition, sk ``{its thread's sk}#R#{createdAt}#{id}``; gsi1 as a comment.
- decision: pk ``STUDIO#{s}#ASSET#{a}#V#{n}``, sk ``REVIEW#{createdAt}#{id}``; written in the
  transaction that applies it to the version (see :func:`keyframe.reviews.service.decide`).

One Query over a version's partition with ``sk`` beginning ``COMMENT#`` returns its comments
ordered by frame (comments without a frame last), then time, each thread's replies right after
the comment that started it: every top-level sort key has the same length, so a reply's key (its
thread's key plus a suffix) sorts after the thread and before the next one. ``gsi1`` finds a
comment by id (``PATCH /comments/{id}``), always under the caller's ``STUDIO#`` prefix.
Comments and decisions do not expire.
"""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from keyframe.storage.models import gsi, table_meta
from keyframe.storage.tables import LIVE

COMMENT_PREFIX = "COMMENT#"
REVIEW_PREFIX = "REVIEW#"
REPLY_MARK = "#R#"
COMMENT_INDEX_SK = "COMMENT"


def version_pk(studio_id: str, asset_id: str, version: int) -> str:
    """``STUDIO#{s}#ASSET#{a}#V#{n}``: the partition of a version's comments and decisions."""
    return f"STUDIO#{studio_id}#ASSET#{asset_id}#V#{version}"


def comment_index_key(studio_id: str, comment_id: str) -> str:
    """gsi1pk of a comment: ``STUDIO#{s}#COMMENT#{id}``."""
    return f"STUDIO#{studio_id}#COMMENT#{comment_id}"


def thread_sk(frame: int | None, created_at: str, comment_id: str) -> str:
    """Sort key of a comment that starts a thread (fixed width: frame, then time, then id)."""
    position = f"F{frame:010d}" if frame is not None else "G"
    return f"{COMMENT_PREFIX}{position}#{created_at}#{comment_id}"


def reply_sk(thread: str, created_at: str, comment_id: str) -> str:
    """Sort key of a reply in the thread whose sort key is ``thread``."""
    return f"{thread}{REPLY_MARK}{created_at}#{comment_id}"


def thread_of(sk: str) -> str:
    """The sort key of the thread a comment's sort key belongs to."""
    return sk.split(REPLY_MARK, 1)[0]


class CommentItem(Model):
    """A timecoded comment on a version, possibly a reply, possibly with a vector annotation."""

    Meta = table_meta(LIVE)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi1 = gsi(LIVE, 1)()
    comment_id = UnicodeAttribute(attr_name="commentId")
    studio_id = UnicodeAttribute(attr_name="studioId")
    project_id = UnicodeAttribute(attr_name="projectId")
    asset_id = UnicodeAttribute(attr_name="assetId")
    version = NumberAttribute()
    author_id = UnicodeAttribute(attr_name="authorId")
    author_name = UnicodeAttribute(null=True, attr_name="authorName")
    body = UnicodeAttribute()
    frame = NumberAttribute(null=True)
    timecode = UnicodeAttribute(null=True)
    parent_id = UnicodeAttribute(null=True, attr_name="parentId")
    thread_id = UnicodeAttribute(attr_name="threadId")
    annotation = JSONAttribute(null=True)
    resolved = BooleanAttribute(default=False)
    resolved_by = UnicodeAttribute(null=True, attr_name="resolvedBy")
    resolved_at = UnicodeAttribute(null=True, attr_name="resolvedAt")
    created_at = UnicodeAttribute(attr_name="createdAt")
    edited_at = UnicodeAttribute(null=True, attr_name="editedAt")
    mentions = JSONAttribute(null=True)
    """``[{"userId", "displayName"}]``: the members the body @mentions (resolved when it was written)."""


class ReviewItem(Model):
    """A review decision on a version (the history; the version's ``reviewStatus`` is the latest)."""

    Meta = table_meta(LIVE)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    review_id = UnicodeAttribute(attr_name="reviewId")
    studio_id = UnicodeAttribute(attr_name="studioId")
    project_id = UnicodeAttribute(attr_name="projectId")
    asset_id = UnicodeAttribute(attr_name="assetId")
    version = NumberAttribute()
    decision = UnicodeAttribute()
    note = UnicodeAttribute(null=True)
    reviewer_id = UnicodeAttribute(attr_name="reviewerId")
    reviewer_role = UnicodeAttribute(attr_name="reviewerRole")
    created_at = UnicodeAttribute(attr_name="createdAt")
