"""Upload sessions: open, inspect/resume, complete (starting the pipeline) and abort.

The only write path of the uploads domain. Tables and buckets touched:

- uploads table: :class:`~keyframe.uploads.models.UploadSession` and the studio's
  :class:`~keyframe.uploads.models.UploadUsage` counter;
- catalog table: reads the asset (must exist in the studio and not be archived); appends the
  ``upload:started``/``upload:completed``/``upload:aborted`` activity entries;
- media bucket: the multipart upload under
  ``studios/{studioId}/assets/{assetId}/uploads/{uploadId}/{fileName}`` (CreateMultipartUpload,
  ListParts, CompleteMultipartUpload, AbortMultipartUpload, HeadObject; DeleteObject only for a
  completed object whose size is not the declared one);
- Step Functions, through :func:`keyframe.pipeline.starter.start_pipeline` (one execution per
  upload, named by the upload id).

Every change of a session's status is ONE DynamoDB transaction (they span tables): the session's
conditional update, the usage counter when a reservation is taken or released, and the activity
entry of the change (:func:`keyframe.storage.activity.record` with ``transaction=``). So a status
and its activity entry are stored together or not at all, and no path can skip the log.

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
(once untouched for :data:`STUCK_AFTER`) the next upload opened in the studio re-drive it.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.condition import Condition

from keyframe import settings
from keyframe.catalog import service as catalog
from keyframe.errors import Conflict, InvalidInput, NotFound
from keyframe.events.publisher import emit
from keyframe.events.rooms import STUDIO_ROOM, asset_room
from keyframe.identity.permissions import Permission, Principal, require_owner_or
from keyframe.observability import logger
from keyframe.pipeline import status as pipeline_status
from keyframe.pipeline.starter import PipelineInput, start_pipeline
from keyframe.storage import activity
from keyframe.storage.transactions import Cancelled, Transaction, retrying
from keyframe.uploads import multipart, quota
from keyframe.uploads.config import UploadSettings
from keyframe.uploads.filenames import validate_file_name
from keyframe.uploads.models import (
    SESSION_SK,
    USAGE_SK,
    UploadSession,
    UploadStatus,
    UploadUsage,
    completing_index_pk,
    open_index_pk,
    session_pk,
    usage_pk,
)
from keyframe.uploads.parts import ClaimedPart, check_parts, missing_parts
from keyframe.uploads.schemas import (
    CompleteUploadResponse,
    OpenUploadRequest,
    OpenUploadResponse,
    PartUrl,
    PipelineView,
    UploadedPart,
    UploadStatusResponse,
)
from keyframe.uploads.sizing import PartPlan, plan_parts

FINISHED_RETENTION = timedelta(days=7)
"""How long a COMPLETED or ABORTED session is kept (a retried complete within it gets the same 202)."""
EXPIRED_GRACE = timedelta(days=1)
"""An OPEN session's item outlives its expiry by this much, so its quota can be released lazily."""
SWEEP_LIMIT = 25
"""Most expired sessions released per open (the rest on the next one)."""
STUCK_AFTER = timedelta(minutes=5)
"""A COMPLETING session untouched this long has no request working on it any more (the API's
Lambda stops after 29 s): it is re-driven by the next upload opened in its studio."""
REDRIVE_LIMIT = 5
"""Most stuck COMPLETING sessions re-driven per open (the rest on the next one)."""
TRANSACTION_ATTEMPTS = 3
"""Tries of a transaction that DynamoDB cancelled for a conflicting concurrent transaction."""


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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


def _usage(studio_id: str) -> UploadUsage:
    return UploadUsage(usage_pk(studio_id), USAGE_SK)


def _used_bytes(studio_id: str) -> int:
    try:
        return int(UploadUsage.get(usage_pk(studio_id), USAGE_SK, consistent_read=True).used_bytes or 0)
    except DoesNotExist:
        return 0


@dataclass(frozen=True)
class _Entry:
    """The activity entry a status change writes in the change's own transaction (catalog table)."""

    action: str
    actor_id: str | None
    details: dict[str, Any]


