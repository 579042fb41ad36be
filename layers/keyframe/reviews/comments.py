"""Comments on a version: add, list, edit, resolve and reopen (the write path of REST and the socket).

See :mod:`keyframe.reviews.service` for the events and the transactions. Tables: the live table
(comments), the catalog table (activity entries, the version and project read), the tenants table
(authors' names and pictures).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from typing import Any

from keyframe import timecode as tc
from keyframe.catalog import projects
from keyframe.clock import now_iso
from keyframe.errors import Forbidden, InvalidInput, NotFound
from keyframe.events.publisher import publish_now, stage
from keyframe.events.types import EventType
from keyframe.identity import avatar_links
from keyframe.identity.permissions import Permission, Principal, require, require_owner_or
from keyframe.outbox.records import add_to
from keyframe.reviews import notices
from keyframe.reviews.common import display_name, domain_event, rooms_of, version_of
from keyframe.reviews.models import (
    COMMENT_INDEX_SK,
    COMMENT_PREFIX,
    CommentItem,
    comment_index_key,
    reply_sk,
    thread_of,
    thread_sk,
    version_pk,
)
from keyframe.reviews.schemas import Comment, CommentCreate, CommentPage, CommentUpdate
from keyframe.storage import activity, cursors
from keyframe.storage.transactions import Cancelled, Transaction, any_cancellation, retrying

MAX_PAGE = 100
COMMIT_ATTEMPTS = 5
"""Attempts of a comment write when concurrent transactions conflict on the same items."""


def _frame_and_timecode(
    studio_id: str, project_id: str, frame: int | None, timecode: str | None
) -> tuple[int | None, str | None]:
    """Check that ``frame`` and ``timecode`` agree at the project's rate; derive a missing one.

    Raises
    ------
    InvalidInput
        ``TIMECODE_MISMATCH`` or ``INVALID_TIMECODE`` (a label the project's rate does not have).
    """
    if frame is None and timecode is None:
        return None, None
    project = projects.get_project(studio_id, project_id)
    fps, start = float(project.fps), int(project.start_frame)
    try:
        if timecode is None:
            if frame is None or frame < start:  # before the first frame: no label, keep the frame only
                return frame, None
            return frame, tc.frame_to_timecode(frame, fps, start_frame=start)
        at = tc.timecode_to_frame(timecode, fps, start_frame=start)
    except ValueError as exc:
        raise InvalidInput(str(exc), code="INVALID_TIMECODE", details={"timecode": timecode}) from exc
    if frame is not None and frame != at:
        raise InvalidInput(
            f"Frame {frame} is not timecode {timecode} at {fps:g} fps starting at frame {start}"
            f" (that is frame {at})",
            code="TIMECODE_MISMATCH",
            details={"frame": frame, "timecode": timecode, "expectedFrame": at, "fps": fps},
        )
    return at, timecode


def to_comment(item: CommentItem) -> Comment:
    """The API shape of a comment item."""
    return Comment(
        comment_id=item.comment_id,
        asset_id=item.asset_id,
        version=int(item.version),
        project_id=item.project_id,
        author_id=item.author_id,
        author_name=item.author_name,
        body=item.body,
        frame=None if item.frame is None else int(item.frame),
        timecode=item.timecode,
        parent_id=item.parent_id,
        thread_id=item.thread_id,
        annotation=item.annotation,
        resolved=bool(item.resolved),
        resolved_by=item.resolved_by,
        resolved_at=item.resolved_at,
        created_at=item.created_at,
        edited_at=item.edited_at,
        mentions=item.mentions or [],
    )


def _find_comment(studio_id: str, comment_id: str) -> CommentItem:
    """A comment of the studio by id (gsi1, then a consistent read of the item).

    Raises
    ------
    NotFound
        ``COMMENT_NOT_FOUND``: no such comment in the studio.
    """
    for hit in CommentItem.gsi1.query(comment_index_key(studio_id, comment_id), limit=1):
        try:
            return CommentItem.get(hit.pk, hit.sk, consistent_read=True)
        except CommentItem.DoesNotExist:
            break
    raise NotFound("Comment not found", code="COMMENT_NOT_FOUND", details={"commentId": comment_id})


def _log_comment(
    principal: Principal,
    item: CommentItem,
    action: str,
    details: dict[str, Any],
    tx: Transaction,
    *,
    commit: bool = True,
) -> None:
    """Add the activity entry of a comment change to ``tx`` (and commit ``tx`` when ``commit``).

    The entry (catalog table) targets ``comment``/``{commentId}`` with the project and asset set, so
    ``GET /activity?assetId=`` shows it; ``details`` always name the version.
    """
    fields = {k: v for k, v in {"version": int(item.version), **details}.items() if v is not None}
    if commit:
        activity.record(
            principal.studio_id,
            principal.user_id,
            action,
            "comment",
            item.comment_id,
            fields,
            project_id=item.project_id,
            asset_id=item.asset_id,
            transaction=tx,
        )
        return
    entry = activity.entry_item(
        principal.studio_id,
        actor_id=principal.user_id,
        action=action,
        target_type="comment",
        target_id=item.comment_id,
        details=fields,
        project_id=item.project_id,
        asset_id=item.asset_id,
    )
    tx.put(f"activity:{action}", entry)


def _write(build: Callable[[Transaction], None]) -> None:
    """Run ``build`` on a fresh transaction until it commits (conflicts are retried).

    ``build`` adds the comment write labelled ``comment`` and ends with :func:`_log_comment`, which
    adds the activity entry and commits, so both land together or not at all.

    Raises
    ------
    NotFound
        ``COMMENT_NOT_FOUND``: the ``comment`` write's condition failed (the comment is gone).
    """

    def attempt(_: int) -> None:
        try:
            build(Transaction())
        except Cancelled as exc:
            if "comment" in exc.failed:
                raise NotFound("Comment not found", code="COMMENT_NOT_FOUND") from exc
            raise

    retrying(attempt, attempts=COMMIT_ATTEMPTS, retry_if=any_cancellation)


def add_comment(principal: Principal, asset_id: str, version: int, request: CommentCreate) -> Comment:
    """Comment on version ``version`` of ``asset_id``. Emits ``asset:commented``.

    One transaction puts the comment (live table) and its ``comment:added`` activity entry
    (catalog table).

    Raises
    ------
    Forbidden
        The role lacks ``review:comment``.
    NotFound
        Unknown asset or version in the studio, or ``parentId`` not a comment of this version.
    InvalidInput
        Frame and timecode disagree at the project's frame rate.
    """
    require(principal, Permission.REVIEW_COMMENT)
    studio_id = principal.studio_id
    target = version_of(studio_id, asset_id, version)
    project_id = target.project_id
    frame, timecode = _frame_and_timecode(studio_id, project_id, request.frame, request.timecode)
    comment_id = uuid.uuid4().hex
    created_at = now_iso()
    parent: CommentItem | None = None
    if request.parent_id:
        parent = _find_comment(studio_id, request.parent_id)
        if parent.asset_id != asset_id or int(parent.version) != version:
            raise NotFound(
                "The parent comment is not on this version",
                code="COMMENT_NOT_FOUND",
                details={"parentId": request.parent_id},
            )
        sort_key = reply_sk(thread_of(parent.sk), created_at, comment_id)
        thread_id = parent.thread_id
    else:
        sort_key = thread_sk(frame, created_at, comment_id)
        thread_id = comment_id
    item = CommentItem(
        version_pk(studio_id, asset_id, version),
        sort_key,
        gsi1pk=comment_index_key(studio_id, comment_id),
        gsi1sk=COMMENT_INDEX_SK,
        comment_id=comment_id,
        studio_id=studio_id,
        project_id=project_id,
        asset_id=asset_id,
        version=version,
        author_id=principal.user_id,
        author_name=display_name(principal.user_id),
        body=request.body,
        frame=frame,
        timecode=timecode,
        parent_id=request.parent_id,
        thread_id=thread_id,
        annotation=request.annotation,
        resolved=False,
        created_at=created_at,
        mentions=notices.mentions_in(studio_id, request.body) or None,
    )
    details = {"version": version, "frame": frame, "timecode": timecode, "parentId": request.parent_id}

    comment = to_comment(item)
    rooms = rooms_of(project_id, asset_id)
    event = domain_event(
        studio_id, EventType.ASSET_COMMENTED, comment.to_json(), rooms, subject=f"comment/{comment_id}"
    )

    def build(tx: Transaction) -> None:
        tx.put("comment", item, condition=CommentItem.pk.does_not_exist())
        add_to(tx, event)  # the durable event commits with the comment (keyframe.outbox)
        _log_comment(principal, item, "comment:added", details, tx)

    _write(build)
    publish_now(event)
    notices.comment_added(principal, comment, parent_author_id=parent.author_id if parent else None)
    return comment


def list_comments(
    principal: Principal, asset_id: str, version: int, *, limit: int = 50, cursor: str | None = None
) -> CommentPage:
    """A page of a version's comments: by frame (none last), then time, replies after their thread.

    One Query on the version's partition of the live table; one BatchGetItem of the authors (tenants
    table) for their ``authorAvatarUrl``.

    Raises
    ------
    Forbidden
        The role lacks ``asset:read``.
    NotFound
        Unknown asset or version in the studio.
    InvalidInput
        ``INVALID_CURSOR``.
    """
    require(principal, Permission.ASSET_READ)
    studio_id = principal.studio_id
    version_of(studio_id, asset_id, version)
    scope = cursors.scope_of(f"assets/{asset_id}/versions/{version}/comments")
    start = cursors.decode(cursor, studio_id=studio_id, scope=scope)
    pk = version_pk(studio_id, asset_id, version)
    if start is not None and (start.get("pk") or {}).get("S") != pk:
        raise InvalidInput("The cursor belongs to another query", code="INVALID_CURSOR")
    results = CommentItem.query(
        pk,
        CommentItem.sk.startswith(COMMENT_PREFIX),
        limit=max(1, min(limit, MAX_PAGE)),
        last_evaluated_key=start,
        consistent_read=True,
    )
    items = [to_comment(item) for item in results]
    pictures = avatar_links.avatar_urls({c.author_id for c in items})  # one BatchGetItem (tenants)
    items = [c.model_copy(update={"author_avatar_url": pictures.get(c.author_id)}) for c in items]
    last = results.last_evaluated_key
    next_cursor = cursors.encode(last, studio_id=studio_id, scope=scope) if last else None
    return CommentPage(items=items, next_cursor=next_cursor)


def update_comment(principal: Principal, comment_id: str, request: CommentUpdate) -> Comment:
    """Edit your own comment's ``body`` and/or resolve or reopen it.

    One transaction updates the comment (live table) and writes an activity entry (catalog table)
    for each change: ``comment:edited``, ``comment:resolved`` or ``comment:reopened``. Then emits
    ``comment:updated`` for an edit and ``comment:resolved`` / ``comment:reopened`` when the
    resolution changed. Nothing is written or emitted when nothing changes.

    Raises
    ------
    Forbidden
        The role lacks ``review:comment``; ``NOT_COMMENT_AUTHOR``: the body of someone else's
        comment was to be edited, or someone else's comment resolved or reopened by a role without
        ``comment:resolve-any`` (only its author, a DIRECTOR, PRODUCER or ADMIN may).
    NotFound
        No such comment in the studio.
    """
    require(principal, Permission.REVIEW_COMMENT)
    item = _find_comment(principal.studio_id, comment_id)
    if request.body is not None and item.author_id != principal.user_id:
        raise Forbidden("Only its author can edit a comment", code="NOT_COMMENT_AUTHOR")
    if request.resolved is not None:
        require_owner_or(principal, item.author_id, Permission.COMMENT_RESOLVE_ANY)
    now = now_iso()
    actions: list[Any] = []
    changes: list[str] = []  # activity actions, in order; each is also the event (edit: comment:updated)
    mentioned_before = frozenset(m["userId"] for m in item.mentions or [])
    after = copy.deepcopy(item)  # the comment as the change leaves it (its events' data)
    if request.body is not None and request.body != item.body:
        mentions = notices.mentions_in(principal.studio_id, request.body)
        after.body, after.edited_at, after.mentions = request.body, now, mentions or None
        actions += [
            CommentItem.body.set(request.body),
            CommentItem.edited_at.set(now),
            CommentItem.mentions.set(mentions) if mentions else CommentItem.mentions.remove(),
        ]
        changes.append("comment:edited")
    if request.resolved is not None and request.resolved != bool(item.resolved):
        after.resolved = request.resolved
        after.resolved_by, after.resolved_at = (principal.user_id, now) if request.resolved else (None, None)
        if request.resolved:
            actions += [
                CommentItem.resolved.set(True),
                CommentItem.resolved_by.set(principal.user_id),
                CommentItem.resolved_at.set(now),
            ]
        else:
            actions += [
                CommentItem.resolved.set(False),
                CommentItem.resolved_by.remove(),
                CommentItem.resolved_at.remove(),
            ]
        changes.append("comment:resolved" if request.resolved else "comment:reopened")
    if not changes:
        return to_comment(item)

    rooms = rooms_of(item.project_id, item.asset_id)
    changed = to_comment(after).to_json()

    def build(tx: Transaction) -> None:
        tx.update("comment", CommentItem(item.pk, item.sk), actions, condition=CommentItem.pk.exists())
        for action in changes:  # stored with the change (keyframe.outbox), announced after the commit
            stage(
                tx,
                principal.studio_id,
                "comment:updated" if action == "comment:edited" else action,
                changed,
                rooms=rooms,
            )
        for number, action in enumerate(changes, start=1):
            _log_comment(principal, item, action, {}, tx, commit=number == len(changes))

    _write(build)
    item.refresh(consistent_read=True)
    comment = to_comment(item)
    if "comment:edited" in changes:
        notices.comment_added(principal, comment, mentioned_before=mentioned_before)
    return comment


def resolve_comment(principal: Principal, comment_id: str, *, resolved: bool = True) -> Comment:
    """Resolve (or reopen) a comment: :func:`update_comment` with ``resolved`` only."""
    return update_comment(principal, comment_id, CommentUpdate(resolved=resolved))
