"""REST routes of the render domain (function ``renders-api``).

Reads ask for ``render:read`` (every role), writes for ``render:write`` (ADMIN, PRODUCER, DIRECTOR,
ARTIST). The studio is always the token's: another studio's job or asset answers 404 (``?assetId=``
of the list included). A watermarked render plays and downloads only for the member who requested it
(its watermark names them) and for an ADMIN: 403 ``WATERMARKED_FOR_ANOTHER_MEMBER`` for anyone else.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from keyframe.http.auth import authorize, header
from keyframe.http.contract import answers
from keyframe.http.params import AssetId, RenderJobId, query_id
from keyframe.identity.permissions import Permission
from keyframe.renders.models import RenderStatus
from keyframe.renders.schemas import (
    MAX_LIST_LIMIT,
    PlaybackLink,
    RenderChunkPage,
    RenderJob,
    RenderJobPage,
    RenderRequest,
)

router = Router()

_OWN_ONLY = (
    "Its requester, a PRODUCER or an ADMIN only: anyone else answers 403 `NOT_RENDER_REQUESTER` "
    "(`render:control-any`)."
)


@router.post(
    "/assets/<assetId>/renders",
    status_code=202,
    tags=["renders"],
    summary="Request a render (hls, review-mp4, filmstrip; scene-frames, scene-review of a scene) of a "
    "version; Idempotency-Key supported",
    operation_id="createRender",
    openapi_extensions=answers(
        "ASSET_NOT_FOUND",
        "DEPENDENCIES_TRUNCATED",
        "DEPENDENCY_NOT_READY",
        "IDEMPOTENCY_IN_PROGRESS",
        "IDEMPOTENCY_KEY_REUSED",
        "INVALID_IDEMPOTENCY_KEY",
        "INVALID_FRAME_RANGE",
        "INVALID_INPUT",
        "INVALID_TIMECODE",
        "CONCURRENT_RENDERS_QUOTA_EXCEEDED",
        "NO_CURRENT_VERSION",
        "RENDER_MINUTES_QUOTA_EXCEEDED",
        "RENDER_NOT_FOUND",
        "RENDER_VCPUS_QUOTA_EXCEEDED",
        "SOURCE_NOT_SCENE",
        "SOURCE_NOT_VIDEO",
        "TOO_FEW_FRAMES",
        "TOO_MANY_CHUNKS",
        "TOO_MANY_FRAMES",
        "TRIM_OUT_OF_RANGE",
        "UNKNOWN_PRESET",
        "UNSUPPORTED_OPTION",
        "VERSION_NOT_FOUND",
        "VERSION_NOT_READY",
        sends=("Location", "Idempotency-Replayed"),
        reads=("Idempotency-Key",),
    ),
)
def request_render(assetId: AssetId, body: RenderRequest) -> Response[RenderJob]:
    """202 with the QUEUED job. 400 preset/option/trim; 404 asset or version; 409 version not READY or
    Idempotency-Key reused with another body; 429 over the studio's concurrent renders (Retry-After).

    ``priority``: HIGH runs from the high-priority Batch queue; NORMAL and LOW share the standard
    queue and are scheduled the same today. ``options.watermark`` (review-mp4): a visible watermark
    naming the requester, who alone (with ADMINs) may then download the copy."""
    from keyframe.renders import idempotency, requests, service

    principal = authorize(Permission.RENDER_WRITE)
    key = header(idempotency.HEADER)
    replayed = False
    if key is None:
        job = requests.request_render(principal, assetId, body)
    else:
        job_id, replayed = idempotency.run_once(
            studio_id=principal.studio_id,
            user_id=principal.user_id,
            key=idempotency.check_key(key),
            body={"assetId": assetId, **body.model_dump(mode="json", by_alias=True, exclude_none=True)},
            create=lambda: requests.request_render(principal, assetId, body).render_job_id,
            lambda_context=getattr(router, "lambda_context", None),
        )
        job = service.get_job(principal.studio_id, job_id)
    headers = {"Location": f"/renders/{job.render_job_id}"}
    if key is not None:
        headers["Idempotency-Replayed"] = "true" if replayed else "false"
    return Response(status_code=202, content_type="application/json", body=job, headers=headers)


@router.get(
    "/renders",
    tags=["renders"],
    summary="List render jobs, newest first (filter by asset and status)",
    operation_id="listRenders",
    openapi_extensions=answers(
        "ASSET_NOT_FOUND",
        "INVALID_CURSOR",
    ),
)
def list_renders(
    assetId: Annotated[str | None, query_id()] = None,
    status: Annotated[
        RenderStatus | None, Query(description="QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST_LIMIT)] = 25,
    cursor: Annotated[
        str | None, Query(max_length=4096, description="nextCursor of the previous page")
    ] = None,
) -> RenderJobPage:
    """200 with ``items`` and ``nextCursor``; 400 for a cursor of another query or studio; 404 when
    ``assetId`` is not an asset of your studio."""
    from keyframe.renders import service

    principal = authorize(Permission.RENDER_READ)
    return service.list_jobs(principal.studio_id, asset_id=assetId, status=status, limit=limit, cursor=cursor)


@router.get(
    "/renders/<renderJobId>",
    tags=["renders"],
    summary="A render job: status, progress, outputs, lineage",
    operation_id="getRender",
    openapi_extensions=answers("RENDER_NOT_FOUND"),
)
def get_render(renderJobId: RenderJobId) -> RenderJob:
    """200; 404 when the job is not in your studio."""
    from keyframe.renders import service

    principal = authorize(Permission.RENDER_READ)
    return service.get_job(principal.studio_id, renderJobId)


@router.get(
    "/renders/<renderJobId>/chunks",
    tags=["renders"],
    summary="The chunks of a scene render (Batch array children): frames, state, tries, errors",
    operation_id="listRenderChunks",
    openapi_extensions=answers("RENDER_NOT_FOUND"),
)
def list_render_chunks(renderJobId: RenderJobId) -> RenderChunkPage:
    """200 with every chunk by index (empty before the probe step ran, and for video presets); 404
    when the job is not in your studio."""
    from keyframe.renders import chunks

    principal = authorize(Permission.RENDER_READ)
    return chunks.list_chunks(principal.studio_id, renderJobId)


@router.delete(
    "/renders/<renderJobId>",
    tags=["renders"],
    summary="Cancel a queued or running render (partial outputs removed)",
    description=_OWN_ONLY,
    operation_id="cancelRender",
    openapi_extensions=answers(
        "NOT_RENDER_REQUESTER",
        "RENDER_CHANGED",
        "RENDER_FINISHED",
        "RENDER_NOT_FOUND",
    ),
)
def cancel_render(renderJobId: RenderJobId) -> RenderJob:
    """200 with the CANCELLED job; 403 ``NOT_RENDER_REQUESTER`` when someone else requested it and
    your role is not PRODUCER or ADMIN; 404; 409 when it already ended."""
    from keyframe.renders import requests

    principal = authorize(Permission.RENDER_WRITE)
    return requests.cancel(principal, renderJobId)


@router.post(
    "/renders/<renderJobId>/retry",
    status_code=202,
    tags=["renders"],
    summary="Run a FAILED or CANCELLED render again (a new attempt of the same job)",
    description=_OWN_ONLY,
    operation_id="retryRender",
    openapi_extensions=answers(
        "CONCURRENT_RENDERS_QUOTA_EXCEEDED",
        "NOT_RENDER_REQUESTER",
        "RENDER_ACTIVE",
        "RENDER_CHANGED",
        "RENDER_MINUTES_QUOTA_EXCEEDED",
        "RENDER_NOT_FOUND",
        "RENDER_SUCCEEDED",
        "RENDER_VCPUS_QUOTA_EXCEEDED",
    ),
)
def retry_render(renderJobId: RenderJobId) -> Response[RenderJob]:
    """202 with the QUEUED job (``attempts`` + 1); 403 ``NOT_RENDER_REQUESTER`` when someone else
    requested it and your role is not PRODUCER or ADMIN; 404; 409 when SUCCEEDED or still running; 429."""
    from keyframe.renders import requests

    principal = authorize(Permission.RENDER_WRITE)
    job = requests.retry(principal, renderJobId)
    return Response(status_code=202, content_type="application/json", body=job)


@router.get(
    "/renders/<renderJobId>/playback",
    tags=["renders"],
    summary="A presigned HLS master playlist (every link inside presigned) that plays without auth",
    operation_id="getRenderPlayback",
    openapi_extensions=answers(
        "NOT_PLAYABLE",
        "RENDER_NOT_FOUND",
        "RENDER_NOT_READY",
        "UNKNOWN_PRESET",
        "WATERMARKED_FOR_ANOTHER_MEMBER",
    ),
)
def play_render(renderJobId: RenderJobId) -> PlaybackLink:
    """200 ``{url, expiresAt}``; 404; 409 not SUCCEEDED or not an HLS render."""
    from keyframe.renders import playback

    principal = authorize(Permission.RENDER_READ)
    return playback.playback(principal, renderJobId)


@router.get(
    "/renders/<renderJobId>/download",
    tags=["renders"],
    summary="A presigned download (Range requests work) of a review MP4 or filmstrip; a watermarked "
    "copy only for the member who requested it (or an ADMIN)",
    operation_id="downloadRender",
    openapi_extensions=answers(
        "NOT_DOWNLOADABLE",
        "RENDER_NOT_FOUND",
        "RENDER_NOT_READY",
        "UNKNOWN_PRESET",
        "WATERMARKED_FOR_ANOTHER_MEMBER",
    ),
)
def download_render(renderJobId: RenderJobId) -> PlaybackLink:
    """200 ``{url, expiresAt}``; 403 ``WATERMARKED_FOR_ANOTHER_MEMBER`` for a watermarked copy
    requested by another member (ADMINs excepted); 404; 409 not SUCCEEDED or an HLS render."""
    from keyframe.renders import playback

    principal = authorize(Permission.RENDER_READ)
    return playback.download(principal, renderJobId)
