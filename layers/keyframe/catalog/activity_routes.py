"""REST route of the activity log (catalog-api)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from keyframe.catalog.schemas import ActivityPage
from keyframe.http.auth import authorize
from keyframe.http.contract import answers
from keyframe.http.params import query_id
from keyframe.identity.permissions import Permission

router = Router()


@router.get(
    "/activity",
    summary="The studio's activity log, newest first",
    tags=["activity"],
    operation_id="listActivity",
    openapi_extensions=answers(
        "ASSET_NOT_FOUND",
        "INVALID_CURSOR",
        "PROJECT_NOT_FOUND",
    ),
)
def list_activity(
    projectId: Annotated[str | None, query_id()] = None,
    assetId: Annotated[str | None, query_id()] = None,
    actorId: Annotated[str | None, query_id()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    cursor: Annotated[str | None, Query(max_length=4096)] = None,
) -> ActivityPage:
    """Entries ``{id, ts, actor, action, target, details, projectId?, assetId?}``."""
    from keyframe.catalog import activity

    principal = authorize(Permission.ACTIVITY_READ)
    return activity.list_activity(
        principal.studio_id,
        project_id=projectId,
        asset_id=assetId,
        actor_id=actorId,
        limit=limit,
        cursor=cursor,
    )
