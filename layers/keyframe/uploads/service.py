"""Upload sessions: the shared state machine of open, inspect/resume, complete and abort, and expiry.

The jobs are split by module: :mod:`~keyframe.uploads.sessions` (open, status, abort),
:mod:`~keyframe.uploads.completion` (complete), :mod:`~keyframe.uploads.recovery` (re-driving
stuck completes); this module keeps what they share (transitions, the activity entry, the hooks)
and the expiry of OPEN sessions.

The only write path of the uploads domain. Tables and buckets touched:

- uploads table: :class:`~keyframe.uploads.models.UploadSession` and the studio's
  :mod:`keyframe.usage.quotas` storage counter;
- catalog table: reads the asset (must exist in the studio and not be archived); appends the
  ``upload:started``/``upload:completed``/``upload:aborted`` activity entries;
- media bucket: the multipart upload under
  ``studios/{studioId}/assets/{assetId}/uploads/{uploadId}/{fileName}`` (CreateMultipartUpload,
  ListParts, CompleteMultipartUpload, AbortMultipartUpload, HeadObject; DeleteObject only for a
  completed object whose size is not the declared one);
- Step Functions, through :func:`keyframe.pipeline.starter.start_pipeline` (one execution per
  upload, named by the upload id).

Every change of a session's status is ONE atomic write. A change users see is a DynamoDB transaction
(spanning tables): the session's conditional update, the usage counter when a reservation is taken
or released, and the activity entry of the change (:func:`keyframe.storage.activity.record` with
``transaction=``). So a status and its activity entry are stored together or not at all, and no path
can skip the log. The two changes that log and count nothing (into COMPLETING, and back to OPEN) are
the session's conditional update alone.

Life of a session::

    OPEN ──complete──> COMPLETING ──object there, pipeline started──> COMPLETED
     │  ^                  │   │                 (a retried complete answers the same 202)
     │  └─never reached S3─┘   │                 (stuck: untouched for STUCK_AFTER)
     └──abort / expiry──> ABORTED <─┘            (object of another size; or, stuck, neither
                                                  an object nor parts)

Nothing is thrown away behind the user's back: only an explicit abort, the size check and the
expiry of an OPEN session (``UPLOAD_SESSION_TTL_SECONDS``, at least a day, by default the bucket's
7-day rule) drop bytes, and expiry never touches a session in any other state.

Every step of ``complete`` may be retried after a crash: S3 forgetting an upload it completed is
recognised by HeadObject, and the pipeline start is idempotent by execution name. A COMPLETING
session whose complete crashed is never left stuck: the next complete, ``GET`` of the session, and
(once untouched for :data:`STUCK_AFTER`) the next upload opened in the studio that runs the studio's
housekeeping (:data:`keyframe.uploads.sessions.HOUSEKEEPING_INTERVAL`) re-drive it.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.expressions.condition import Condition

from keyframe import clock, settings
from keyframe.catalog import service as catalog
from keyframe.errors import Conflict, NotFound
from keyframe.events.publisher import stage
from keyframe.events.rooms import STUDIO_ROOM, asset_room
from keyframe.identity.permissions import Principal
from keyframe.pipeline import status as pipeline_status
from keyframe.pipeline.starter import PipelineInput, start_pipeline
from keyframe.storage import activity
from keyframe.storage.transactions import Cancelled, Transaction, retrying
from keyframe.uploads import multipart
from keyframe.uploads.config import UploadSettings
from keyframe.uploads.models import (
    SESSION_SK,
    UploadSession,
    UploadStatus,
    completing_index_pk,
    open_index_pk,
    session_pk,
)
from keyframe.uploads.schemas import (
    CompleteUploadResponse,
    PartUrl,
    PipelineView,
)
from keyframe.uploads.sizing import PartPlan
from keyframe.usage import quotas
from keyframe.usage.quotas import Quota

FINISHED_RETENTION = timedelta(days=7)
"""How long a COMPLETED or ABORTED session is kept (a retried complete within it gets the same 202)."""
EXPIRED_GRACE = timedelta(days=1)
"""An OPEN session's item outlives its expiry by this much, so its quota can be released lazily."""
SWEEP_LIMIT = 25
"""Most expired sessions released per housekeeping run (the rest on the next, at least a minute later
in the same function environment)."""
STUCK_AFTER = timedelta(minutes=5)
"""A COMPLETING session untouched this long has no request working on it any more (the API's
Lambda stops after 29 s): it is re-driven by the next upload opened in its studio that runs the
studio's housekeeping."""
REDRIVE_LIMIT = 5
"""Most stuck COMPLETING sessions re-driven per housekeeping run (the rest on the next)."""
TRANSACTION_ATTEMPTS = 3
"""Tries of a transaction that DynamoDB cancelled for a conflicting concurrent transaction."""


