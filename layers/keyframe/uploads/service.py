"""Upload sessions: open, inspect/resume, complete (starting the pipeline) and abort.

The only write path of the uploads domain. Tables and buckets touched:

- uploads table: :class:`~keyframe.uploads.models.UploadSession` and the studio's
  :class:`~keyframe.uploads.models.UploadUsage` counter, always changed together in one
  DynamoDB transaction when a reservation is taken or released (open, abort, expiry, size mismatch);
- media bucket: the multipart upload under
  ``studios/{studioId}/assets/{assetId}/uploads/{uploadId}/{fileName}`` (CreateMultipartUpload,
  ListParts, CompleteMultipartUpload, AbortMultipartUpload, HeadObject; DeleteObject only for a
  completed object whose size is not the declared one);
- catalog: reads the asset (must exist in the studio and not be archived) and records activity;
- Step Functions, through :func:`keyframe.pipeline.starter.start_pipeline` (one execution per
  upload, named by the upload id).

Life of a session::

    OPEN ──complete──> COMPLETING ──> COMPLETED      (a retried complete answers the same 202)
      └──abort / expiry──> ABORTED                   (abort after COMPLETING/COMPLETED -> 409)

Every step of ``complete`` may be retried after a crash: S3 forgetting an upload it completed is
recognised by HeadObject, and the pipeline start is idempotent by execution name.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from keyframe import settings
from keyframe.catalog import activity
from keyframe.catalog import service as catalog
from keyframe.errors import Conflict, InvalidInput, NotFound
from keyframe.events.publisher import emit
from keyframe.observability import logger
from keyframe.pipeline import status as pipeline_status
from keyframe.pipeline.starter import PipelineInput, start_pipeline
from keyframe.uploads import multipart, quota
from keyframe.uploads.config import UploadSettings
from keyframe.uploads.filenames import validate_file_name
from keyframe.uploads.models import (
    SESSION_SK,
    USAGE_SK,
    UploadSession,
    UploadStatus,
    UploadUsage,
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
    return ["studio", f"asset:{asset_id}"]


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


def _record_activity(
    session: UploadSession, actor_id: str | None, action: str, details: dict[str, Any]
) -> None:
    """Append to the catalog's activity log (best effort: the upload itself already happened)."""
    try:
        activity.record(
            session.studio_id,
            actor_id,
            action,
            "upload",
            session.upload_id,
            details,
            project_id=session.project_id,
            asset_id=session.asset_id,
        )
    except Exception:  # an activity entry must never undo or fail an upload
        logger.exception("activity record failed", extra={"action": action, "upload_id": session.upload_id})


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


def _cancelled_labels(exc: TransactWriteError, labels: list[str]) -> set[str]:
    if exc.cause_response_code != "TransactionCanceledException":
        raise exc
    reasons = exc.cancellation_reasons or []
    return {
        label
        for label, reason in zip(labels, reasons, strict=False)
        if reason is not None and reason.code == "ConditionalCheckFailed"
    }


def _transition(
    session: UploadSession,
    *,
    to: UploadStatus,
    allowed_from: tuple[UploadStatus, ...],
    release_quota: bool,
    extra_actions: list[Any] | None = None,
) -> bool:
    """Move ``session`` to ``to`` if its stored status is in ``allowed_from``; release its bytes.

    The status change and the usage decrement are one transaction, so a reservation is released
    exactly once however many aborts/expiries race. Returns False when the status was not allowed.
    """
    now = _now()
    actions = [
        UploadSession.status.set(to.value),
        UploadSession.updated_at.set(_iso(now)),
        *(extra_actions or []),
    ]
    if to == UploadStatus.OPEN:  # back in the expiry index
        actions += [
            UploadSession.gsi1pk.set(open_index_pk(session.studio_id)),
            UploadSession.gsi1sk.set(f"{session.expires_at}#{session.upload_id}"),
        ]
    else:
        actions += [UploadSession.gsi1pk.remove(), UploadSession.gsi1sk.remove()]
    if to in (UploadStatus.COMPLETED, UploadStatus.ABORTED):
        actions.append(UploadSession.ttl.set(now + FINISHED_RETENTION))
    condition: Condition = UploadSession.status.is_in(*[s.value for s in allowed_from])
    try:
        with TransactWrite(connection=UploadSession._get_connection().connection) as tx:
            tx.update(session, actions=actions, condition=condition)
            if release_quota:
                tx.update(_usage(session.studio_id), actions=[UploadUsage.used_bytes.add(-int(session.size))])
    except TransactWriteError as exc:
        if "session" in _cancelled_labels(exc, ["session", "usage"]):
            session.refresh(consistent_read=True)
            return False
        raise
    session.refresh(consistent_read=True)
    return True


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
            session.bucket, session.key, session.s3_upload_id, number,
            expires_in=expires_in, checksum_sha256=checksum,
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


