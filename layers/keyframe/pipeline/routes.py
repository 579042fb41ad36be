"""REST routes of the asset pipeline (function ``pipeline-api``).

- ``GET /assets/{assetId}/versions/{version}/pipeline`` (``asset:read``): the steps of the version's
  latest pipeline run;
- ``POST /assets/{assetId}/versions/{version}/reprocess`` (``upload:write``): derive the version
  again (202); the steps change live as ``pipeline:update`` events. A READY version stays READY
  while it runs and keeps its previous derived files if the rerun fails.

The studio is always the token's: another studio's asset answers 404.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from keyframe.errors import NotFound
from keyframe.http.auth import authorize
from keyframe.http.contract import answers
from keyframe.http.params import AssetId
from keyframe.identity.permissions import Permission
from keyframe.pipeline.schemas import PipelineStatus, ReprocessAccepted

router = Router()

VersionNumber = Annotated[int, Path(ge=1, description="the version number (1, 2, ...)")]


@router.get(
    "/assets/<assetId>/versions/<version>/pipeline",
    tags=["pipeline"],
    summary="The processing pipeline of a version: status, steps, error",
    operation_id="getPipeline",
    openapi_extensions=answers("NOT_FOUND"),
)
def get_pipeline(assetId: AssetId, version: VersionNumber) -> PipelineStatus:
    """200 with the latest run's steps; 404 when no pipeline made this version in your studio."""
    from keyframe.pipeline import status

    principal = authorize(Permission.ASSET_READ)
    found = status.for_version(principal.studio_id, assetId, version)
    if found is None:
        raise NotFound("No pipeline made this version", details={"assetId": assetId, "version": version})
    return PipelineStatus.model_validate(found)


@router.post(
    "/assets/<assetId>/versions/<version>/reprocess",
    status_code=202,
    tags=["pipeline"],
    summary="Derive a version again (thumbnail, proxy, waveform, metadata)",
    operation_id="reprocessVersion",
    openapi_extensions=answers(
        "CONFLICT",
        "NOT_FOUND",
        "VERSION_CHANGED",
        "VERSION_NOT_FOUND",
        "VERSION_READY",
    ),
)
def reprocess(assetId: AssetId, version: VersionNumber) -> ReprocessAccepted:
    """202 with the new run; 404 unknown version; 409 while its pipeline is still running."""
    from keyframe.pipeline import starter

    principal = authorize(Permission.UPLOAD_WRITE)
    record, started = starter.start_reprocess(principal.studio_id, assetId, version, principal.user_id)
    return ReprocessAccepted(
        status=started.status,
        upload_id=record.upload_id,
        asset_id=assetId,
        version=version,
        run=int(record.run),
        execution_arn=started.execution_arn,
        started_at=started.started_at,
    )