def _config() -> UploadSettings:
    return settings.load(UploadSettings)


def _bucket() -> str:
    return settings.load(settings.MediaSettings).MEDIA_BUCKET


def object_key(studio_id: str, asset_id: str, upload_id: str, file_name: str) -> str:
    """The original's key: ``studios/{studioId}/assets/{assetId}/uploads/{uploadId}/{fileName}``."""
    return f"studios/{studio_id}/assets/{asset_id}/uploads/{upload_id}/{file_name}"


def _plan(session: UploadSession) -> PartPlan:
    return PartPlan(
        size=int(session.size), part_size=int(session.part_size), part_count=int(session.part_count)
    )


def _rooms(asset_id: str) -> list[str]:
    return [STUDIO_ROOM, asset_room(asset_id)]


# ---------------------------------------------------------------- collaborators (other domains)


def _require_asset(studio_id: str, asset_id: str) -> str:
    """The asset must exist in the studio and not be archived (catalog); returns its project id.

    Raises
    ------
    NotFound
        No such asset in the studio.
    Conflict
        The asset is archived (``ASSET_ARCHIVED``).
    """
    asset = catalog.get_asset(studio_id, asset_id)
    if asset.archived:
        raise Conflict(
            "The asset is archived: restore it before uploading a new version",
            code="ASSET_ARCHIVED",
            details={"assetId": asset_id},
        )
    return asset.project_id


def _start_pipeline(session: UploadSession) -> dict[str, Any]:
    """Start (or find) the pipeline execution named ``uploadId``; returns the 202's pipeline block."""
    started = start_pipeline(
        PipelineInput(
            studio_id=session.studio_id,
            asset_id=session.asset_id,
            upload_id=session.upload_id,
            bucket=session.bucket,
            key=session.key,
            size=int(session.size),
            file_name=session.file_name,
            declared_content_type=session.content_type,
            sha256=session.sha256,
            change_note=session.change_note,
            created_by=session.created_by,
        )
    )
    return PipelineView(
        execution_arn=started.execution_arn, status=started.status, started_at=started.started_at
    ).to_json()


def _pipeline_status(studio_id: str, upload_id: str) -> dict[str, Any] | None:
    """What the pipeline reports for the upload (``version``, ``status`` …), if it reports anything."""
    return pipeline_status.for_upload(studio_id, upload_id)


# ---------------------------------------------------------------- storage helpers


def _load(studio_id: str, asset_id: str, upload_id: str) -> UploadSession:
    """The session ``upload_id`` of ``asset_id`` in ``studio_id``.

    Raises
    ------
    NotFound
        No such session in the studio, or it belongs to another asset.
    """
    try:
        session = UploadSession.get(session_pk(studio_id, upload_id), SESSION_SK, consistent_read=True)
    except DoesNotExist:
        session = None
    if session is None or session.asset_id != asset_id:
        raise NotFound("Upload not found", code="UPLOAD_NOT_FOUND", details={"uploadId": upload_id})
    return session


@dataclass(frozen=True)
class Entry:
    """The activity entry a status change writes in the change's own transaction (catalog table).

    ``action`` is the activity's action (``upload:started`` ...), ``actor_id`` who acted (``None``: the
    system), ``details`` the entry's JSON details.
    """

    action: str
    actor_id: str | None
    details: dict[str, Any]


