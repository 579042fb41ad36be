"""Completing an upload: S3 CompleteMultipartUpload, the size check, COMPLETED and the pipeline
start (uploads table, media bucket, Step Functions).

Shared helpers and the hooks tests replace (``start_pipeline``) live in
:mod:`keyframe.uploads.service`; the time comes from :mod:`keyframe.clock`.
"""

from __future__ import annotations

from typing import Any

from keyframe.errors import Conflict, InvalidInput
from keyframe.identity.permissions import Permission, require_owner_or
from keyframe.uploads import multipart, service
from keyframe.uploads.models import (
    UploadSession,
    UploadStatus,
)
from keyframe.uploads.parts import ClaimedPart, check_parts
from keyframe.uploads.recovery import _redrive
from keyframe.uploads.schemas import (
    CompleteUploadResponse,
)


def complete_upload(
    actor: service.Actor,
    asset_id: str,
    upload_id: str,
    claimed: list[ClaimedPart],
    *,
    sha256: str | None = None,
) -> CompleteUploadResponse:
    """Complete the multipart upload and start its one pipeline execution.

    Order: the part list is checked against ListParts and the plan (nothing is changed when it is
    wrong); the session moves to COMPLETING (abort is refused from then on; a ``sha256`` given now
    is stored with that write); S3 completes the object; the pipeline starts (named by the upload
    id); the session becomes COMPLETED holding the 202 body, with its ``upload:completed`` entry.
    The object this call completes is made of exactly the parts checked (their ETags and declared
    checksums are named in the completion, so S3 refuses a part changed since), so its size is the
    declared one without a HeadObject. A complete on a COMPLETED session returns that body; on a
    COMPLETING session whose object S3 already holds (an earlier complete crashed after S3, or a
    concurrent one got there first) it finishes what that one began, after HeadObject checks the
    object's size.

    Raises
    ------
    NotFound
        Not an upload of this asset in the caller's studio.
    Forbidden
        ``NOT_UPLOADER``: someone else's upload, and the caller's role lacks ``upload:finish-any``.
    InvalidInput
        ``CHECKSUM_MISMATCH``: ``sha256`` (hex, the whole file's, for a session opened without one;
        stored on the session, so Validate checks it) differs from the one declared at the open;
        ``UPLOAD_PARTS_INVALID`` (details name the parts; the upload stays open) or
        ``SIZE_MISMATCH`` (the completed object was not the declared size: it is deleted and the
        session aborted).
    Conflict
        The session was aborted or expired (``UPLOAD_ABORTED``), or its object is missing
        (``UPLOAD_OBJECT_MISSING``).
    """
    session = service._load(actor.studio_id, asset_id, upload_id)
    require_owner_or(actor, session.created_by, Permission.UPLOAD_FINISH_ANY)
    if session.status == UploadStatus.COMPLETED:
        return CompleteUploadResponse.model_validate(session.result)
    service._expire_if_due(session)
    if session.status == UploadStatus.ABORTED:
        raise _aborted(session)
    declared = _check_sha256(session, sha256.lower()) if sha256 is not None else None

    plan = service._plan(session)
    stored = multipart.list_parts(session.bucket, session.key, session.s3_upload_id)
    made_here = False
    if stored is not None:
        parts = check_parts(plan, claimed, stored)
        if not service._transition(
            session,
            to=UploadStatus.COMPLETING,
            allowed_from=(UploadStatus.OPEN, UploadStatus.COMPLETING),
            release_quota=False,
            changes={"sha256": declared} if declared else None,  # stored with the transition
        ):
            return _settled(session)
        made_here = _complete_in_s3(session, parts)
    elif session.status == UploadStatus.OPEN:  # S3 lost the upload before we ever completed it
        service._expire(session)
        raise _aborted(session)
    elif declared:  # COMPLETING, S3 already completed the object: the pipeline takes the hash
        session.update(actions=[UploadSession.sha256.set(declared)])

    if made_here:  # the parts just checked, in the plan's sizes
        service._finish(session, actor.user_id, plan.size, recovered=False)
        return _settled(session)
    size = multipart.object_size(session.bucket, session.key)
    if size is None:  # COMPLETING with neither parts nor object: someone deleted it by hand
        _redrive(session)  # once stuck: ABORTED (OBJECT_MISSING) and its quota released
        if session.status == UploadStatus.ABORTED:
            raise _aborted(session)
        raise Conflict("The uploaded object is missing; start a new upload", code="UPLOAD_OBJECT_MISSING")
    if size != plan.size:
        service._discard_wrong_size(session, size, actor.user_id)
        raise InvalidInput(
            f"The uploaded file is {size} bytes but {plan.size} were declared; it was discarded",
            code="SIZE_MISMATCH",
            details={"declaredSize": plan.size, "size": size},
        )
    service._finish(session, actor.user_id, size, recovered=False)
    return _settled(session)


def _check_sha256(session: UploadSession, sha256: str) -> str | None:
    """The whole file's SHA-256 given at complete (hex, lowercase): the value to store with the
    session's next write when the open declared none (``None`` when it declared this one).

    Raises
    ------
    InvalidInput
        ``CHECKSUM_MISMATCH``: it differs from the one declared when the upload was opened.
    """
    if session.sha256 is None:
        return sha256
    if session.sha256.lower() != sha256:
        raise InvalidInput(
            "The SHA-256 given at complete differs from the one declared when the upload was opened",
            code="CHECKSUM_MISMATCH",
            details={"declared": session.sha256, "given": sha256},
        )
    return None


def _complete_in_s3(session: UploadSession, parts: list[multipart.StoredPart]) -> bool:
    """CompleteMultipartUpload; if S3 refuses the list, reopen the session and raise 400.

    Returns
    -------
    bool
        True when this call made the object from ``parts``; False when S3 no longer knew the upload
        (a concurrent complete made the object first, or the upload was aborted or lost): the
        caller then looks for the object (HeadObject).
    """
    try:
        return multipart.complete(
            session.bucket, session.key, session.s3_upload_id, _complete_parts(session, parts)
        )
    except multipart.PartsRejected as exc:  # a part changed between ListParts and now
        service._transition(
            session, to=UploadStatus.OPEN, allowed_from=(UploadStatus.COMPLETING,), release_quota=False
        )
        raise InvalidInput(
            "Storage refused the part list (a part changed meanwhile); nothing was published. "
            "Check the upload's parts and complete again",
            code="UPLOAD_PARTS_INVALID",
            details={"storageCode": exc.code},
        ) from exc


def _complete_parts(session: UploadSession, parts: list[multipart.StoredPart]) -> list[dict[str, Any]]:
    """CompleteMultipartUpload's part list: number, ETag and the checksum declared at the open."""
    completed = []
    for part in parts:
        entry: dict[str, Any] = {"PartNumber": part.part_number, "ETag": f'"{part.etag}"'}
        checksum = service.part_checksum(session, part.part_number)
        if checksum is not None:
            entry[checksum[0].field] = checksum[1]
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
