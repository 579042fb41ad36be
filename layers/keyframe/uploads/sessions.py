"""Upload sessions as the API sees them: open (quota reserved, part URLs), status and resume, abort
(uploads table, media bucket).

Shared helpers live in :mod:`keyframe.uploads.service`; the time comes from :mod:`keyframe.clock`
(stored moments with microseconds; a part URL's ``expiresAt`` in whole seconds).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from keyframe import clock
from keyframe.errors import Conflict, InvalidInput
from keyframe.identity.permissions import Permission, require_owner_or
from keyframe.observability import logger
from keyframe.storage.together import together
from keyframe.storage.transactions import Cancelled, Transaction
from keyframe.uploads import multipart, service
from keyframe.uploads.filenames import validate_file_name
from keyframe.uploads.models import (
    SESSION_SK,
    UploadSession,
    UploadStatus,
    open_index_pk,
    session_pk,
)
from keyframe.uploads.parts import missing_parts
from keyframe.uploads.recovery import _redrive, redrive_stuck
from keyframe.uploads.schemas import (
    OpenUploadRequest,
    OpenUploadResponse,
    PartUrl,
    UploadedPart,
    UploadStatusResponse,
)
from keyframe.uploads.sizing import PartPlan, plan_parts
from keyframe.usage import quotas
from keyframe.usage.quotas import Quota


def open_upload(actor: service.Actor, asset_id: str, request: OpenUploadRequest) -> OpenUploadResponse:
    """Open a multipart upload session for a new version of ``asset_id``.

    Plans the parts; checks the asset, aborts the studio's expired OPEN sessions and re-drives its
    stuck COMPLETING sessions (a bounded number of each, at most once a minute per function
    environment: :data:`HOUSEKEEPING_INTERVAL`) while it creates the S3 multipart upload
    (:func:`_prepare`: two or four calls in flight at once); then stores the session, the ``size`` bytes of
    quota it reserves (on condition that they fit) and its ``upload:started`` activity entry in one
    transaction, while it signs the part URLs. A refused open leaves nothing: the multipart upload
    is aborted.

    Returns
    -------
    OpenUploadResponse
        The plan and presigned PUT URLs for the first parts (at most ``UPLOAD_URLS_PER_RESPONSE``).

    With ``partChecksums`` (SHA-256) or ``partCrc32`` the multipart upload declares that algorithm:
    every part URL signs its part's checksum header and the completion names each part's checksum.

    Raises
    ------
    InvalidInput
        Bad file name (``INVALID_FILE_NAME``), ``partChecksums`` or ``partCrc32`` not one per planned
        part (``PART_CHECKSUMS_MISMATCH``, details name the plan), both given (``INVALID_INPUT``).
    PayloadTooLarge
        Over 5 TiB (``FILE_TOO_LARGE``) or over the studio's storage quota
        (``STORAGE_QUOTA_EXCEEDED``, :mod:`keyframe.usage.quotas`).
    NotFound
        The asset is not in the caller's studio.
    Conflict
        The asset is archived (``ASSET_ARCHIVED``).
    """
    config = service._config()
    file_name = validate_file_name(request.file_name)
    plan = plan_parts(request.size, config.UPLOAD_MIN_PART_SIZE_BYTES)
    algorithm, declared = _declared_checksums(request, plan)

    now = clock.now()
    upload_id = str(uuid.uuid4())
    bucket = service._bucket()
    key = service.object_key(actor.studio_id, asset_id, upload_id, file_name)
    expires_at = clock.iso(now + timedelta(seconds=config.UPLOAD_SESSION_TTL_SECONDS))
    checksums = b"".join(bytes.fromhex(c) for c in declared) if declared else None
    project_id, s3_upload_id, housekept = _prepare(
        actor.studio_id,
        asset_id,
        bucket,
        key,
        lambda: multipart.create(bucket, key, request.content_type, part_checksums=algorithm),
    )
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
        part_checksum_algorithm=algorithm.name if algorithm is not None and checksums else None,
        status=UploadStatus.OPEN.value,
        created_by=actor.user_id,
        created_at=clock.iso(now),
        updated_at=clock.iso(now),
        expires_at=expires_at,
        ttl=now + timedelta(seconds=config.UPLOAD_SESSION_TTL_SECONDS) + service.EXPIRED_GRACE,
    )
    url_ttl = config.UPLOAD_URL_TTL_SECONDS
    every_part = list(range(1, plan.part_count + 1))
    limit = config.UPLOAD_URLS_PER_RESPONSE
    # the part URLs are signed (CPU) while the session's transaction is in flight (network); a
    # refused open drops them unused (signing has no side effect)
    release_expired = None if housekept else lambda: service.sweep_expired(actor.studio_id)
    reserved, signed = together(
        lambda: _reserve(session, actor.user_id, release_expired=release_expired),
        lambda: service._part_urls(session, every_part, expires_in=url_ttl, limit=limit),
    )
    if reserved.exception() is not None and signed.exception() is not None:
        logger.warning("signing the part URLs failed too", exc_info=signed.exception())
    reserved.result()
    parts, next_part = signed.result()
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
        expires_at=clock.iso_seconds(now + timedelta(seconds=url_ttl)),
        session_expires_at=expires_at,
    )


HOUSEKEEPING_INTERVAL = timedelta(minutes=1)
"""An open runs its studio's housekeeping (expired OPEN sessions aborted, stuck COMPLETING sessions
re-driven) when the function environment serving it has not run it for that studio within this
long (:func:`keyframe.clock`). Expiry is a day at the least and "stuck" 5 minutes, so a minute more
changes nothing for them; a studio's many opens stop querying its index partition twice each."""
_housekept: dict[str, datetime] = {}