def _index_values(session: UploadSession, to: UploadStatus, now: datetime) -> dict[str, Any]:
    """``gsi1`` and ``ttl`` of a session entering ``to`` (see :mod:`keyframe.uploads.models`); ``None``
    removes the attribute."""
    if to == UploadStatus.OPEN:  # back in the expiry index, deleted a day after expiry
        expires = clock.parse(session.expires_at)
        return {
            "gsi1pk": open_index_pk(session.studio_id),
            "gsi1sk": f"{session.expires_at}#{session.upload_id}",
            "ttl": expires + EXPIRED_GRACE,
        }
    if to == UploadStatus.COMPLETING:  # findable until it is re-driven, and never deleted meanwhile
        return {
            "gsi1pk": completing_index_pk(session.studio_id),
            "gsi1sk": f"{clock.iso(now)}#{session.upload_id}",
            "ttl": None,
        }
    return {"gsi1pk": None, "gsi1sk": None, "ttl": now + FINISHED_RETENTION}


def _actions(values: dict[str, Any]) -> list[Any]:
    """Update actions writing ``values`` (attribute name -> value, ``None`` removes it)."""
    attributes = UploadSession.get_attributes()
    return [
        attributes[name].remove() if value is None else attributes[name].set(value)
        for name, value in values.items()
    ]


def commit(
    session: UploadSession,
    build: Callable[[], Transaction],
    entry: Entry | None,
    event: tuple[str, dict[str, Any]] | None = None,
) -> None:
    """Commit the transaction ``build`` makes, with ``entry``'s activity put and ``event``'s outbox item
    (``(type, data)``, rooms of the asset; :func:`keyframe.events.publisher.stage`) in it when given.

    A transaction DynamoDB cancelled only because another one touched the same items is built and
    sent again (the one policy, :func:`keyframe.storage.transactions.retrying`, at most
    :data:`TRANSACTION_ATTEMPTS` times).

    Raises
    ------
    keyframe.storage.transactions.Cancelled
        A condition failed (``failed`` names the labels), or the conflicts did not stop.
    pynamodb.exceptions.TransactWriteError
        Any other failure. In every case nothing was written.
    """

    def attempt(_: int) -> None:
        tx = build()
        if event is not None:
            stage(tx, session.studio_id, event[0], event[1], rooms=_rooms(session.asset_id))
        if entry is None:
            tx.commit()
            return
        activity.record(
            session.studio_id,
            entry.actor_id,
            entry.action,
            "upload",
            session.upload_id,
            entry.details,
            project_id=session.project_id,
            asset_id=session.asset_id,
            transaction=tx,
        )

    retrying(attempt, attempts=TRANSACTION_ATTEMPTS)


def _transition(
    session: UploadSession,
    *,
    to: UploadStatus,
    allowed_from: tuple[UploadStatus, ...],
    release_quota: bool,
    changes: dict[str, Any] | None = None,
    entry: Entry | None = None,
    also: Condition | None = None,
    event: tuple[str, dict[str, Any]] | None = None,
) -> bool:
    """Move ``session`` to ``to`` if its stored status is in ``allowed_from``: one atomic write.

    The write is the session's conditional update (status, ``gsi1``, ``ttl`` and ``changes``,
    attribute name -> value), in one transaction with the usage decrement when ``release_quota`` (so
    a reservation is released exactly once however many aborts and expiries race), ``entry``'s
    activity put and ``event``'s outbox item (so the change, its log entry and its event exist
    together or not at all). ``also`` adds a condition on the stored session. With none of those
    (COMPLETING, and back to OPEN) the update is sent alone, as one conditional UpdateItem
    (:func:`_update_alone`): half a transaction's write cost. The SDK may send it twice; applied
    again it leaves the same status, or fails its condition and reads False, which every caller
    takes as "read the session again". Either kind is sent again, a bounded number of times, when
    another transaction was writing the same items.

    Returns
    -------
    bool
        False, and nothing written, when the stored session did not meet the condition: the session
        is then re-read (one consistent GetItem). True when written: ``session`` then holds what was
        written (no read: the condition held, so nothing else changed the session in between).

    Raises
    ------
    pynamodb.exceptions.TransactWriteError, keyframe.storage.transactions.Cancelled
        The write failed for another reason (throttling, a missing table ...): nothing was written.
    """
    now = clock.now()
    values = {
        "status": to.value,
        "updated_at": clock.iso(now),
        **_index_values(session, to, now),
        **(changes or {}),
    }
    actions = _actions(values)
    condition: Condition = UploadSession.status.is_in(*[s.value for s in allowed_from])
    if also is not None:
        condition = condition & also
    alone = not release_quota and entry is None and event is None

    def build() -> Transaction:
        tx = Transaction().update("session", session, actions, condition)
        if release_quota:
            quotas.release(tx, session.studio_id, Quota.STORAGE_BYTES, int(session.size))
        return tx

    try:
        if alone:
            retrying(lambda _: _update_alone(session, actions, condition), attempts=TRANSACTION_ATTEMPTS)
        else:
            commit(session, build, entry, event)
    except Cancelled as exc:
        if "session" not in exc.failed:
            raise
        session.refresh(consistent_read=True)
        return False
    for name, value in values.items():
        setattr(session, name, value)
    return True


