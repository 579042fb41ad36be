"""Comments and review decisions: the only write path, shared by the REST routes and the socket.

Every function takes the verified :class:`~keyframe.identity.permissions.Principal` (from the REST
authorizer or from the connection record) and checks the permission itself, so both channels obey
the same rule. Every change stores its event in its own transaction (keyframe.outbox, through
:func:`keyframe.events.publisher.stage` or :func:`keyframe.outbox.records.add_to`), announced after
the commit:

==========================  ======================================  =================================
event                       rooms                                   data
==========================  ======================================  =================================
``asset:commented``         ``asset:{a}``, ``project:{p}``          the comment
``comment:updated``         ``asset:{a}``, ``project:{p}``          the comment (body edited)
``comment:resolved``        ``asset:{a}``, ``project:{p}``          the comment (``resolved: true``)
``comment:reopened``        ``asset:{a}``, ``project:{p}``          the comment (``resolved: false``)
``asset:approved``          ``asset:{a}``, ``project:{p}``,         the decision + ``reviewStatus``
                            ``studio``
``asset:changes-requested`` same                                    same
==========================  ======================================  =================================

Comments and decisions are stored in the live table (see :mod:`keyframe.reviews.models`). A comment
keeps the members its body @mentions (``mentions``, resolved among the studio's members when it is
written or edited). After each change :mod:`keyframe.reviews.notices` notifies the mentioned
members, the author of the comment replied to, and the publisher of a reviewed version.

Activity log: every comment change is written in the *same* DynamoDB transaction as its activity
entry (``comment:added``, ``comment:edited``, ``comment:resolved``, ``comment:reopened``; a
transaction spans the live and catalog tables) through :func:`keyframe.storage.activity.record`, so
neither exists without the other. A decision is one transaction too: the decision record (live
table) goes into :func:`keyframe.catalog.versions.set_review_status` as ``with_items``, which
commits it with the version's ``reviewStatus``, the asset's status and the ``version:reviewed``
activity entry (its details carry the note). Either all of them are stored or none is, so a request
that failed can simply be sent again.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from typing import Any

from keyframe import timecode as tc
from keyframe.catalog import projects, versions
from keyframe.catalog.schemas import VersionStatus
from keyframe.clock import now_iso
from keyframe.errors import Conflict, Forbidden, InvalidInput, NotFound
from keyframe.events.publisher import publish_now, stage
from keyframe.events.rooms import STUDIO_ROOM, asset_room, project_room
from keyframe.events.types import EventType
from keyframe.identity import avatar_links
from keyframe.identity.models import USER_SK, UserItem, get_or_none, user_pk
from keyframe.identity.permissions import Permission, Principal, require_owner_or
from keyframe.observability import logger
from keyframe.outbox.records import DomainEvent, OutboxItem, add_to
from keyframe.reviews import notices
from keyframe.reviews.models import (
    COMMENT_INDEX_SK,
    COMMENT_PREFIX,
    REVIEW_PREFIX,
    CommentItem,
    ReviewItem,
    comment_index_key,
    reply_sk,
    thread_of,
    thread_sk,
    version_pk,
)
from keyframe.reviews.schemas import (
    Comment,
    CommentCreate,
    CommentPage,
    CommentUpdate,
    Decision,
    Review,
    ReviewCreate,
    ReviewList,
)
from keyframe.storage import activity, cursors
from keyframe.storage.transactions import Cancelled, Transaction, any_cancellation, retrying

DECISION_EVENTS: dict[Decision, str] = {
    Decision.APPROVED: EventType.ASSET_APPROVED,
    Decision.CHANGES_REQUESTED: EventType.ASSET_CHANGES_REQUESTED,
}
MAX_PAGE = 100
COMMIT_ATTEMPTS = 5
"""Attempts of a comment write when concurrent transactions conflict on the same items."""


def _require(principal: Principal, permission: Permission) -> None:
    if not principal.can(permission):
        raise Forbidden(
            f"Your role {principal.role.value} cannot {permission.value}",
            details={"permission": permission.value, "role": principal.role.value},
        )


def _rooms(project_id: str, asset_id: str, *, studio: bool = False) -> list[str]:
    rooms = [asset_room(asset_id), project_room(project_id)]
    return [*rooms, STUDIO_ROOM] if studio else rooms


def _version(studio_id: str, asset_id: str, version: int) -> Any:
    """The catalog's version (NotFound when the asset or version is not in the studio)."""
    return versions.get_version(studio_id, asset_id, version)


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


def _display_name(user_id: str) -> str | None:
    """The user's display name (one GetItem on the tenants table), kept on the comment so listings
    and live events show the author without another request; ``None`` if the account is gone."""
    user = get_or_none(UserItem, user_pk(user_id), USER_SK)
    return user.display_name if user else None


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
    _require(principal, Permission.REVIEW_COMMENT)
    studio_id = principal.studio_id
    target = _version(studio_id, asset_id, version)
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
        author_name=_display_name(principal.user_id),
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
    rooms = _rooms(project_id, asset_id)
    event = _event(
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
    _require(principal, Permission.ASSET_READ)
    studio_id = principal.studio_id
    _version(studio_id, asset_id, version)
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
    _require(principal, Permission.REVIEW_COMMENT)
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

    rooms = _rooms(item.project_id, item.asset_id)
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
    _require(principal, Permission.REVIEW_DECIDE)
    studio_id = principal.studio_id
    target = _version(studio_id, asset_id, version)
    if target.status != VersionStatus.READY:
        raise Conflict(
            "Only a processed (READY) version can be reviewed",
            code="VERSION_NOT_READY",
            details={"assetId": asset_id, "version": version, "status": str(target.status)},
        )
    item = _decision_record(principal, target, request)
    review = to_review(item)
    data = {**review.to_json(), "reviewStatus": request.decision.value}
    rooms = _rooms(target.project_id, asset_id, studio=True)
    event = _event(
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
        principal, review, publisher_id=target.created_by, actor_name=_display_name(principal.user_id)
    )
    return review


def _event(
    studio_id: str, event_type: str, data: dict[str, Any], rooms: list[str], *, subject: str
) -> DomainEvent:
    """A domain event of this request (its correlation id), to commit with the change."""
    return DomainEvent.new(
        studio_id, event_type, data, rooms=rooms, subject=subject, correlation_id=logger.get_correlation_id()
    )


def list_reviews(principal: Principal, asset_id: str, version: int) -> ReviewList:
    """A version's decisions, oldest first (live table, one Query).

    Raises
    ------
    Forbidden
        The role lacks ``asset:read``.
    NotFound
        Unknown asset or version in the studio.
    """
    _require(principal, Permission.ASSET_READ)
    _version(principal.studio_id, asset_id, version)
    records = _decision_records(principal.studio_id, asset_id, version)
    return ReviewList(items=[to_review(item) for item in records])