def _housekeeping_due(studio_id: str) -> bool:
    """True, and now noted as the studio's last housekeeping in this environment, when the last one
    is :data:`HOUSEKEEPING_INTERVAL` old or more (or in the clock's future)."""
    now = clock.now()
    last = _housekept.get(studio_id)
    if last is not None and timedelta(0) <= now - last < HOUSEKEEPING_INTERVAL:
        return False
    _housekept[studio_id] = now
    return True


def _prepare(
    studio_id: str, asset_id: str, bucket: str, key: str, create: Callable[[], str]
) -> tuple[str, str, bool]:
    """What the open does before it stores the session, all at once (:func:`together`): the asset
    check, the studio's housekeeping when due (:func:`_housekeeping_due`: expired OPEN sessions
    aborted, stuck COMPLETING sessions re-driven, a bounded number of each) and ``create`` (the
    multipart upload at ``bucket``/``key``). The session's transaction comes after all of them, so
    its quota condition counts what the housekeeping released.

    Returns
    -------
    tuple
        ``(project id, S3 upload id, whether the housekeeping ran)``.

    Raises
    ------
    NotFound, Conflict
        From the asset check (:func:`keyframe.uploads.service._require_asset`), which wins over any
        other failure. Whatever fails, a multipart upload that was created is aborted (it holds no
        part yet); a housekeeping call that failed makes it due again.
    """
    due = _housekeeping_due(studio_id)
    housekeeping = [lambda: service.sweep_expired(studio_id), lambda: redrive_stuck(studio_id)] if due else []
    calls = together(lambda: service._require_asset(studio_id, asset_id), *housekeeping, create)
    asset, *_, created = calls
    errors = [error for call in calls if (error := call.exception()) is not None]
    if not errors:
        return asset.result(), created.result(), due
    if any(call.exception() is not None for call in calls[1:-1]):  # the housekeeping failed: due again
        _housekept.pop(studio_id, None)
    for dropped in errors[1:]:  # the first is the answer; the others are logged, not lost
        logger.warning("the open also failed here", exc_info=dropped, extra={"asset_id": asset_id})
    if created.exception() is None:
        _abort_quietly(bucket, key, created.result())
    raise errors[0]


def _abort_quietly(bucket: str, key: str, s3_upload_id: str) -> None:
    """Abort the multipart upload an open began and will not keep (no part was sent to it yet).

    A failure is logged, not raised: the open's own error is the answer, and the media bucket's
    rule drops incomplete multipart uploads after 7 days.
    """
    try:
        multipart.abort(bucket, key, s3_upload_id)
    except Exception:
        logger.exception("could not abort the multipart upload of a refused open", extra={"key": key})


def _declared_checksums(
    request: OpenUploadRequest, plan: PartPlan
) -> tuple[multipart.ChecksumAlgorithm | None, list[str] | None]:
    """The part checksums the open declares (hex, one per planned part) and their algorithm.

    Raises
    ------
    InvalidInput
        Both ``partChecksums`` and ``partCrc32`` (``INVALID_INPUT``); not one per planned part
        (``PART_CHECKSUMS_MISMATCH``, details name the plan).
    """
    if request.part_checksums is not None and request.part_crc32 is not None:
        raise InvalidInput(
            "Give partChecksums (SHA-256) or partCrc32, not both",
            details={"fields": ["partChecksums", "partCrc32"]},
        )
    if request.part_crc32 is not None:
        algorithm, declared, field = multipart.CRC32, request.part_crc32, "partCrc32"
    elif request.part_checksums is not None:
        algorithm, declared, field = multipart.SHA256, request.part_checksums, "partChecksums"
    else:
        return None, None
    if len(declared) != plan.part_count:
        raise InvalidInput(
            f"{field} has {len(declared)} entries; this file is uploaded in "
            f"{plan.part_count} parts of {plan.part_size} bytes",
            code="PART_CHECKSUMS_MISMATCH",
            details={"partSize": plan.part_size, "partCount": plan.part_count},
        )
    return algorithm, declared