def _update_alone(session: UploadSession, actions: list[Any], condition: Condition) -> None:
    """The session's conditional UpdateItem, its refusals told as a transaction's would be.

    Raises
    ------
    keyframe.storage.transactions.Cancelled
        ``failed={"session"}`` when the condition failed; ``conflict=True`` when DynamoDB refused it
        because a transaction was writing the item (``TransactionConflictException``, which the SDK
        does not retry): :func:`keyframe.storage.transactions.retrying` tries it again.
    pynamodb.exceptions.UpdateError
        Any other failure: nothing was written.
    """
    try:
        session.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            raise Cancelled({"session"}, conflict=False) from exc
        if exc.cause_response_code == "TransactionConflictException":
            raise Cancelled(set(), conflict=True) from exc
        raise


def _abort_entry(session: UploadSession, actor_id: str | None, reason: str) -> Entry:
    return Entry("upload:aborted", actor_id, {"fileName": session.file_name, "reason": reason})


def part_checksum(session: UploadSession, number: int) -> tuple[multipart.ChecksumAlgorithm, str] | None:
    """The checksum the client declared for part ``number`` (1-based) at the open: its algorithm
    (SHA-256 for sessions that name none) and the base64 digest S3 expects; ``None`` without any."""
    checksums = session.part_checksums
    if not checksums:
        return None
    algorithm = multipart.ALGORITHMS[session.part_checksum_algorithm or multipart.SHA256.name]
    digest = checksums[(number - 1) * algorithm.width : number * algorithm.width]
    return algorithm, base64.b64encode(digest).decode()


def _part_urls(
    session: UploadSession, numbers: list[int], *, expires_in: int, limit: int
) -> tuple[list[PartUrl], int | None]:
    """Presigned PUT URLs for the first ``limit`` of ``numbers``; also the next part number left out."""
    urls = []
    for number in numbers[:limit]:
        checksum = part_checksum(session, number)
        url = multipart.presign_part(
            session.bucket,
            session.key,
            session.s3_upload_id,
            number,
            expires_in=expires_in,
            checksum=checksum,
        )
        headers = {checksum[0].header: checksum[1]} if checksum else None
        urls.append(PartUrl(part_number=number, url=url, headers=headers))
    return urls, (numbers[limit] if len(numbers) > limit else None)


def event_data(session: UploadSession, actor_id: str | None, **extra: Any) -> dict[str, Any]:
    """The data of an ``upload:*`` event about ``session``: ``uploadId``, ``assetId``, ``fileName``,
    ``size`` (bytes), ``status`` and ``actorId``, then ``extra`` (camelCase keys, overriding those)."""
    return {
        "uploadId": session.upload_id,
        "assetId": session.asset_id,
        "fileName": session.file_name,
        "size": int(session.size),
        "status": session.status,
        "actorId": actor_id,
        **extra,
    }


# ---------------------------------------------------------------- expiry (OPEN sessions only)