def _index_actions(session: UploadSession, to: UploadStatus, now: datetime) -> list[Any]:
    """``gsi1`` and ``ttl`` of a session entering ``to`` (see :mod:`keyframe.uploads.models`)."""
    if to == UploadStatus.OPEN:  # back in the expiry index, deleted a day after expiry
        expires = datetime.fromisoformat(session.expires_at.replace("Z", "+00:00"))
        return [
            UploadSession.gsi1pk.set(open_index_pk(session.studio_id)),
            UploadSession.gsi1sk.set(f"{session.expires_at}#{session.upload_id}"),
            UploadSession.ttl.set(expires + EXPIRED_GRACE),
        ]
    if to == UploadStatus.COMPLETING:  # findable until it is re-driven, and never deleted meanwhile
        return [
            UploadSession.gsi1pk.set(completing_index_pk(session.studio_id)),
            UploadSession.gsi1sk.set(f"{_iso(now)}#{session.upload_id}"),
            UploadSession.ttl.remove(),
        ]
    return [
        UploadSession.gsi1pk.remove(),
        UploadSession.gsi1sk.remove(),
        UploadSession.ttl.set(now + FINISHED_RETENTION),
    ]


def _commit(session: UploadSession, build: Callable[[], Transaction], entry: _Entry | None) -> None:
    """Commit the transaction ``build`` makes, with ``entry``'s activity put in it when given.

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
    extra_actions: list[Any] | None = None,
    entry: _Entry | None = None,
    also: Condition | None = None,
) -> bool:
    """Move ``session`` to ``to`` if its stored status is in ``allowed_from``: one transaction.

    The transaction holds the session's conditional update (status, ``gsi1``, ``ttl`` and
    ``extra_actions``), the usage decrement when ``release_quota`` (so a reservation is released
    exactly once however many aborts and expiries race) and ``entry``'s activity put (so the change
    and its log entry exist together or not at all). ``also`` adds a condition on the stored session.

    Returns
    -------
    bool
        False, and nothing written, when the stored session did not meet the condition. The session
        is re-read either way.

    Raises
    ------
    pynamodb.exceptions.TransactWriteError, keyframe.storage.transactions.Cancelled
        The write failed for another reason (throttling, a missing table ...): nothing was written.
    """
    now = _now()
    actions = [
        UploadSession.status.set(to.value),
        UploadSession.updated_at.set(_iso(now)),
        *_index_actions(session, to, now),
        *(extra_actions or []),
    ]
    condition: Condition = UploadSession.status.is_in(*[s.value for s in allowed_from])
    if also is not None:
        condition = condition & also

    def build() -> Transaction:
        tx = Transaction().update("session", session, actions, condition)
        if release_quota:
            tx.update("usage", _usage(session.studio_id), [UploadUsage.used_bytes.add(-int(session.size))])
        return tx

    try:
        _commit(session, build, entry)
    except Cancelled as exc:
        if "session" not in exc.failed:
            raise
        session.refresh(consistent_read=True)
        return False
    session.refresh(consistent_read=True)
    return True


def _abort_entry(session: UploadSession, actor_id: str | None, reason: str) -> _Entry:
    return _Entry("upload:aborted", actor_id, {"fileName": session.file_name, "reason": reason})


def _part_urls(
    session: UploadSession, numbers: list[int], *, expires_in: int, limit: int
) -> tuple[list[PartUrl], int | None]:
    """Presigned PUT URLs for the first ``limit`` of ``numbers``; also the next part number left out."""
    checksums = session.part_checksums
    urls = []
    for number in numbers[:limit]:
        checksum = None
        if checksums:
            checksum = base64.b64encode(checksums[(number - 1) * 32 : number * 32]).decode()
        url = multipart.presign_part(
            session.bucket,
            session.key,
            session.s3_upload_id,
            number,
            expires_in=expires_in,
            checksum_sha256=checksum,
        )
        headers = {multipart.CHECKSUM_HEADER: checksum} if checksum else None
        urls.append(PartUrl(part_number=number, url=url, headers=headers))
    return urls, (numbers[limit] if len(numbers) > limit else None)


def _event_data(session: UploadSession, actor_id: str | None, **extra: Any) -> dict[str, Any]:
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
        extra_actions=[UploadSession.failure_reason.set("EXPIRED")],
        entry=_abort_entry(session, None, "EXPIRED"),
        also=(UploadSession.expires_at <= due_by) if due_by is not None else None,
    )
    if aborted:
        multipart.abort(session.bucket, session.key, session.s3_upload_id)
        emit(
            session.studio_id,
            "upload:aborted",
            _event_data(session, None, reason="EXPIRED"),
            rooms=_rooms(session.asset_id),
        )
    return aborted


def _expire_if_due(session: UploadSession) -> None:
    now = _iso(_now())
    if session.status == UploadStatus.OPEN and session.expires_at <= now:
        _expire(session, due_by=now)


def sweep_expired(studio_id: str, *, limit: int = SWEEP_LIMIT) -> int:
    """Abort the studio's OPEN sessions past their expiry and release their quota (gsi1 Query).

    Returns
    -------
    int
        How many sessions were aborted.
    """
    now = _iso(_now())
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


def _stuck(session: UploadSession) -> bool:
    """True when no request has touched the COMPLETING session for :data:`STUCK_AFTER`."""
    return session.updated_at <= _iso(_now() - STUCK_AFTER)


def _redrive(session: UploadSession) -> None:
    """Carry a COMPLETING session to where its bytes are; nothing is thrown away.

    - The object exists with the declared size: start its pipeline (idempotent by upload id) and
      move to COMPLETED (``upload:completed``, on behalf of the session's creator).
    - The object exists with another size: discard it as ``complete`` would (ABORTED, SIZE_MISMATCH).
    - No object, and no request touched the session for :data:`STUCK_AFTER` (so no complete is
      between its COMPLETING mark and S3): if S3 still holds the parts the complete never reached
      S3 and the session is OPEN again (the client completes again); if S3 holds neither, there is
      nothing to keep: ABORTED (``OBJECT_MISSING``) and its quota released.

    Reads and writes the uploads table, the media bucket, the catalog (activity) and Step Functions.
    """
    size = multipart.object_size(session.bucket, session.key)
    if size is not None:
        if size != int(session.size):
            _discard_wrong_size(session, size, None)
        else:
            _finish(session, session.created_by, size, recovered=True)
        return
    if not _stuck(session):
        return
    untouched = UploadSession.updated_at == session.updated_at
    if multipart.list_parts(session.bucket, session.key, session.s3_upload_id) is not None:
        _transition(
            session,
            to=UploadStatus.OPEN,
            allowed_from=(UploadStatus.COMPLETING,),
            release_quota=False,
            also=untouched,
        )
        return
    if _transition(
        session,
        to=UploadStatus.ABORTED,
        allowed_from=(UploadStatus.COMPLETING,),
        release_quota=True,
        extra_actions=[UploadSession.failure_reason.set("OBJECT_MISSING")],
        entry=_abort_entry(session, None, "OBJECT_MISSING"),
        also=untouched,
    ):
        emit(
            session.studio_id,
            "upload:aborted",
            _event_data(session, None, reason="OBJECT_MISSING"),
            rooms=_rooms(session.asset_id),
        )


def redrive_stuck(studio_id: str, *, limit: int = REDRIVE_LIMIT) -> int:
    """Re-drive the studio's COMPLETING sessions untouched for :data:`STUCK_AFTER` (gsi1 Query).

    A failure on one session is logged and left for the next call; it never fails the caller.

    Returns
    -------
    int
        How many sessions left COMPLETING.
    """
    before = _iso(_now() - STUCK_AFTER)
    stuck = UploadSession.gsi1.query(
        completing_index_pk(studio_id), UploadSession.gsi1sk < f"{before}#", limit=limit
    )
    count = 0
    for found in stuck:
        session = UploadSession.get(found.pk, found.sk, consistent_read=True)
        if session.status != UploadStatus.COMPLETING or not _stuck(session):
            continue
        try:
            _redrive(session)
        except Exception:  # one bad session must not block the studio's new uploads
            logger.exception("re-driving a stuck upload failed", extra={"upload_id": session.upload_id})
            continue
        count += session.status != UploadStatus.COMPLETING
    return count


# ---------------------------------------------------------------- open


Actor = Principal
"""Who acts: the verified studio, user and role (from the authorizer)."""


def open_upload(actor: Actor, asset_id: str, request: OpenUploadRequest) -> OpenUploadResponse:
    """Open a multipart upload session for a new version of ``asset_id``.

    Plans the parts, checks the asset and the studio's quota, creates the S3 multipart upload and
    stores the session, the ``size`` bytes of quota it reserves and its ``upload:started`` activity
    entry in one transaction. Before that, the studio's expired OPEN sessions are aborted and its
    stuck COMPLETING sessions re-driven (a bounded number of each).

    Returns
    -------
    OpenUploadResponse
        The plan and presigned PUT URLs for the first parts (at most ``UPLOAD_URLS_PER_RESPONSE``).

    Raises
    ------
    InvalidInput
        Bad file name (``INVALID_FILE_NAME``), ``partChecksums`` not one per planned part
        (``PART_CHECKSUMS_MISMATCH``, details name the plan).
    PayloadTooLarge
        Over 5 TiB (``FILE_TOO_LARGE``) or over the studio's quota (``QUOTA_EXCEEDED``).
    NotFound
        The asset is not in the caller's studio.
    Conflict
        The asset is archived (``ASSET_ARCHIVED``).
    """
    config = _config()
    file_name = validate_file_name(request.file_name)
    plan = plan_parts(request.size, config.UPLOAD_MIN_PART_SIZE_BYTES)
    if request.part_checksums is not None and len(request.part_checksums) != plan.part_count:
        raise InvalidInput(
            f"partChecksums has {len(request.part_checksums)} entries; this file is uploaded in "
            f"{plan.part_count} parts of {plan.part_size} bytes",
            code="PART_CHECKSUMS_MISMATCH",
            details={"partSize": plan.part_size, "partCount": plan.part_count},
        )
    project_id = _require_asset(actor.studio_id, asset_id)
    sweep_expired(actor.studio_id)
    redrive_stuck(actor.studio_id)
    wanted = quota.check(config.STUDIO_QUOTA_BYTES, _used_bytes(actor.studio_id), plan.size)
    if not wanted.allowed:
        raise wanted.error()

    now = _now()
    upload_id = str(uuid.uuid4())
    bucket = _bucket()
    key = object_key(actor.studio_id, asset_id, upload_id, file_name)
    expires_at = _iso(now + timedelta(seconds=config.UPLOAD_SESSION_TTL_SECONDS))
    checksums = b"".join(bytes.fromhex(c) for c in request.part_checksums) if request.part_checksums else None
    s3_upload_id = multipart.create(bucket, key, request.content_type, sha256_parts=checksums is not None)
    session = UploadSession(
        session_pk(actor.studio_id, upload_id),
        SESSION_SK,
        gsi1pk=open_index_pk(actor.studio_id),
        gsi1sk=f"{expires_at}#{upload_id}",
        studio_id=actor.studio_id,
        upload_id=upload_id,
        asset_id=asset_id,
        project_id=project_id,
        bucket=bucket,
        key=key,
        s3_upload_id=s3_upload_id,
        file_name=file_name,
        size=plan.size,
        content_type=request.content_type,
        sha256=request.sha256,
        change_note=request.change_note or None,
        part_size=plan.part_size,
        part_count=plan.part_count,
        part_checksums=checksums,
        status=UploadStatus.OPEN.value,
        created_by=actor.user_id,
        created_at=_iso(now),
        updated_at=_iso(now),
        expires_at=expires_at,
        ttl=now + timedelta(seconds=config.UPLOAD_SESSION_TTL_SECONDS) + EXPIRED_GRACE,
    )
    _reserve(session, wanted, actor.user_id)

    url_ttl = config.UPLOAD_URL_TTL_SECONDS
    every_part = list(range(1, plan.part_count + 1))
    limit = config.UPLOAD_URLS_PER_RESPONSE
    parts, next_part = _part_urls(session, every_part, expires_in=url_ttl, limit=limit)
    emit(actor.studio_id, "upload:started", _event_data(session, actor.user_id), rooms=_rooms(asset_id))
    return OpenUploadResponse(
        upload_id=upload_id,
        asset_id=asset_id,
        status=session.status,
        file_name=file_name,
        size=plan.size,
        part_size=plan.part_size,
        part_count=plan.part_count,
        parts=parts,
        next_part_number=next_part,
        expires_at=_iso(now + timedelta(seconds=url_ttl)),
        session_expires_at=expires_at,
    )


def _reserve(session: UploadSession, wanted: quota.QuotaCheck, actor_id: str) -> None:
    """Save the session, add its size to the studio's usage within the quota and log
    ``upload:started``: one transaction.

    Raises
    ------
    PayloadTooLarge
        Another upload took the room meanwhile.

    Whatever fails, the multipart upload just created (no part sent yet) is aborted.
    """
    usage = _usage(session.studio_id)
    within = UploadUsage.used_bytes.does_not_exist() | (UploadUsage.used_bytes <= wanted.max_used_before)
    entry = _Entry("upload:started", actor_id, {"fileName": session.file_name, "size": int(session.size)})

    def build() -> Transaction:
        return (
            Transaction()
            .put("session", session, UploadSession.pk.does_not_exist())
            .update("usage", usage, [UploadUsage.used_bytes.add(int(session.size))], within)
        )

    try:
        _commit(session, build, entry)
    except Cancelled as exc:
        multipart.abort(session.bucket, session.key, session.s3_upload_id)
        if "usage" in exc.failed:
            raise quota.check(wanted.quota, _used_bytes(session.studio_id), wanted.requested).error() from exc
        raise
    except Exception:
        multipart.abort(session.bucket, session.key, session.s3_upload_id)
        raise


# ---------------------------------------------------------------- status


def get_upload(
    studio_id: str, asset_id: str, upload_id: str, *, from_part: int = 1, limit: int | None = None
) -> UploadStatusResponse:
    """The session as S3 sees it now, with fresh URLs for the parts still missing.

    An expired OPEN session is aborted first; a COMPLETING session is re-driven first (see
    :func:`_redrive`: a complete that crashed after S3 completed the object is finished here).

    Parameters
    ----------
    from_part:
        First part number to return URLs for (for uploads with more parts than one response holds).
    limit:
        Most URLs to return (default and cap ``UPLOAD_URLS_PER_RESPONSE``).

    Raises
    ------
    NotFound
        Not an upload of this asset in the caller's studio.
    """
    config = _config()
    limit = min(limit or config.UPLOAD_URLS_PER_RESPONSE, config.UPLOAD_URLS_PER_RESPONSE)
    session = _load(studio_id, asset_id, upload_id)
    _expire_if_due(session)
    if session.status == UploadStatus.COMPLETING:
        try:
            _redrive(session)
        except Exception:  # the answer below is still true; the next GET or complete tries again
            logger.exception("re-driving a completing upload failed", extra={"upload_id": upload_id})
    plan = _plan(session)
    uploaded: list[UploadedPart] = []
    missing: list[int] = []
    urls: list[PartUrl] = []
    next_part: int | None = None
    urls_expire: str | None = None
    if session.status == UploadStatus.OPEN:
        stored = multipart.list_parts(session.bucket, session.key, session.s3_upload_id)
        if stored is None:  # S3 aborted it (bucket lifecycle) or someone outside Keyframe did
            _expire(session)
        else:
            uploaded = [UploadedPart(part_number=p.part_number, size=p.size, etag=p.etag) for p in stored]
            missing = missing_parts(plan, stored)
            wanted = [n for n in missing if n >= from_part]
            url_ttl = config.UPLOAD_URL_TTL_SECONDS
            urls, next_part = _part_urls(session, wanted, expires_in=url_ttl, limit=limit)
            urls_expire = _iso(_now() + timedelta(seconds=config.UPLOAD_URL_TTL_SECONDS)) if urls else None
    pipeline = _pipeline_status(studio_id, upload_id) if session.status == UploadStatus.COMPLETED else None
    if pipeline is None and session.result:
        pipeline = session.result.get("pipeline")
    version = pipeline.get("version") if isinstance(pipeline, dict) else None
    return UploadStatusResponse(
        upload_id=session.upload_id,
        asset_id=session.asset_id,
        status=session.status,
        file_name=session.file_name,
        size=plan.size,
        part_size=plan.part_size,
        part_count=plan.part_count,
        uploaded_parts=uploaded,
        missing_parts=missing,
        parts=urls,
        next_part_number=next_part,
        expires_at=urls_expire,
        session_expires_at=session.expires_at,
        failure_reason=session.failure_reason,
        version=int(version) if isinstance(version, int | float) else None,
        pipeline=pipeline,
    )


# ---------------------------------------------------------------- complete


def complete_upload(
    actor: Actor, asset_id: str, upload_id: str, claimed: list[ClaimedPart]
) -> CompleteUploadResponse:
    """Complete the multipart upload and start its one pipeline execution.

    Order: the part list is checked against ListParts and the plan (nothing is changed when it is
    wrong); the session moves to COMPLETING (abort is refused from then on); S3 completes the
    object; HeadObject checks the size; the pipeline starts (named by the upload id); the session
    becomes COMPLETED holding the 202 body, with its ``upload:completed`` entry. A complete on a
    COMPLETED session returns that body; on a COMPLETING session whose object S3 already holds (an
    earlier complete crashed after S3) it finishes what that one began.

    Raises
    ------
    NotFound
        Not an upload of this asset in the caller's studio.
    Forbidden
        ``NOT_UPLOADER``: someone else's upload, and the caller's role lacks ``upload:finish-any``.
    InvalidInput
        ``UPLOAD_PARTS_INVALID`` (details name the parts; the upload stays open) or
        ``SIZE_MISMATCH`` (the completed object was not the declared size: it is deleted and the
        session aborted).
    Conflict
        The session was aborted or expired (``UPLOAD_ABORTED``), or its object is missing
        (``UPLOAD_OBJECT_MISSING``).
    """
    session = _load(actor.studio_id, asset_id, upload_id)
    require_owner_or(actor, session.created_by, Permission.UPLOAD_FINISH_ANY)
    if session.status == UploadStatus.COMPLETED:
        return CompleteUploadResponse.model_validate(session.result)
    _expire_if_due(session)
    if session.status == UploadStatus.ABORTED:
        raise _aborted(session)

    plan = _plan(session)
    stored = multipart.list_parts(session.bucket, session.key, session.s3_upload_id)
    if stored is not None:
        parts = check_parts(plan, claimed, stored)
        if not _transition(
            session,
            to=UploadStatus.COMPLETING,
            allowed_from=(UploadStatus.OPEN, UploadStatus.COMPLETING),
            release_quota=False,
        ):
            return _settled(session)
        _complete_in_s3(session, parts)
    elif session.status == UploadStatus.OPEN:  # S3 lost the upload before we ever completed it
        _expire(session)
        raise _aborted(session)

    size = multipart.object_size(session.bucket, session.key)
    if size is None:  # COMPLETING with neither parts nor object: someone deleted it by hand
        _redrive(session)  # once stuck: ABORTED (OBJECT_MISSING) and its quota released
        if session.status == UploadStatus.ABORTED:
            raise _aborted(session)
        raise Conflict("The uploaded object is missing; start a new upload", code="UPLOAD_OBJECT_MISSING")
    if size != plan.size:
        _discard_wrong_size(session, size, actor.user_id)
        raise InvalidInput(
            f"The uploaded file is {size} bytes but {plan.size} were declared; it was discarded",
            code="SIZE_MISMATCH",
            details={"declaredSize": plan.size, "size": size},
        )
    _finish(session, actor.user_id, size, recovered=False)
    return _settled(session)


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
    if not _transition(
        session,
        to=UploadStatus.COMPLETED,
        allowed_from=(UploadStatus.COMPLETING,),
        release_quota=False,
        extra_actions=[UploadSession.result.set(body), UploadSession.completed_at.set(_iso(_now()))],
        entry=_Entry("upload:completed", actor_id, details),
    ):
        return False
    emit(
        session.studio_id,
        "upload:completed",
        _event_data(session, actor_id, pipeline=pipeline),
        rooms=_rooms(session.asset_id),
    )
    return True


def _complete_in_s3(session: UploadSession, parts: list[multipart.StoredPart]) -> None:
    """CompleteMultipartUpload; if S3 refuses the list, reopen the session and raise 400."""
    try:
        multipart.complete(session.bucket, session.key, session.s3_upload_id, _complete_parts(session, parts))
    except multipart.PartsRejected as exc:  # a part changed between ListParts and now
        _transition(
            session, to=UploadStatus.OPEN, allowed_from=(UploadStatus.COMPLETING,), release_quota=False
        )
        raise InvalidInput(
            "Storage refused the part list (a part changed meanwhile); nothing was published. "
            "Check the upload's parts and complete again",
            code="UPLOAD_PARTS_INVALID",
            details={"storageCode": exc.code},
        ) from exc


def _complete_parts(session: UploadSession, parts: list[multipart.StoredPart]) -> list[dict[str, Any]]:
    checksums = session.part_checksums
    completed = []
    for part in parts:
        entry: dict[str, Any] = {"PartNumber": part.part_number, "ETag": f'"{part.etag}"'}
        if checksums:
            n = part.part_number
            entry["ChecksumSHA256"] = base64.b64encode(checksums[(n - 1) * 32 : n * 32]).decode()
        completed.append(entry)
    return completed


def _settled(session: UploadSession) -> CompleteUploadResponse:
    """The 202 body of a COMPLETED session, or the 409 of one that ended otherwise."""
    if session.status == UploadStatus.COMPLETED and session.result:
        return CompleteUploadResponse.model_validate(session.result)
    raise _aborted(session)


def _aborted(session: UploadSession) -> Conflict:
    reason = session.failure_reason or "ABORTED"
    return Conflict(
        f"The upload was {'expired' if reason == 'EXPIRED' else 'aborted'}; start a new upload",
        code="UPLOAD_ABORTED",
        details={"uploadId": session.upload_id, "status": session.status, "reason": reason},
    )


def _discard_wrong_size(session: UploadSession, size: int, actor_id: str | None) -> None:
    """The completed object is not the declared size: abort the session (quota released, entry
    logged, one transaction), then delete the object. Only the call that aborted it deletes."""
    if _transition(
        session,
        to=UploadStatus.ABORTED,
        allowed_from=(UploadStatus.COMPLETING,),
        release_quota=True,
        extra_actions=[UploadSession.failure_reason.set("SIZE_MISMATCH")],
        entry=_Entry(
            "upload:aborted",
            actor_id,
            {"fileName": session.file_name, "reason": "SIZE_MISMATCH", "size": size},
        ),
    ):
        multipart.delete_object(session.bucket, session.key)
        emit(
            session.studio_id,
            "upload:aborted",
            _event_data(session, actor_id, reason="SIZE_MISMATCH"),
            rooms=_rooms(session.asset_id),
        )


# ---------------------------------------------------------------- abort


def abort_upload(actor: Actor, asset_id: str, upload_id: str) -> None:
    """Abort an OPEN session: S3 drops its parts and the studio's quota gets the bytes back.

    The status, the usage and the ``upload:aborted`` entry change in one transaction, then S3
    drops the parts. Aborting an already aborted session only makes sure S3 dropped them (DELETE is
    idempotent, and finishes an abort that crashed after its transaction).

    Raises
    ------
    NotFound
        Not an upload of this asset in the caller's studio.
    Forbidden
        ``NOT_UPLOADER``: someone else's upload, and the caller's role lacks ``upload:finish-any``.
    Conflict
        The session is completing or completed (``UPLOAD_COMPLETED``): bytes that became a
        version are never deleted by an abort.
    """
    session = _load(actor.studio_id, asset_id, upload_id)
    require_owner_or(actor, session.created_by, Permission.UPLOAD_FINISH_ANY)
    aborted = False
    if session.status != UploadStatus.ABORTED:
        aborted = _transition(
            session,
            to=UploadStatus.ABORTED,
            allowed_from=(UploadStatus.OPEN,),
            release_quota=True,
            extra_actions=[UploadSession.failure_reason.set("ABORTED")],
            entry=_abort_entry(session, actor.user_id, "ABORTED"),
        )
        if not aborted and session.status != UploadStatus.ABORTED:
            raise Conflict(
                "The upload is already completed; it cannot be aborted",
                code="UPLOAD_COMPLETED",
                details={"uploadId": upload_id, "status": session.status},
            )
    multipart.abort(session.bucket, session.key, session.s3_upload_id)
    if aborted:
        emit(
            actor.studio_id,
            "upload:aborted",
            _event_data(session, actor.user_id, reason="ABORTED"),
            rooms=_rooms(asset_id),
        )


__all__ = [
    "Actor",
    "abort_upload",
    "complete_upload",
    "get_upload",
    "object_key",
    "open_upload",
    "redrive_stuck",
    "sweep_expired",
]
