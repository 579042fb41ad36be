"""REST routes of the uploads domain (function ``uploads-api``).

Every route asks for ``upload:write`` (ADMIN, PRODUCER, DIRECTOR, ARTIST); completing or aborting
someone else's upload also needs ``upload:finish-any`` (PRODUCER, ADMIN; else 403 ``NOT_UPLOADER``).
The studio is always the token's, so another studio's upload id answers 404. File bytes never pass
through here: clients PUT parts to the presigned URLs these routes hand out.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from keyframe.http.auth import authorize
from keyframe.http.contract import answers
from keyframe.http.params import AssetId, path_id
from keyframe.identity.permissions import Permission, Principal
from keyframe.uploads.parts import ClaimedPart
from keyframe.uploads.schemas import (
    CompleteUploadRequest,
    CompleteUploadResponse,
    OpenUploadRequest,
    OpenUploadResponse,
    UploadStatusResponse,
)

router = Router()

_OWN_ONLY = (
    "Its uploader, a PRODUCER or an ADMIN only: anyone else answers 403 `NOT_UPLOADER` (`upload:finish-any`)."
)

UploadId = Annotated[str, path_id("the upload")]


def _actor() -> Principal:
    return authorize(Permission.UPLOAD_WRITE)


@router.post(
    "/assets/<assetId>/uploads",
    status_code=201,
    tags=["uploads"],
    summary="Open a multipart upload of a new version (presigned part URLs)",
    operation_id="openUpload",
    openapi_extensions=answers(
        "ASSET_ARCHIVED",
        "ASSET_NOT_FOUND",  # found by schemathesis: behind a call the source reading does not follow
        "FILE_TOO_LARGE",
        "INVALID_FILE_NAME",
        "INVALID_INPUT",
        "NOT_FOUND",
        "PART_CHECKSUMS_MISMATCH",
        "STORAGE_QUOTA_EXCEEDED",
        sends=("Location",),
    ),
)
def open_upload(assetId: AssetId, body: OpenUploadRequest) -> Response[OpenUploadResponse]:
    """201 with the part plan and presigned PUT URLs; 400 name/size; 404 asset; 409 archived; 413 quota."""
    from keyframe.events import publisher
    from keyframe.uploads import sessions

    # its upload:started is stored with the session and delivered by the outbox stream, as complete's
    with publisher.left_to_the_outbox():
        opened = sessions.open_upload(_actor(), assetId, body)
    return Response(
        status_code=201,
        content_type="application/json",
        body=opened,
        headers={"Location": f"/assets/{assetId}/uploads/{opened.upload_id}"},
    )


@router.get(
    "/assets/<assetId>/uploads/<uploadId>",
    tags=["uploads"],
    summary="An upload's parts: uploaded, missing, fresh URLs for the missing (resume)",
    operation_id="getUpload",
    openapi_extensions=answers(
        "NOT_FOUND",
        "UPLOAD_NOT_FOUND",
    ),
)
def get_upload(
    assetId: AssetId,
    uploadId: UploadId,
    fromPart: Annotated[int, Query(ge=1, le=10_000, description="first part to return URLs for")] = 1,
    limit: Annotated[int | None, Query(ge=1, le=2000, description="most URLs to return")] = None,
) -> UploadStatusResponse:
    """200; 404 when the upload is not this asset's in your studio."""
    from keyframe.uploads import sessions

    return sessions.get_upload(_actor().studio_id, assetId, uploadId, from_part=fromPart, limit=limit)


@router.post(
    "/assets/<assetId>/uploads/<uploadId>/complete",
    status_code=202,
    tags=["uploads"],
    summary="Complete an upload and start its processing pipeline",
    description=_OWN_ONLY,
    operation_id="completeUpload",
    openapi_extensions=answers(
        "CHECKSUM_MISMATCH",
        "NOT_FOUND",
        "NOT_UPLOADER",
        "SIZE_MISMATCH",
        "UPLOAD_ABORTED",
        "UPLOAD_NOT_FOUND",
        "UPLOAD_OBJECT_MISSING",
        "UPLOAD_PARTS_INVALID",
    ),
)
def complete_upload(
    assetId: AssetId, uploadId: UploadId, body: CompleteUploadRequest
) -> Response[CompleteUploadResponse]:
    """202 (also for a retried complete); 400 wrong parts or size, or a ``sha256`` other than the one
    declared at the open (``CHECKSUM_MISMATCH``); 403 ``NOT_UPLOADER`` when it is someone else's upload
    and your role is not PRODUCER or ADMIN; 404; 409 aborted."""
    from keyframe.events import publisher
    from keyframe.uploads import completion

    claimed = [ClaimedPart(part_number=p.part_number, etag=p.etag) for p in body.parts]
    # its events (upload:completed, the pipeline's first pipeline:update) are stored with their
    # changes and delivered by the outbox stream: the 202 does not wait on the rooms
    with publisher.left_to_the_outbox():
        completed = completion.complete_upload(_actor(), assetId, uploadId, claimed, sha256=body.sha256)
    return Response(status_code=202, content_type="application/json", body=completed)


@router.delete(
    "/assets/<assetId>/uploads/<uploadId>",
    status_code=204,
    tags=["uploads"],
    summary="Abort an open upload (its parts are dropped, its quota released)",
    description=_OWN_ONLY,
    operation_id="abortUpload",
    openapi_extensions=answers(
        "NOT_UPLOADER",
        "UPLOAD_COMPLETED",
        "UPLOAD_NOT_FOUND",
    ),
)
def abort_upload(assetId: AssetId, uploadId: UploadId) -> Response[None]:
    """204 (also when already aborted); 403 ``NOT_UPLOADER`` when it is someone else's upload and your
    role is not PRODUCER or ADMIN; 404; 409 when completed."""
    from keyframe.uploads import sessions

    sessions.abort_upload(_actor(), assetId, uploadId)
    return Response(status_code=204, content_type=None, body=None)