# ---------------------------------------------------------------- expiry


def _expire(session: UploadSession) -> None:
    """Abort an OPEN session whose time is up (or whose multipart upload S3 no longer has)."""
    if _transition(
        session,
        to=UploadStatus.ABORTED,
        allowed_from=(UploadStatus.OPEN,),
        release_quota=True,
        extra_actions=[UploadSession.failure_reason.set("EXPIRED")],
    ):
        multipart.abort(session.bucket, session.key, session.s3_upload_id)
        emit(session.studio_id, "upload:aborted", _event_data(session, None, reason="EXPIRED"),
             rooms=_rooms(session.asset_id))
        _record_activity(
            session, None, "upload:aborted", {"fileName": session.file_name, "reason": "EXPIRED"}
        )


def _expire_if_due(session: UploadSession) -> None:
    if session.status == UploadStatus.OPEN and session.expires_at <= _iso(_now()):
        _expire(session)


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
        if session.status == UploadStatus.OPEN:
            _expire(session)
            count += 1
    return count


# ---------------------------------------------------------------- open


@dataclass(frozen=True)
class Actor:
    """Who acts: the verified studio and user (from the authorizer)."""

    studio_id: str
    user_id: str


def open_upload(actor: Actor, asset_id: str, request: OpenUploadRequest) -> OpenUploadResponse:
    """Open a multipart upload session for a new version of ``asset_id``.

    Plans the parts, checks the asset and the studio's quota, creates the S3 multipart upload and
    reserves ``size`` bytes of quota together with the session (one transaction).

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
    _reserve(session, wanted, s3_upload_id)

    url_ttl = config.UPLOAD_URL_TTL_SECONDS
    every_part = list(range(1, plan.part_count + 1))
    limit = config.UPLOAD_URLS_PER_RESPONSE
    parts, next_part = _part_urls(session, every_part, expires_in=url_ttl, limit=limit)
    emit(actor.studio_id, "upload:started", _event_data(session, actor.user_id), rooms=_rooms(asset_id))
    _record_activity(session, actor.user_id, "upload:started", {"fileName": file_name, "size": plan.size})
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


def _reserve(session: UploadSession, wanted: quota.QuotaCheck, s3_upload_id: str) -> None:
    """Save the session and add its size to the studio's usage, atomically and within the quota.

    Raises
    ------
    PayloadTooLarge
        Another upload took the room meanwhile (the multipart upload just created is aborted).
    """
    usage = _usage(session.studio_id)
    condition = UploadUsage.used_bytes.does_not_exist() | (UploadUsage.used_bytes <= wanted.max_used_before)
    try:
        with TransactWrite(connection=UploadSession._get_connection().connection) as tx:
            tx.save(session, condition=UploadSession.pk.does_not_exist())
            tx.update(usage, actions=[UploadUsage.used_bytes.add(int(session.size))], condition=condition)
    except TransactWriteError as exc:
        multipart.abort(session.bucket, session.key, s3_upload_id)
        if "usage" in _cancelled_labels(exc, ["session", "usage"]):
            raise quota.check(wanted.quota, _used_bytes(session.studio_id), wanted.requested).error() from exc
        raise


# ---------------------------------------------------------------- status


def get_upload(
    studio_id: str, asset_id: str, upload_id: str, *, from_part: int = 1, limit: int | None = None
) -> UploadStatusResponse:
    """The session as S3 sees it now, with fresh URLs for the parts still missing.

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
    becomes COMPLETED holding the 202 body. A complete on a COMPLETED session returns that body.

    Raises
    ------
    NotFound
        Not an upload of this asset in the caller's studio.
    InvalidInput
        ``UPLOAD_PARTS_INVALID`` (details name the parts; the upload stays open) or
        ``SIZE_MISMATCH`` (the completed object was not the declared size: it is deleted and the
        session aborted).
    Conflict
        The session was aborted or expired (``UPLOAD_ABORTED``).
    """
    session = _load(actor.studio_id, asset_id, upload_id)
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
            session, to=UploadStatus.COMPLETING,
            allowed_from=(UploadStatus.OPEN, UploadStatus.COMPLETING), release_quota=False,
        ):
            return _settled(session)
        _complete_in_s3(session, parts)
    elif session.status == UploadStatus.OPEN:  # S3 lost the upload before we ever completed it
        _expire(session)
        raise _aborted(session)

    size = multipart.object_size(session.bucket, session.key)
    if size is None:  # COMPLETING but no object: cannot happen unless someone deleted it by hand
        raise Conflict("The uploaded object is missing; start a new upload", code="UPLOAD_OBJECT_MISSING")
    if size != plan.size:
        _reject_size(actor, session, size)

    pipeline = _start_pipeline(session)
    body = CompleteUploadResponse(
        upload_id=upload_id,
        status=UploadStatus.COMPLETED.value,
        pipeline=PipelineView.model_validate(pipeline),
    ).to_json()
    if not _transition(
        session, to=UploadStatus.COMPLETED, allowed_from=(UploadStatus.COMPLETING,), release_quota=False,
        extra_actions=[UploadSession.result.set(body), UploadSession.completed_at.set(_iso(_now()))],
    ):
        return _settled(session)
    emit(actor.studio_id, "upload:completed", _event_data(session, actor.user_id, pipeline=pipeline),
         rooms=_rooms(asset_id))
    _record_activity(
        session, actor.user_id, "upload:completed", {"fileName": session.file_name, "size": size}
    )
    return CompleteUploadResponse.model_validate(body)


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
    """A concurrent request finished the session first: answer with what it left."""
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


def _reject_size(actor: Actor, session: UploadSession, size: int) -> None:
    """The completed object is not the declared size: delete it, abort the session, raise 400."""
    multipart.delete_object(session.bucket, session.key)
    _transition(
        session, to=UploadStatus.ABORTED, allowed_from=(UploadStatus.COMPLETING,), release_quota=True,
        extra_actions=[UploadSession.failure_reason.set("SIZE_MISMATCH")],
    )
    emit(actor.studio_id, "upload:aborted", _event_data(session, actor.user_id, reason="SIZE_MISMATCH"),
         rooms=_rooms(session.asset_id))
    _record_activity(session, actor.user_id, "upload:aborted", {"fileName": session.file_name,
                                                               "reason": "SIZE_MISMATCH"})
    raise InvalidInput(
        f"The uploaded file is {size} bytes but {int(session.size)} were declared; it was discarded",
        code="SIZE_MISMATCH",
        details={"declaredSize": int(session.size), "size": size},
    )


# ---------------------------------------------------------------- abort


def abort_upload(actor: Actor, asset_id: str, upload_id: str) -> None:
    """Abort an OPEN session: S3 drops its parts and the studio's quota gets the bytes back.

    Aborting an already aborted session does nothing (DELETE is idempotent).

    Raises
    ------
    NotFound
        Not an upload of this asset in the caller's studio.
    Conflict
        The session is completing or completed (``UPLOAD_COMPLETED``): bytes that became a
        version are never deleted by an abort.
    """
    session = _load(actor.studio_id, asset_id, upload_id)
    if session.status == UploadStatus.ABORTED:
        return
    aborted = _transition(
        session, to=UploadStatus.ABORTED, allowed_from=(UploadStatus.OPEN,), release_quota=True,
        extra_actions=[UploadSession.failure_reason.set("ABORTED")],
    )
    if not aborted:
        if session.status == UploadStatus.ABORTED:
            return
        raise Conflict(
            "The upload is already completed; it cannot be aborted",
            code="UPLOAD_COMPLETED",
            details={"uploadId": upload_id, "status": session.status},
        )
    multipart.abort(session.bucket, session.key, session.s3_upload_id)
    emit(actor.studio_id, "upload:aborted", _event_data(session, actor.user_id, reason="ABORTED"),
         rooms=_rooms(asset_id))
    _record_activity(
        session, actor.user_id, "upload:aborted", {"fileName": session.file_name, "reason": "ABORTED"}
    )


__all__ = [
    "Actor",
    "abort_upload",
    "complete_upload",
    "get_upload",
    "object_key",
    "open_upload",
    "sweep_expired",
]
