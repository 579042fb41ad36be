"""Re-driving COMPLETING sessions whose complete crashed, to where their bytes are (uploads table,
media bucket, Step Functions).

Shared helpers and the hooks tests replace (``STUCK_AFTER``) live in :mod:`keyframe.uploads.service`;
the time comes from :mod:`keyframe.clock`.
"""

from __future__ import annotations

from keyframe import clock
from keyframe.observability import logger
from keyframe.uploads import multipart, service
from keyframe.uploads.models import (
    UploadSession,
    UploadStatus,
    completing_index_pk,
)


def _stuck(session: UploadSession) -> bool:
    """True when no request has touched the COMPLETING session for :data:`service.STUCK_AFTER`."""
    return session.updated_at <= clock.iso(clock.now() - service.STUCK_AFTER)


def _redrive(session: UploadSession) -> None:
    """Carry a COMPLETING session to where its bytes are; nothing is thrown away.

    - The object exists with the declared size: start its pipeline (idempotent by upload id) and
      move to COMPLETED (``upload:completed``, on behalf of the session's creator).
    - The object exists with another size: discard it as ``complete`` would (ABORTED, SIZE_MISMATCH).
    - No object, and no request touched the session for :data:`service.STUCK_AFTER` (so no complete is
      between its COMPLETING mark and S3): if S3 still holds the parts the complete never reached
      S3 and the session is OPEN again (the client completes again); if S3 holds neither, there is
      nothing to keep: ABORTED (``OBJECT_MISSING``) and its quota released.

    Reads and writes the uploads table, the media bucket, the catalog (activity) and Step Functions.
    """
    size = multipart.object_size(session.bucket, session.key)
    if size is not None:
        if size != int(session.size):
            service._discard_wrong_size(session, size, None)
        else:
            service._finish(session, session.created_by, size, recovered=True)
        return
    if not _stuck(session):
        return
    untouched = UploadSession.updated_at == session.updated_at
    if multipart.list_parts(session.bucket, session.key, session.s3_upload_id) is not None:
        service._transition(
            session,
            to=UploadStatus.OPEN,
            allowed_from=(UploadStatus.COMPLETING,),
            release_quota=False,
            also=untouched,
        )
        return
    service._transition(
        session,
        to=UploadStatus.ABORTED,
        allowed_from=(UploadStatus.COMPLETING,),
        release_quota=True,
        changes={"failure_reason": "OBJECT_MISSING"},
        entry=service._abort_entry(session, None, "OBJECT_MISSING"),
        also=untouched,
        event=(
            "upload:aborted",
            service.event_data(session, None, status="ABORTED", reason="OBJECT_MISSING"),
        ),
    )


def redrive_stuck(studio_id: str, *, limit: int = service.REDRIVE_LIMIT) -> int:
    """Re-drive the studio's COMPLETING sessions untouched for :data:`service.STUCK_AFTER` (gsi1 Query).

    A failure on one session is logged and left for the next call; it never fails the caller.

    Returns
    -------
    int
        How many sessions left COMPLETING.
    """
    before = clock.iso(clock.now() - service.STUCK_AFTER)
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