def _reserve(
    session: UploadSession, actor_id: str, *, release_expired: Callable[[], int] | None = None
) -> None:
    """Save the session, add its size to the studio's usage within the quota and log
    ``upload:started``: one transaction.

    ``release_expired`` (given when this open skipped the housekeeping) aborts the studio's expired
    sessions and says how many: when the quota has no room and it released some, the reservation is
    tried once more, so an open is never refused for bytes that expired sessions held.

    Raises
    ------
    PayloadTooLarge
        The studio's storage quota has no room for ``size`` more bytes (``STORAGE_QUOTA_EXCEEDED``):
        the reservation's condition is the open's only quota check.

    Whatever fails, the multipart upload just created (no part sent yet) is aborted.
    """
    entry = service.Entry(
        "upload:started", actor_id, {"fileName": session.file_name, "size": int(session.size)}
    )
    started = ("upload:started", service.event_data(session, actor_id))

    def build() -> Transaction:
        tx = Transaction().put("session", session, UploadSession.pk.does_not_exist())
        quotas.reserve(tx, session.studio_id, Quota.STORAGE_BYTES, int(session.size))
        return tx

    for attempt in range(2):
        try:
            service.commit(session, build, entry, started)
            return
        except Cancelled as exc:
            no_room = quotas.label(Quota.STORAGE_BYTES) in exc.failed
            if no_room and attempt == 0 and _released(release_expired):
                continue  # expired sessions held some of the room, released now: try again
            _abort_quietly(session.bucket, session.key, session.s3_upload_id)
            if no_room:
                raise quotas.refusal(session.studio_id, Quota.STORAGE_BYTES, int(session.size)) from exc
            raise
        except Exception:
            _abort_quietly(session.bucket, session.key, session.s3_upload_id)
            raise


def _released(release_expired: Callable[[], int] | None) -> bool:
    """Whether ``release_expired`` released any expired session; a failure of it is logged and
    counts as none (the open then answers its own refusal)."""
    if release_expired is None:
        return False
    try:
        return release_expired() > 0
    except Exception:
        logger.exception("sweeping the expired uploads of a refused open failed")
        return False


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
    config = service._config()
    limit = min(limit or config.UPLOAD_URLS_PER_RESPONSE, config.UPLOAD_URLS_PER_RESPONSE)
    session = service._load(studio_id, asset_id, upload_id)
    service._expire_if_due(session)
    if session.status == UploadStatus.COMPLETING:
        try:
            _redrive(session)
        except Exception:  # the answer below is still true; the next GET or complete tries again
            logger.exception("re-driving a completing upload failed", extra={"upload_id": upload_id})
    plan = service._plan(session)
    uploaded: list[UploadedPart] = []
    missing: list[int] = []
    urls: list[PartUrl] = []
    next_part: int | None = None
    urls_expire: str | None = None
    if session.status == UploadStatus.OPEN:
        stored = multipart.list_parts(session.bucket, session.key, session.s3_upload_id)
        if stored is None:  # S3 aborted it (bucket lifecycle) or someone outside Keyframe did
            service._expire(session)
        else:
            uploaded = [UploadedPart(part_number=p.part_number, size=p.size, etag=p.etag) for p in stored]
            missing = missing_parts(plan, stored)
            wanted = [n for n in missing if n >= from_part]
            url_ttl = config.UPLOAD_URL_TTL_SECONDS
            urls, next_part = service._part_urls(session, wanted, expires_in=url_ttl, limit=limit)
            urls_expire = (
                clock.iso_seconds(clock.now() + timedelta(seconds=config.UPLOAD_URL_TTL_SECONDS))
                if urls
                else None
            )
    pipeline = (
        service._pipeline_status(studio_id, upload_id) if session.status == UploadStatus.COMPLETED else None
    )
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


def abort_upload(actor: service.Actor, asset_id: str, upload_id: str) -> None:
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
    session = service._load(actor.studio_id, asset_id, upload_id)
    require_owner_or(actor, session.created_by, Permission.UPLOAD_FINISH_ANY)
    aborted = False
    if session.status != UploadStatus.ABORTED:
        aborted = service._transition(
            session,
            to=UploadStatus.ABORTED,
            allowed_from=(UploadStatus.OPEN,),
            release_quota=True,
            changes={"failure_reason": "ABORTED"},
            entry=service._abort_entry(session, actor.user_id, "ABORTED"),
            event=(
                "upload:aborted",
                service.event_data(session, actor.user_id, status="ABORTED", reason="ABORTED"),
            ),
        )
        if not aborted and session.status != UploadStatus.ABORTED:
            raise Conflict(
                "The upload is already completed; it cannot be aborted",
                code="UPLOAD_COMPLETED",
                details={"uploadId": upload_id, "status": session.status},
            )
    multipart.abort(session.bucket, session.key, session.s3_upload_id)