def _expire(session: UploadSession, *, due_by: str | None = None) -> bool:
    """Abort an OPEN session whose time is up (``due_by``: now) or whose multipart upload S3 lost.

    DynamoDB checks the condition: the stored session must be OPEN (and, with ``due_by``, expire no
    later than that), so a session that is COMPLETING, COMPLETED or ABORTED is never touched however
    the caller read it. Only after that transaction are the parts dropped in S3.

    Returns
    -------
    bool
        True when this call aborted the session.
    """
    aborted = _transition(
        session,
        to=UploadStatus.ABORTED,
        allowed_from=(UploadStatus.OPEN,),
        release_quota=True,
        changes={"failure_reason": "EXPIRED"},
        entry=_abort_entry(session, None, "EXPIRED"),
        also=(UploadSession.expires_at <= due_by) if due_by is not None else None,
        event=("upload:aborted", event_data(session, None, status="ABORTED", reason="EXPIRED")),
    )
    if aborted:
        multipart.abort(session.bucket, session.key, session.s3_upload_id)
    return aborted


def _expire_if_due(session: UploadSession) -> None:
    now = clock.now_iso()
    if session.status == UploadStatus.OPEN and session.expires_at <= now:
        _expire(session, due_by=now)


def sweep_expired(studio_id: str, *, limit: int = SWEEP_LIMIT) -> int:
    """Abort the studio's OPEN sessions past their expiry and release their quota (gsi1 Query).

    Returns
    -------
    int
        How many sessions were aborted.
    """
    now = clock.now_iso()
    expired = UploadSession.gsi1.query(
        open_index_pk(studio_id), UploadSession.gsi1sk < f"{now}#", limit=limit
    )
    count = 0
    for found in expired:
        session = UploadSession.get(found.pk, found.sk, consistent_read=True)
        if session.status == UploadStatus.OPEN and _expire(session, due_by=now):
            count += 1
    return count


# ---------------------------------------------------------------- re-driving COMPLETING sessions


# ---------------------------------------------------------------- open


Actor = Principal
"""Who acts: the verified studio, user and role (from the authorizer)."""


# ---------------------------------------------------------------- status


# ---------------------------------------------------------------- complete


def _finish(session: UploadSession, actor_id: str, size: int, *, recovered: bool) -> bool:
    """Start the pipeline of a COMPLETING session whose object S3 holds; move it to COMPLETED.

    The status, the 202 body and the ``upload:completed`` entry are one transaction; the pipeline
    start before it is idempotent, so a crash in between is finished by the next call.

    Returns
    -------
    bool
        True when this call completed the session (False: a concurrent call got there first).
    """
    pipeline = _start_pipeline(session)
    body = CompleteUploadResponse(
        upload_id=session.upload_id,
        status=UploadStatus.COMPLETED.value,
        pipeline=PipelineView.model_validate(pipeline),
    ).to_json()
    details: dict[str, Any] = {"fileName": session.file_name, "size": size}
    if recovered:
        details["recovered"] = True
    completed = event_data(session, actor_id, status=UploadStatus.COMPLETED.value, pipeline=pipeline)
    return _transition(
        session,
        to=UploadStatus.COMPLETED,
        allowed_from=(UploadStatus.COMPLETING,),
        release_quota=False,
        changes={"result": body, "completed_at": clock.now_iso()},
        entry=Entry("upload:completed", actor_id, details),
        event=("upload:completed", completed),
    )


def _discard_wrong_size(session: UploadSession, size: int, actor_id: str | None) -> None:
    """The completed object is not the declared size: abort the session (quota released, entry
    logged, one transaction), then delete the object. Only the call that aborted it deletes."""
    if _transition(
        session,
        to=UploadStatus.ABORTED,
        allowed_from=(UploadStatus.COMPLETING,),
        release_quota=True,
        changes={"failure_reason": "SIZE_MISMATCH"},
        entry=Entry(
            "upload:aborted",
            actor_id,
            {"fileName": session.file_name, "reason": "SIZE_MISMATCH", "size": size},
        ),
        event=("upload:aborted", event_data(session, actor_id, status="ABORTED", reason="SIZE_MISMATCH")),
    ):
        multipart.delete_object(session.bucket, session.key)


# ---------------------------------------------------------------- abort


__all__ = [
    "Actor",
    "Entry",
    "commit",
    "event_data",
    "object_key",
    "part_checksum",
    "sweep_expired",
]
